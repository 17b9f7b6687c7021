import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Issue 23 part 5 (CONTRACT §9, DELETE /api/chat/me): 202 and the work off the
 * request path (the account-erase queue); every socket closed; groups left with
 * an admin (a sole admin hands over); direct rooms kept for the other member,
 * history and all, with their sends refused (403 FORBIDDEN); with
 * `erase_messages=true` the user's messages blanked in place (ids, order and
 * the others' unread counts unchanged); blocks either way, keys, devices and
 * settings gone; a new token with the same `sub` an empty account.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
type Room = { id: string; members: string[]; admins: string[]; unread_count: number };
type Message = {
  id: string;
  sender_id: string;
  content: string;
  created_at: string;
  attachments: { id: string }[];
};
let env: Env;
beforeAll(async () => {
  env = await startStack({
    graceSeconds: 1,
    // The 100-room case creates its rooms and messages quickly from few users.
    rateLimits: {
      roomsCreated: '1000/min burst 1000',
      write: '100/s burst 1000',
      addedToGroup: '1000/min burst 1000',
      send: '100/s burst 1000',
      reads: '100/s burst 1000',
    },
  });
});
afterAll(async () => env?.stop());

const group = async (c: ChatClient, others: string[]) =>
  (await c.http<Room>('POST', '/api/chat/rooms', { type: 'group', name: 'g', member_ids: others }))
    .body.data.id;
const direct = async (c: ChatClient, other: string) =>
  (await c.http<Room>('POST', '/api/chat/rooms', { type: 'direct', member_ids: [other] })).body.data
    .id;
const send = async (c: ChatClient, roomId: string, content: string) => {
  const answer = await c.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, { content });
  expect(answer.status).toBe(201);
  return answer.body.data;
};
const getRoom = (c: ChatClient, roomId: string) => c.http<Room>('GET', `/api/chat/rooms/${roomId}`);
const history = async (c: ChatClient, roomId: string) =>
  (await c.http<{ messages: Message[] }>('GET', `/api/chat/rooms/${roomId}/messages?limit=100`))
    .body.data.messages;
const unread = async (c: ChatClient) =>
  (
    await c.http<{ total_unread: number; rooms: { room_id: string; unread_count: number }[] }>(
      'GET',
      '/api/chat/unread-count',
    )
  ).body.data;
const closed = (socket: WebSocket) =>
  new Promise<void>((resolve) => {
    if (socket.readyState === socket.CLOSED) resolve();
    else socket.once('close', () => resolve());
  });
