import { randomBytes } from 'node:crypto';
import { percentile, postJson, startStackProcess } from './stack-process.ts';

/**
 * Issue 22: how long a file takes end to end on the local stack, as the app
 * does it: the upload slot, the form POST to storage, the send that names it,
 * then another member's download URL and GET of the bytes. Five runs per size
 * (1 MB and 16 MB, MB = 1,000,000 bytes); p50 and max of each step. Local
 * storage is fauxqs behind the enforcing proxy (local/storage.ts) on loopback,
 * so these are the stack's own costs, not a network's.
 */
const SIZES = [1_000_000, 16_000_000];
const RUNS = 5;

export interface TransferReport {
  bytes: number;
  runs: number;
  /** Milliseconds, p50 / max: slot, upload, send, download URL, download. */
  slot_ms: [number, number];
  upload_ms: [number, number];
  send_ms: [number, number];
  url_ms: [number, number];
  download_ms: [number, number];
  /** Every download gave back exactly the bytes uploaded. */
  bytes_match: boolean;
}

export async function measureAttachmentTransfer(): Promise<TransferReport[]> {
  const stack = await startStackProcess();
  try {
    const token = async (sub: string) =>
      (await postJson<{ token: string }>(`${stack.http}/local/token`, { sub })).token;
    const [alice, bob] = [await token('bt_alice'), await token('bt_bob')];
    const api = async <T>(bearer: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${stack.http}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as { data: T };
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json.data;
    };
    const room = (
      await api<{ id: string }>(alice, 'POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['bt_bob'],
      })
    ).id;
    const timed = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
      const started = performance.now();
      const value = await run();
      return [value, performance.now() - started];
    };
    const reports: TransferReport[] = [];
    for (const bytes of SIZES) {
      const steps = { slot: [], upload: [], send: [], url: [], download: [] } as Record<
        'slot' | 'upload' | 'send' | 'url' | 'download',
        number[]
      >;
      let match = true;
      for (let run = 0; run < RUNS; run++) {
        const file = randomBytes(bytes);
        const [slot, slotMs] = await timed(() =>
          api<{ attachment_id: string; upload: { url: string; fields: Record<string, string> } }>(
            alice,
            'POST',
            `/api/chat/rooms/${room}/attachments`,
            { content_type: 'image/jpeg', size_bytes: bytes, file_name: 'photo.jpg' },
          ),
        );
        const [, uploadMs] = await timed(async () => {
          const form = new FormData();
          for (const [k, v] of Object.entries(slot.upload.fields)) form.append(k, v);
          form.append('file', new Blob([file], { type: 'image/jpeg' }), 'photo.jpg');
          const res = await fetch(slot.upload.url, { method: 'POST', body: form });
          if (res.status >= 300) throw new Error(`upload: ${res.status} ${await res.text()}`);
        });
        const [, sendMs] = await timed(() =>
          api(alice, 'POST', `/api/chat/rooms/${room}/messages`, {
            attachment_ids: [slot.attachment_id],
          }),
        );
        const [link, urlMs] = await timed(() =>
          api<{ url: string }>(bob, 'GET', `/api/chat/attachments/${slot.attachment_id}`),
        );
        const [got, downloadMs] = await timed(async () =>
          Buffer.from(await (await fetch(link.url)).arrayBuffer()),
        );
        match &&= got.equals(file);
        steps.slot.push(slotMs);
        steps.upload.push(uploadMs);
        steps.send.push(sendMs);
        steps.url.push(urlMs);
        steps.download.push(downloadMs);
      }
      const summary = (values: number[]): [number, number] => {
        const sorted = [...values].sort((a, b) => a - b);
        const round = (n: number) => Math.round(n * 10) / 10;
        return [round(percentile(sorted, 50)), round(sorted.at(-1) ?? 0)];
      };
      reports.push({
        bytes,
        runs: RUNS,
        slot_ms: summary(steps.slot),
        upload_ms: summary(steps.upload),
        send_ms: summary(steps.send),
        url_ms: summary(steps.url),
        download_ms: summary(steps.download),
        bytes_match: match,
      });
    }
    return reports;
  } finally {
    await stack.stop();
  }
}
