import { type Channel, channel } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { attachmentObjectKey } from '#platform/attachment-layout.ts';
import {
  type Client,
  connect,
  createGroup,
  disconnectAll,
  http,
  inBatches,
  price,
  type Stack,
  sleep,
} from './costs.ts';
import type { installMeter, Units } from './meter.ts';
import { GB_BYTES, PRICES } from './prices.ts';

/**
 * Issue 22's photo message, measured end to end like the text rows of
 * costs.ts: a 1 MiB image sent into a room of 10, everyone online, and
 * downloaded by each of the 9 other members. Per photo: the upload slot
 * (HTTP), the multipart POST of the bytes to storage, the send (WebSocket,
 * HeadObject of the file), the deliveries, each member's download URL (HTTP)
 * and download of the bytes, and in the background the stream's `keep` job
 * and its consumer's PutObjectTagging.
 *
 * S3 requests and the bytes S3 sends out are observed at the local S3
 * (local/storage.ts, the proxy every request to the bucket goes through) and
 * API Gateway HTTP requests at the local HTTP gateway, through Node's
 * `http.server.request.start` diagnostics channel; everything else through
 * the meter (bench/meter.ts) and the clients' frame counts, as for text.
 */
const SIZE = 10;
const PHOTOS = 40;
const IN_FLIGHT = 4;
/** 1 MiB: 1/1024 of a billed GB. */
export const PHOTO_BYTES = 1024 * 1024;
const SEND_INTERVAL_MS = 125;
/** How long the bytes are kept, as the issue prices it. */
const STORAGE_DAYS = 30;
const DAYS_PER_MONTH = 30;
/**
 * The files bucket logs every request to the access-log bucket, kept 90 days
 * (lib/attachments.ts). Delivery is free; the log objects' storage is not. A
 * record's size is an estimate, not measured: ~500 bytes of fields plus the
 * request URI, which for a presigned URL carries the role's session token.
 */
const ACCESS_LOG_RECORD_BYTES = 1024;
const ACCESS_LOG_DAYS = 90;

type S3Operation =
  | 'PostObject'
  | 'PutObject'
  | 'PutObjectTagging'
  | 'GetObjectTagging'
  | 'DeleteObjectTagging'
  | 'HeadObject'
  | 'GetObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'ListObjects'
  | 'HeadBucket'
  | 'Multipart'
  | 'Options'
  | 'Other';

/** S3's price classes (bench/prices.ts `s3`). */
const PRICE_CLASS: Record<S3Operation, 'putCopyPostList' | 'getHead' | 'delete'> = {
  PostObject: 'putCopyPostList',
  PutObject: 'putCopyPostList',
  PutObjectTagging: 'putCopyPostList',
  ListObjects: 'putCopyPostList',
  Multipart: 'putCopyPostList',
  GetObjectTagging: 'getHead',
  HeadObject: 'getHead',
  GetObject: 'getHead',
  HeadBucket: 'getHead',
  Options: 'getHead',
  Other: 'getHead',
  DeleteObjectTagging: 'delete',
  DeleteObject: 'delete',
  DeleteObjects: 'delete',
};

/** The S3 operation of a request to a path-style bucket URL. */
function s3Operation(method: string, url: string): S3Operation {
  const [path = '/', search = ''] = url.split('?');
  const params = new Set(search.split('&').map((p) => p.split('=')[0]));
  const hasKey = /^\/[^/]+\/.+/.test(path);
  if (method === 'OPTIONS') return 'Options';
  if (params.has('uploads') || params.has('uploadId')) {
    return method === 'DELETE' ? 'DeleteObject' : 'Multipart';
  }
  if (!hasKey) {
    if (method === 'POST' && params.has('delete')) return 'DeleteObjects';
    if (method === 'POST') return 'PostObject';
    if (method === 'GET') return 'ListObjects';
    if (method === 'HEAD') return 'HeadBucket';
    return 'Other';
  }
  if (params.has('tagging')) {
    if (method === 'PUT') return 'PutObjectTagging';
    if (method === 'GET') return 'GetObjectTagging';
    if (method === 'DELETE') return 'DeleteObjectTagging';
    return 'Other';
  }
  if (method === 'PUT') return 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Other';
}

interface Observed {
  s3: Partial<Record<S3Operation, number>>;
  /**
   * Body bytes S3 sent to requests not signed with an Authorization header:
   * presigned URLs and form uploads, i.e. the app's clients on the internet.
   * The functions' own SDK calls (in the region) are not data transfer out.
   */
  s3BytesOut: number;
  apiRequests: number;
}

