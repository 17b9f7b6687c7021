import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Issue 22 end to end (CONTRACT §8): a real multipart upload to the local S3
 * the slot names, a send that carries the file, the other member downloading
 * the same bytes through the signed URL, and every way a file stops being
 * available.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
interface Slot {
  attachment_id: string;
  upload: { url: string; fields: Record<string, string> };
  expires_at: string;
}
interface Attachment {
  id: string;
  content_type: string;
  size_bytes: number;
  file_name: string | null;
  is_encrypted: boolean;
}
interface Message {
  id: string;
  room_id: string;
  content: string;
  attachments: Attachment[];
}
interface Download {
  url: string;
  expires_at: string;
  content_type: string;
  size_bytes: number;
  file_name: string | null;
}

let env: Env;
let ann: ChatClient;
let bob: ChatClient;
let eve: ChatClient;
let room: string;

beforeAll(async () => {
  env = await startStack();
  [ann, bob, eve] = await Promise.all([
    env.client('f_ann'),
    env.client('f_bob'),
    env.client('f_eve'),
  ]);
  room = (
    await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'files',
      member_ids: ['f_bob'],
    })
  ).body.data.id;
});
afterAll(async () => env?.stop());

async function slot(
  client: ChatClient,
  roomId: string,
  body: Record<string, unknown>,
): Promise<Slot> {
  const res = await client.http<Slot>('POST', `/api/chat/rooms/${roomId}/attachments`, body);
  expect(res.status).toBe(201);
  return res.body.data;
}

/** The browser form upload the contract describes: every field, then `file`. */
async function upload(s: Slot, bytes: Uint8Array, type: string) {
  const form = new FormData();
  for (const [k, v] of Object.entries(s.upload.fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type }), 'upload.bin');
  return fetch(s.upload.url, { method: 'POST', body: form });
}

async function uploaded(
  client: ChatClient,
  bytes: Uint8Array,
  type = 'image/png',
  name = 'p.png',
  encrypted = false,
) {
  const s = await slot(client, room, {
    content_type: type,
    size_bytes: bytes.length,
    file_name: name,
    is_encrypted: encrypted,
  });
  const res = await upload(s, bytes, type);
  expect(res.status).toBeLessThan(300);
  return s.attachment_id;
}

const send = (client: ChatClient, roomId: string, body: Record<string, unknown>) =>
  client.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, body);

const download = (client: ChatClient, id: string) =>
  client.http<Download>('GET', `/api/chat/attachments/${id}`);