const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`;

/** A file `c` uploads into the room through its slot (the contract's form upload). */
async function uploadFile(c: ChatClient, roomId: string): Promise<string> {
  const bytes = new Uint8Array([137, 80, 78, 71, 1, 2, 3, 4]);
  const slot = await c.http<{
    attachment_id: string;
    upload: { url: string; fields: Record<string, string> };
  }>('POST', `/api/chat/rooms/${roomId}/attachments`, {
    content_type: 'image/png',
    size_bytes: bytes.length,
    file_name: 'p.png',
  });
  expect(slot.status).toBe(201);
  const form = new FormData();
  for (const [k, v] of Object.entries(slot.body.data.upload.fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type: 'image/png' }), 'upload.bin');
  const res = await fetch(slot.body.data.upload.url, { method: 'POST', body: form });
  expect(res.status).toBeLessThan(300);
  return slot.body.data.attachment_id;
}

/** What a fresh token of `userId` sees: nothing of the erased account. */
async function expectEmptyAccount(userId: string) {
  const fresh = await env.client(userId);
  const rooms = await fresh.http<{ rooms: unknown[] }>('GET', '/api/chat/rooms');
  expect(rooms.body.data.rooms).toEqual([]);
  const blocks = await fresh.http<{ blocked: unknown[] }>('GET', '/api/chat/blocks');
  expect(blocks.body.data.blocked).toEqual([]);
  const keys = await fresh.http<{ keys: unknown[] }>('GET', `/api/chat/encryption/keys/${userId}`);
  expect(keys.body.data.keys ?? []).toEqual([]);
  const settings = await fresh.http<{ who_can_add_me: string }>('GET', '/api/chat/me/settings');
  expect(settings.body.data.who_can_add_me).toBe('everyone');
  expect((await unread(fresh)).total_unread).toBe(0);
}

describe('erase my account', () => {
  it('answers 202, closes every socket, leaves groups with an admin, keeps direct rooms for the other member, and a new token is an empty account', async () => {
    const [zed, zedPhone, amy, bob, cat, dan] = await Promise.all([
      env.client('e_zed'),
      env.client('e_zed'),
      env.client('e_amy'),
      env.client('e_bob'),
      env.client('e_cat'),
      env.client('e_dan'),
    ]);
    // Zed is the only admin of `owned`; a member of Amy's `joined`; in a direct room with Amy.
    const owned = await group(zed, ['e_amy', 'e_bob']);
    const joined = await group(amy, ['e_zed', 'e_bob']);
    const dm = await direct(zed, 'e_amy');
    await send(zed, owned, 'zed in owned');
    await send(amy, owned, 'amy in owned');
    const zedSaid = await send(zed, dm, 'hi amy');
    const amySaid = await send(amy, dm, 'hi zed');
    // Blocks both ways, a key, settings.
    expect((await zed.http('PUT', '/api/chat/blocks/e_cat')).status).toBe(200);
    expect((await dan.http('PUT', '/api/chat/blocks/e_zed')).status).toBe(200);
    const key = await zed.http('POST', '/api/chat/encryption/keys', {
      public_key: PUBLIC_KEY,
      device_id: 'phone',
      key_id: 'k1',
    });
    expect(key.status).toBe(200);
    expect(
      (await zed.http('PUT', '/api/chat/me/settings', { who_can_add_me: 'nobody' })).status,
    ).toBe(200);
    const sockets = [await zed.connect(), await zedPhone.connect()];
    await Promise.all([amy.connect(), bob.connect()]);

    const answer = await zed.http<{ user_id: string; erase_messages: boolean }>(
      'DELETE',
      '/api/chat/me',
    );
    expect(answer.status).toBe(202);
    expect(answer.body.data).toMatchObject({ user_id: 'e_zed', erase_messages: false });

    // Every socket closed by the server.
    await Promise.race([
      Promise.all(sockets.map(closed)),
      new Promise((_, reject) => setTimeout(() => reject(new Error('sockets still open')), 10_000)),
    ]);
    // The members hear Zed leave both groups.
    for (const roomId of [owned, joined]) {
      await amy.waitFor(
        'room-member-removed',
        (d) => d.room_id === roomId && d.user_id === 'e_zed',
      );
      await bob.waitFor(
        'room-member-removed',
        (d) => d.room_id === roomId && d.user_id === 'e_zed',
      );
    }
    // Groups: Zed gone, an admin left (the sole admin handed over to a remaining member).
    for (const roomId of [owned, joined]) {
      const room = (await getRoom(amy, roomId)).body.data;
      expect(room.members.sort()).toEqual(['e_amy', 'e_bob']);
      expect(room.admins.length).toBeGreaterThan(0);
      expect(room.admins.every((a) => room.members.includes(a))).toBe(true);
    }
    // The direct room stays for Amy with its history; her send is refused.
    const kept = await getRoom(amy, dm);
    expect(kept.status).toBe(200);
    expect(kept.body.data.members).toEqual(['e_amy']);
    expect((await history(amy, dm)).map((m) => [m.id, m.content])).toEqual([
      [amySaid.id, 'hi zed'],
      [zedSaid.id, 'hi amy'],
    ]);
    const refused = await amy.http('POST', `/api/chat/rooms/${dm}/messages`, { content: 'still?' });
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    amy.send({ action: 'send-message', room_id: dm, content: 'ws?', temp_id: 'erased-1' });
    const overWs = await amy.waitFor('error', (d) => d.temp_id === 'erased-1');
    expect(overWs.data.code).toBe('FORBIDDEN');
    const other = await group(amy, ['e_bob']);
    const source = await send(amy, other, 'forward me');
    const forwarded = await amy.http('POST', `/api/chat/messages/${source.id}/forward`, {
      target_room_ids: [dm],
    });
    expect([forwarded.status, forwarded.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    // Both sides of every block are gone.
    await eventually(async () => {
      const dans = await dan.http<{ blocked: unknown[] }>('GET', '/api/chat/blocks');
      expect(dans.body.data.blocked).toEqual([]);
    });
    await eventually(() => expectEmptyAccount('e_zed'), 15_000);
    // The new account starts a new conversation with Amy; the erased one stays closed.
    const fresh = await env.client('e_zed');
    const again = await direct(fresh, 'e_amy');
    expect(again).not.toBe(dm);
    await send(fresh, again, 'new me');
    expect((await getRoom(fresh, dm)).status).toBe(403);
    // Zed's block of Cat went with the account: Cat can open a room with the new one.
    const withCat = await cat.http('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['e_zed'],
    });
    expect(withCat.status).toBe(201);
  });

  it('with erase_messages=true blanks the user’s messages in others’ rooms, keeping ids, order and the others’ unread counts', async () => {
    const [yan, ava, ben] = await Promise.all([
      env.client('e_yan'),
      env.client('e_ava'),
      env.client('e_ben'),
    ]);
    const room = await group(ava, ['e_yan', 'e_ben']);
    const dm = await direct(ava, 'e_yan');
    const sent = [
      await send(ava, room, 'ava 1'),
      await send(yan, room, 'yan 1'),
      await send(ben, room, 'ben 1'),
      await send(yan, room, 'yan 2'),
      await send(yan, dm, 'yan in dm'),
    ];
    // A photo of Yan's: Ava downloads it before the erase, not after.
    const file = await uploadFile(yan, room);
    const photo = await yan.http<Message>('POST', `/api/chat/rooms/${room}/messages`, {
      content: 'photo',
      attachment_ids: [file],
    });
    expect(photo.status).toBe(201);
    expect((await ava.http('GET', `/api/chat/attachments/${file}`)).status).toBe(200);
    const before = {
      ava: await history(ava, room),
      avaCounts: await eventually(async () => {
        const c = await unread(ava);
        expect(c.total_unread).toBe(5);
        return c;
      }),
      benCounts: await unread(ben),
    };
    const answer = await yan.http('DELETE', '/api/chat/me?erase_messages=true');
    expect(answer.status).toBe(202);
    await eventually(async () => {
      const after = await history(ava, room);
      expect(after.filter((m) => m.sender_id === 'e_yan').map((m) => m.content)).toEqual([
        '',
        '',
        '',
      ]);
      expect((await getRoom(ava, room)).body.data.members).not.toContain('e_yan');
    }, 15_000);
    const after = await history(ava, room);
    // Same ids, same order, same times; only Yan's content is gone.
    expect(after.map((m) => [m.id, m.created_at])).toEqual(
      before.ava.map((m) => [m.id, m.created_at]),
    );
    expect(after.map((m) => m.content)).toEqual(['', '', 'ben 1', '', 'ava 1']);
    expect(after.map((m) => m.id)).toEqual(
      [...sent.slice(0, 4).map((m) => m.id), photo.body.data.id].reverse(),
    );
    // The photo message keeps its place but carries no file, which no one can download now.
    expect(after[0]!.attachments).toEqual([]);
    expect((await ava.http('GET', `/api/chat/attachments/${file}`)).status).toBe(404);
    // The direct room keeps the message, blanked, and the room list shows no text.
    const dmAfter = await history(ava, dm);
    expect(dmAfter.map((m) => [m.id, m.content])).toEqual([[sent[4]!.id, '']]);
    const list = await ava.http<{ rooms: { id: string; last_message: { content: string } }[] }>(
      'GET',
      '/api/chat/rooms',
    );
    expect(list.body.data.rooms.find((r) => r.id === dm)?.last_message.content).toBe('');
    // Unread counts of the others are exactly what they were.
    expect(await unread(ava)).toEqual(before.avaCounts);
    expect(await unread(ben)).toEqual(before.benCounts);
    // And they still read away exactly.
    await ava.http('PUT', `/api/chat/rooms/${room}/read-status`, { is_read: true });
    const read = await unread(ava);
    expect(read.rooms.find((r) => r.room_id === room)?.unread_count).toBe(0);
    expect(read.total_unread).toBe(1);
    await eventually(() => expectEmptyAccount('e_yan'), 15_000);
  });

  it('erases a user in 100 rooms within a minute', async () => {
    const [xia, amy, bob] = await Promise.all([
      env.client('e_xia'),
      env.client('e_xamy'),
      env.client('e_xbob'),
    ]);
    const peers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => env.client(`e_xpeer${i}`)),
    );
    const rooms: string[] = [];
    const directs: string[] = [];
    for (let i = 0; i < 50; i++) rooms.push(await group(xia, ['e_xamy', 'e_xbob']));
    for (const peer of peers) directs.push(await direct(peer, 'e_xia'));
    for (const roomId of [...rooms, ...directs]) await send(xia, roomId, `xia in ${roomId}`);
    for (let i = 0; i < 50; i++) await send(peers[i]!, directs[i]!, 'peer says');
    await send(amy, rooms[0]!, 'amy says');

    const started = Date.now();
    const answer = await xia.http('DELETE', '/api/chat/me?erase_messages=true');
    expect(answer.status).toBe(202);
    const fresh = await env.client('e_xia');
    // Done: no room lists Xia and nothing of the account is left.
    await eventually(
      async () => {
        const mine = await fresh.http<{ rooms: unknown[] }>('GET', '/api/chat/rooms');
        expect(mine.body.data.rooms).toEqual([]);
        const last = await getRoom(peers[49]!, directs[49]!);
        expect(last.body.data.members).toEqual(['e_xpeer49']);
        const lastGroup = await getRoom(amy, rooms[49]!);
        expect(lastGroup.body.data.members).not.toContain('e_xia');
        const blanked = await history(peers[49]!, directs[49]!);
        expect(blanked.find((m) => m.sender_id === 'e_xia')?.content).toBe('');
      },
      60_000,
      200,
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `erase of a user in 100 rooms (50 groups, 50 direct, erase_messages): ${seconds} s`,
    );
    expect(seconds).toBeLessThan(60);
    for (const roomId of rooms) {
      const room = (await getRoom(bob, roomId)).body.data;
      expect(room.members.sort()).toEqual(['e_xamy', 'e_xbob']);
      expect(room.admins.length).toBe(1);
    }
    await expectEmptyAccount('e_xia');
  }, 180_000);
});