/**
 * Counts the requests the local S3 and the HTTP gateway receive, from Node's
 * HTTP server diagnostics channel (no change to the servers): which server is
 * told by its port.
 */
function observeServers(s3Port: number, apiPort: number) {
  const tally: Observed = { s3: {}, s3BytesOut: 0, apiRequests: 0 };
  const start = channel('http.server.request.start') as Channel;
  const onRequest = (message: unknown) => {
    const { request, response, server } = message as {
      request: IncomingMessage;
      response: ServerResponse;
      server: Server;
    };
    const port = (server.address() as AddressInfo | null)?.port;
    const url = request.url ?? '/';
    if (port === apiPort && url.startsWith('/api/')) tally.apiRequests++;
    if (port !== s3Port) return;
    const op = s3Operation(request.method ?? 'GET', url);
    tally.s3[op] = (tally.s3[op] ?? 0) + 1;
    if (request.headers.authorization) return;
    const count = (chunk: unknown, encoding?: unknown) => {
      if (typeof chunk === 'string')
        tally.s3BytesOut += Buffer.byteLength(
          chunk,
          typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
        );
      else if (chunk instanceof Uint8Array) tally.s3BytesOut += chunk.byteLength;
    };
    const write = response.write;
    const end = response.end;
    response.write = function countedWrite(this: ServerResponse, chunk: unknown, ...rest: never[]) {
      count(chunk, rest[0]);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    response.end = function countedEnd(this: ServerResponse, ...args: unknown[]) {
      if (typeof args[0] !== 'function') count(args[0], args[1]);
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof end;
  };
  start.subscribe(onRequest);
  return {
    reset() {
      tally.s3 = {};
      tally.s3BytesOut = 0;
      tally.apiRequests = 0;
    },
    read: (): Observed => structuredClone(tally),
    stop: () => start.unsubscribe(onRequest),
  };
}

const portOf = (url: string) => Number(new URL(url).port);

interface Message {
  attachments?: { id: string; size_bytes: number }[];
}

export interface PhotoRun {
  photos: number;
  members: number;
  units: Units;
  observed: Observed;
  wsIn: number;
  wsOut: number;
  /** Bytes of the frames members received (data transfer out, besides S3's). */
  wsBytesOut: number;
  deliveries: number;
  downloads: number;
  expectedDownloads: number;
  /** Bytes storage holds for a photo: the size its deliveries carry (the send's HeadObject). */
  storedBytes: number;
  /** Tags on each stored photo after the run, and whether each is tagged `sent`. */
  tagsPerPhoto: number;
  allTaggedSent: boolean;
  seconds: number;
}

/** Units of PHOTOS photo messages in one room of 10, everyone online, every photo downloaded. */
export async function measurePhoto(
  stack: Stack,
  meter: ReturnType<typeof installMeter>,
): Promise<PhotoRun> {
  const tag = 'p10';
  const clients = await inBatches(
    Array.from({ length: SIZE }, (_, i) => `${tag}_u${i}`),
    25,
    (u) => connect(stack, u),
  );
  const roomId = await createGroup(stack, clients[0]!, tag, clients.slice(1));
  const storage = stack.aws.storage;
  const observer = observeServers(portOf(storage.endpoint), portOf(stack.httpUrl));
  // Steady state, as measureRoom: sockets past the outbox's just-connected window.
  await sleep(12_000);
  const expectedDownloads = PHOTOS * (SIZE - 1);
  let deliveries = 0;
  let downloads = 0;
  const downloading: Promise<void>[] = [];
  const failures: string[] = [];
  const sizes: number[] = [];
  const sent: string[] = [];
  const confirmations = new Map<string, (ok: boolean) => void>();
  const download = async (member: Client, attachmentId: string) => {
    const got = await http(stack, member.token, 'GET', `/api/chat/attachments/${attachmentId}`);
    const res = await fetch(got.url as string);
    const bytes = (await res.arrayBuffer()).byteLength;
    if (!res.ok || bytes !== PHOTO_BYTES) throw new Error(`download ${res.status}, ${bytes} bytes`);
    downloads++;
  };
  for (const c of clients) {
    c.received = 0;
    c.receivedBytes = 0;
    c.sent = 0;
    c.pings = 0;
    c.pongs = 0;
    c.onFrame = (frame) => {
      if (frame.event === 'new-chat-message') {
        deliveries++;
        const message = frame.data.message as Message;
        for (const a of message.attachments ?? []) {
          sizes.push(a.size_bytes);
          downloading.push(download(c, a.id).catch((e: Error) => void failures.push(e.message)));
        }
      }
      if (frame.event === 'message-confirmed')
        confirmations.get(frame.data.temp_id as string)?.(true);
      if (frame.event === 'error') {
        failures.push(JSON.stringify(frame.data));
        confirmations.get(frame.data.temp_id as string)?.(false);
      }
    };
  }
  const image = new Uint8Array(PHOTO_BYTES);
  for (let i = 0; i < PHOTO_BYTES; i++) image[i] = (i * 2654435761) >>> 24;
  meter.reset();
  observer.reset();
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < PHOTOS) {
        const n = next++;
        const sender = clients[n % SIZE]!;
        const wait = (sender.nextSendAt ?? 0) - Date.now();
        sender.nextSendAt = Math.max(Date.now(), sender.nextSendAt ?? 0) + SEND_INTERVAL_MS;
        if (wait > 0) await sleep(wait);
        const slot = await http(
          stack,
          sender.token,
          'POST',
          `/api/chat/rooms/${roomId}/attachments`,
          {
            content_type: 'image/jpeg',
            size_bytes: PHOTO_BYTES,
            file_name: `photo-${n}.jpg`,
          },
        );
        const upload = slot.upload as { url: string; fields: Record<string, string> };
        const form = new FormData();
        for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
        form.append('file', new Blob([image], { type: 'image/jpeg' }), `photo-${n}.jpg`);
        const stored = await fetch(upload.url, { method: 'POST', body: form });
        await stored.arrayBuffer();
        if (!stored.ok) throw new Error(`upload refused: ${stored.status}`);
        const tempId = `${tag}-${n}`;
        const confirmed = new Promise<boolean>((ok) => confirmations.set(tempId, ok));
        sender.sent++;
        sender.socket.send(
          JSON.stringify({
            action: 'send-message',
            room_id: roomId,
            content: '',
            message_type: 'image',
            attachment_ids: [slot.attachment_id],
            temp_id: tempId,
          }),
        );
        if (await confirmed) sent.push(slot.attachment_id as string);
      }
    }),
  );
  const deadline = Date.now() + 120_000;
  while (downloads + failures.length < expectedDownloads && Date.now() < deadline) await sleep(100);
  await Promise.all(downloading);
  // The background retag: the stream's `keep` job and its consumer's PutObjectTagging.
  while ((observer.read().s3.PutObjectTagging ?? 0) < sent.length && Date.now() < deadline)
    await sleep(100);
  await sleep(2000); // the queue's deletes and anything else the sends handed on
  const units = structuredClone(meter.read());
  const observed = observer.read();
  const seconds = (Date.now() - started) / 1000;
  observer.stop();
  const wsIn = clients.reduce((n, c) => n + c.sent, 0);
  const wsOut = clients.reduce((n, c) => n + c.received, 0);
  const wsBytesOut = clients.reduce((n, c) => n + c.receivedBytes, 0);
  await disconnectAll(clients);

  // Outside the tally: what each photo is stored as, and its tags (the retag happened).
  const s3 = new S3Client({
    endpoint: storage.endpoint,
    forcePathStyle: true,
    region: stack.env.AWS_REGION,
    credentials: {
      accessKeyId: stack.env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY!,
    },
  });
  let tags = 0;
  let allTaggedSent = sent.length === PHOTOS;
  for (const id of sent) {
    const out = await s3.send(
      new GetObjectTaggingCommand({
        Bucket: storage.bucket,
        Key: attachmentObjectKey(roomId, id),
      }),
    );
    tags += out.TagSet?.length ?? 0;
    if (!out.TagSet?.some((t) => t.Value === 'sent')) allTaggedSent = false;
  }
  s3.destroy();
  if (failures.length > 0)
    console.error(`photo run: ${failures.length} failures`, failures.slice(0, 3));
  return {
    photos: sent.length,
    members: SIZE,
    units,
    observed,
    wsIn,
    wsOut,
    wsBytesOut,
    deliveries,
    downloads,
    expectedDownloads,
    storedBytes: sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0,
    tagsPerPhoto: sent.length ? tags / sent.length : 0,
    allTaggedSent,
    seconds,
  };
}