describe('attachments', () => {
  it('uploads, sends, and lets the other member download the same bytes', async () => {
    const bytes = randomBytes(1_000_000);
    const id = await uploaded(ann, bytes, 'image/png', 'Ünïcode photo.png');
    const sent = await send(ann, room, { content: '', attachment_ids: [id] });
    expect(sent.status).toBe(201);
    expect(sent.body.data.attachments).toEqual([
      expect.objectContaining({
        id,
        content_type: 'image/png',
        size_bytes: 1_000_000,
        file_name: 'Ünïcode photo.png',
        is_encrypted: false,
      }),
    ]);

    const got = await download(bob, id);
    expect(got.status).toBe(200);
    expect(got.body.data).toMatchObject({ content_type: 'image/png', size_bytes: 1_000_000 });
    const expiresIn = Date.parse(got.body.data.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60 * 1000);
    const file = await fetch(got.body.data.url);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(bytes)).toBe(true);
    expect(file.headers.get('content-disposition')).toContain(
      `filename*=UTF-8''${encodeURIComponent('Ünïcode photo.png')}`,
    );

    // The message list carries the same attachment.
    const page = await bob.http<{ messages: Message[] }>('GET', `/api/chat/rooms/${room}/messages`);
    expect(page.body.data.messages.find((m) => m.id === sent.body.data.id)?.attachments).toEqual(
      sent.body.data.attachments,
    );
  });

  it('answers 404 to a stranger, and to everyone else before the file is sent', async () => {
    const id = await uploaded(ann, randomBytes(10));
    // Unsent: the uploader may fetch it back, nobody else.
    expect((await download(ann, id)).status).toBe(200);
    expect((await download(bob, id)).status).toBe(404);
    await send(ann, room, { attachment_ids: [id] });
    expect((await download(bob, id)).status).toBe(200);
    const stranger = await download(eve, id);
    expect(stranger.status).toBe(404);
    expect(stranger.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect((await download(eve, '01JZZZZZZZZZZZZZZZZZZZZZZZ')).status).toBe(404);
  });

  it('has storage refuse an upload over the declared size, and the send then 409', async () => {
    const s = await slot(ann, room, { content_type: 'image/png', size_bytes: 100 });
    const res = await upload(s, randomBytes(101), 'image/png');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('EntityTooLarge');
    const sent = await send(ann, room, { content: 'x', attachment_ids: [s.attachment_id] });
    expect(sent.status).toBe(409);
    expect(sent.body.error?.message).toContain(s.attachment_id);
  });

  it('has storage refuse another content type than the slot declared', async () => {
    const s = await slot(ann, room, { content_type: 'image/png', size_bytes: 10 });
    const form = new FormData();
    for (const [k, v] of Object.entries(s.upload.fields))
      form.append(k, k === 'Content-Type' ? 'text/html' : v);
    form.append('file', new Blob([randomBytes(10)]), 'x');
    const res = await fetch(s.upload.url, { method: 'POST', body: form });
    expect(res.status).toBe(403);
  });

  it('refuses unknown, foreign and reused ids with 409 naming the id, and stores nothing', async () => {
    const before = await bob.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${room}/messages?limit=100`,
    );
    const unknown = await send(ann, room, {
      content: 'x',
      attachment_ids: ['01JUNKNOWNUNKNOWNUNKNOWN00'],
    });
    expect(unknown.status).toBe(409);
    expect(unknown.body.error?.message).toContain('01JUNKNOWNUNKNOWNUNKNOWN00');

    const bobs = await uploaded(bob, randomBytes(10));
    const foreign = await send(ann, room, { content: 'x', attachment_ids: [bobs] });
    expect(foreign.status).toBe(409);
    expect(foreign.body.error?.message).toContain(bobs);

    const once = await uploaded(ann, randomBytes(10));
    expect((await send(ann, room, { attachment_ids: [once] })).status).toBe(201);
    const again = await send(ann, room, { content: 'again', attachment_ids: [once] });
    expect(again.status).toBe(409);
    expect(again.body.error?.message).toContain(once);

    const after = await bob.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${room}/messages?limit=100`,
    );
    const contents = after.body.data.messages.map((m) => m.content);
    expect(contents).not.toContain('again');
    expect(contents.filter((c) => c === 'x')).toEqual([]);
    // Exactly one new message: the one that used `once`.
    expect(after.body.data.messages.length - before.body.data.messages.length).toBe(1);
  });

  it('confirms a resend of the same temp_id again, and lets one of two racing sends have a file', async () => {
    const id = await uploaded(ann, randomBytes(12));
    const first = await send(ann, room, { temp_id: 'dup-1', attachment_ids: [id] });
    const again = await send(ann, room, { temp_id: 'dup-1', attachment_ids: [id] });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(again.body.data.attachments).toEqual(first.body.data.attachments);

    const raced = await uploaded(ann, randomBytes(12));
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        send(ann, room, { content: `race ${i}`, temp_id: `race-${i}`, attachment_ids: [raced] }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409]);
    const page = await bob.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${room}/messages?limit=20`,
    );
    const carrying = page.body.data.messages.filter((m) =>
      m.attachments.some((a) => a.id === raced),
    );
    expect(carrying).toHaveLength(1);
    expect(page.body.data.messages.filter((m) => m.content.startsWith('race '))).toHaveLength(1);
  });

  it('refuses an unlisted type with 400 naming content_type, and an oversized file with 413', async () => {
    const html = await ann.http('POST', `/api/chat/rooms/${room}/attachments`, {
      content_type: 'text/html',
      size_bytes: 10,
    });
    expect(html.status).toBe(400);
    expect(JSON.stringify(html.body)).toContain('content_type');
    const big = await ann.http('POST', `/api/chat/rooms/${room}/attachments`, {
      content_type: 'image/jpeg',
      size_bytes: 16_000_001,
    });
    expect(big.status).toBe(413);
    const stranger = await eve.http('POST', `/api/chat/rooms/${room}/attachments`, {
      content_type: 'image/jpeg',
      size_bytes: 10,
    });
    expect(stranger.status).toBe(403);
  });

  it('takes only encrypted attachments on an encrypted message, and they must be octet-stream', async () => {
    const typed = await ann.http('POST', `/api/chat/rooms/${room}/attachments`, {
      content_type: 'image/png',
      size_bytes: 10,
      is_encrypted: true,
    });
    expect(typed.status).toBe(400);
    const plain = await uploaded(ann, randomBytes(10));
    const mixed = await send(ann, room, {
      is_encrypted: true,
      encryption_key_id: 'k1',
      encrypted_content: 'Y2lwaGVy',
      attachment_ids: [plain],
    });
    expect(mixed.status).toBe(400);
    const sealed = await uploaded(ann, randomBytes(10), 'application/octet-stream', 'sealed', true);
    const ok = await send(ann, room, {
      is_encrypted: true,
      encryption_key_id: 'k1',
      encrypted_content: 'Y2lwaGVy',
      attachment_ids: [sealed],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.data.attachments[0]).toMatchObject({
      is_encrypted: true,
      content_type: 'application/octet-stream',
    });
  });

  it('gives forwarded copies the same files, downloadable in the target room', async () => {
    const other = (
      await bob.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'fwd',
        member_ids: ['f_eve'],
      })
    ).body.data.id;
    const id = await uploaded(ann, randomBytes(20));
    const sent = await send(ann, room, { content: 'look', attachment_ids: [id] });
    const fwd = await bob.http('POST', `/api/chat/messages/${sent.body.data.id}/forward`, {
      target_room_ids: [other],
    });
    expect(fwd.status).toBe(200);
    // Eve is not in the first room, but sees the copy in the second.
    expect((await download(eve, id)).status).toBe(200);
    const copies = await eve.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${other}/messages`,
    );
    expect(copies.body.data.messages[0]?.attachments.map((a) => a.id)).toEqual([id]);
    // Deleting the original leaves the copy's file available.
    expect((await ann.http('DELETE', `/api/chat/messages/${sent.body.data.id}`)).status).toBe(200);
    expect((await download(bob, id)).status).toBe(200);
    expect((await download(eve, id)).status).toBe(200);
  });

  it('answers 404 at once after a delete for everyone, and deletes the bytes', async () => {
    const id = await uploaded(ann, randomBytes(30));
    const sent = await send(ann, room, { attachment_ids: [id] });
    const url = (await download(bob, id)).body.data.url;
    expect((await ann.http('DELETE', `/api/chat/messages/${sent.body.data.id}`)).status).toBe(200);
    expect((await download(bob, id)).status).toBe(404);
    expect((await download(ann, id)).status).toBe(404);
    // The stream releases the file and the attachments queue deletes its bytes.
    await eventually(async () => {
      // 404 from the local S3; on AWS 403, since no role may list the bucket.
      expect([403, 404]).toContain((await fetch(url)).status);
    }, 15_000);
  });

  it('deletes the bytes of a removed room’s files (its last member left)', async () => {
    const gone = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'short-lived',
        member_ids: ['f_bob'],
      })
    ).body.data.id;
    const s = await slot(ann, gone, { content_type: 'image/png', size_bytes: 8 });
    expect((await upload(s, randomBytes(8), 'image/png')).status).toBe(204);
    expect((await send(ann, gone, { attachment_ids: [s.attachment_id] })).status).toBe(201);
    const url = (await download(bob, s.attachment_id)).body.data.url;
    expect((await fetch(url)).status).toBe(200);
    await bob.http('DELETE', `/api/chat/rooms/${gone}`);
    await ann.http('DELETE', `/api/chat/rooms/${gone}`);
    expect((await download(ann, s.attachment_id)).status).toBe(404);
    // The purge removes the message; the stream releases the file; the queue deletes it.
    await eventually(async () => {
      expect([403, 404]).toContain((await fetch(url)).status);
    }, 20_000);
  });

  it('answers 404 at once after a clear for everyone, but not after a clear for one', async () => {
    const id = await uploaded(ann, randomBytes(30));
    await send(ann, room, { attachment_ids: [id] });
    await bob.http('DELETE', `/api/chat/rooms/${room}/messages`);
    expect((await download(bob, id)).status).toBe(404);
    expect((await download(ann, id)).status).toBe(200);
    await ann.http('DELETE', `/api/chat/rooms/${room}/messages?for_everyone=true`);
    expect((await download(ann, id)).status).toBe(404);
  });

  it('takes a message of files alone, and counts 1–10 distinct ids', async () => {
    const eleven = Array.from(
      { length: 11 },
      (_, i) => `01JAAAAAAAAAAAAAAAAAAAAA${String(i).padStart(2, '0')}`,
    );
    expect((await send(ann, room, { attachment_ids: eleven })).status).toBe(400);
    const dup = await uploaded(ann, randomBytes(5));
    const twice = await send(ann, room, { attachment_ids: [dup, dup] });
    expect(twice.status).toBe(400);
    expect(JSON.stringify(twice.body)).toContain('attachment_ids');
    expect((await send(ann, room, { attachment_ids: [] })).status).toBe(400);
  });

  it('confirms a WebSocket send with its attachments, and delivers it live', async () => {
    await Promise.all([ann.connect(), bob.connect()]);
    const id = await uploaded(ann, randomBytes(40), 'audio/mpeg', 'v.mp3');
    ann.send({ action: 'send-message', room_id: room, temp_id: 't-file', attachment_ids: [id] });
    const confirmed = await ann.waitFor('message-confirmed', (d) => d.temp_id === 't-file');
    const stored = await ann.http<Message>('GET', `/api/chat/rooms/${room}/messages?limit=1`);
    expect(confirmed.data.message_id).toBe(
      (stored.body.data as unknown as { messages: Message[] }).messages[0]?.id,
    );
    const live = await bob.waitFor(
      'new-chat-message',
      (d) => (d.message as Message).attachments?.[0]?.id === id,
    );
    expect((live.data.message as Message).attachments[0]).toMatchObject({
      content_type: 'audio/mpeg',
      size_bytes: 40,
    });
  });
});