export interface PhotoLine {
  line: string;
  /** Per photo message. */
  quantity: number;
  unit: string;
  usd_per_million: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Every billed line of a photo message, per 1M photo messages. */
export function pricePhoto(r: PhotoRun): { usd_per_million: number; lines: PhotoLine[] } {
  const per = (n: number) => n / r.photos;
  const lines: PhotoLine[] = [];
  const add = (line: string, quantity: number, unit: string, usdEach: number) =>
    lines.push({ line, quantity, unit, usd_per_million: quantity * usdEach * 1e6 });

  for (const [op, count] of Object.entries(r.observed.s3) as [S3Operation, number][]) {
    const cls = PRICE_CLASS[op];
    const each =
      cls === 'putCopyPostList'
        ? PRICES.s3.putCopyPostListRequest
        : cls === 'getHead'
          ? PRICES.s3.getHeadRequest
          : PRICES.s3.deleteRequest;
    add(`S3 ${op}`, per(count), 'requests', each);
  }
  // Sizes are shown in MiB (1/1024 of a billed GB), priced per GB.
  const MIB_PER_GB = GB_BYTES / 2 ** 20;
  const months = STORAGE_DAYS / DAYS_PER_MONTH;
  add(
    `S3 storage, ${STORAGE_DAYS} days`,
    r.storedBytes / 2 ** 20,
    'MiB',
    (months * PRICES.s3.storageGbMonth) / MIB_PER_GB,
  );
  add(`S3 object tags, ${STORAGE_DAYS} days`, r.tagsPerPhoto, 'tags', months * PRICES.s3.tagMonth);
  const s3Requests = Object.values(r.observed.s3).reduce((a, b) => a + b, 0);
  add(
    `S3 access log records, ${ACCESS_LOG_DAYS} days (estimated ${ACCESS_LOG_RECORD_BYTES} B each)`,
    per(s3Requests),
    'records',
    ((ACCESS_LOG_RECORD_BYTES / GB_BYTES) * ACCESS_LOG_DAYS * PRICES.s3.storageGbMonth) /
      DAYS_PER_MONTH,
  );
  add(
    'data transfer out (S3 to members)',
    per(r.observed.s3BytesOut) / 2 ** 20,
    'MiB',
    PRICES.dataTransfer.outGb / MIB_PER_GB,
  );

  // What the text rows count, for all of the photo's requests and frames (bench/price-lines.ts).
  const priced = price(r.units, {
    wsIn: r.wsIn,
    wsOut: r.wsOut,
    httpRequests: r.observed.apiRequests,
    bytesOut: r.wsBytesOut,
  });
  for (const l of priced.lines)
    if (l.quantity > 0) add(l.line, per(l.quantity), l.unit, l.usd / l.quantity);
  return {
    usd_per_million: round(lines.reduce((n, l) => n + l.usd_per_million, 0)),
    lines: lines.map((l) => ({
      ...l,
      quantity: round(l.quantity, 4),
      usd_per_million: round(l.usd_per_million),
    })),
  };
}

/** The JSON detail of the photo run (costs --json `detail.photo`). */
export function photoDetail(r: PhotoRun, priced: ReturnType<typeof pricePhoto>) {
  const per = (n: number) => round(n / r.photos, 3);
  return {
    members: r.members,
    photos: r.photos,
    photo_bytes: PHOTO_BYTES,
    stored_bytes: r.storedBytes,
    deliveries: `${r.deliveries}/${r.photos * (r.members - 1)}`,
    downloads: `${r.downloads}/${r.expectedDownloads}`,
    tags_per_photo: r.tagsPerPhoto,
    all_tagged_sent: r.allTaggedSent,
    s3_requests_per_photo: Object.fromEntries(
      Object.entries(r.observed.s3).map(([op, n]) => [op, per(n)]),
    ),
    s3_bytes_out_per_photo: per(r.observed.s3BytesOut),
    http_requests_per_photo: per(r.observed.apiRequests),
    websocket_messages_per_photo: per(r.wsIn + r.wsOut),
    lambda: Object.fromEntries(
      Object.entries(r.units.lambda).map(([h, l]) => [
        h,
        { invocations_per_photo: per(l.invocations), avg_ms: round(l.ms / l.invocations, 1) },
      ]),
    ),
    dynamo_calls: r.units.dynamoCalls,
    lines: priced.lines,
    cloudfront_instead_usd_per_million: round(
      (r.observed.s3BytesOut / r.photos / GB_BYTES) * PRICES.dataTransfer.cloudFrontOutGb * 1e6,
    ),
    seconds: round(r.seconds, 1),
  };
}
