import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** Issues 5 and 6 through HTTP: the unread checklist and forwarding. */
type Env = Awaited<ReturnType<typeof startStack>>;
type Room = { id: string; unread_count: number; last_read_message_id: string | null };
type Message = {
  id: string;
  room_id: string;
  sender_id: string;
  content: string;
  forwarded_from: string | null;
  forwarded_count: number;
  metadata: {
    forwarded_from?: { message_id: string; original_sender: string; original_room: string };
    forward_depth?: number;
  } | null;
};
type Counts = {
  total_unread: number;
  rooms: { room_id: string; unread_count: number; last_message_timestamp: string | null }[];
};

let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

async function group(owner: ChatClient, others: string[]) {
  return (
    await owner.http<Room>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'g',
      member_ids: others,
    })
  ).body.data;
}
async function send(c: ChatClient, roomId: string, content: string) {
  return (await c.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, { content })).body
    .data;
}
const counts = async (c: ChatClient) =>
  (await c.http<Counts>('GET', '/api/chat/unread-count')).body.data;
const roomCount = async (c: ChatClient, roomId: string) =>
  (await c.http<{ unread_count: number }>('GET', `/api/chat/unread-count?room_id=${roomId}`)).body
    .data.unread_count;

describe('unread counts', () => {
  it('counts others’ messages per room and in total, and reads them away', async () => {
    const [ann, bob] = await Promise.all([env.client('n_ann'), env.client('n_bob')]);
    const [r1, r2] = [await group(ann, ['n_bob']), await group(ann, ['n_bob'])];
    for (let i = 0; i < 3; i++) await send(ann, r1.id, `a${i}`);
    const m = await send(ann, r2.id, 'b0');
    await send(bob, r2.id, 'mine');
    await eventually(async () => {
      const c = await counts(bob);
      expect(Object.fromEntries(c.rooms.map((r) => [r.room_id, r.unread_count]))).toEqual({
        [r1.id]: 3,
        [r2.id]: 0,
      });
      expect(c.total_unread).toBe(3);
    });
    expect(await roomCount(bob, r1.id)).toBe(3);
    // Sending marked r2 read for Bob, and the sender's own messages never count.
    expect(await roomCount(ann, r1.id)).toBe(0);
    expect(m.id).toBeTruthy();

    const read = await bob.http<{ unread_count: number; read_at: string }>(
      'PUT',
      `/api/chat/rooms/${r1.id}/read-status`,
      { is_read: true },
    );
    expect(read.body.data).toMatchObject({
      room_id: r1.id,
      unread_count: 0,
      read_at: expect.any(String),
    });
    expect(await roomCount(bob, r1.id)).toBe(0);
  });

  it('reads up to a message, marks unread by hand (at least 1) and reads several rooms at once', async () => {
    const [cal, dee] = await Promise.all([env.client('n_cal'), env.client('n_dee')]);
    const [r1, r2] = [await group(cal, ['n_dee']), await group(cal, ['n_dee'])];
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await send(cal, r1.id, `m${i}`));
    await send(cal, r2.id, 'x');
    const upTo = await dee.http<{ unread_count: number; last_read_message_id: string }>(
      'PUT',
      `/api/chat/rooms/${r1.id}/read-status`,
      {
        is_read: true,
        last_read_message_id: sent[1]!.id,
      },
    );
    expect(upTo.body.data).toMatchObject({ unread_count: 2, last_read_message_id: sent[1]!.id });

    await dee.http('PUT', `/api/chat/rooms/${r1.id}/read-status`, { is_read: true });
    const unread = await dee.http<{ unread_count: number }>(
      'PUT',
      `/api/chat/rooms/${r1.id}/read-status`,
      { is_read: false },
    );
    expect(unread.body.data.unread_count).toBe(1);
    expect((await dee.http<Room>('GET', `/api/chat/rooms/${r1.id}`)).body.data.unread_count).toBe(
      1,
    );

    const batch = await dee.http<{
      rooms_updated: number;
      rooms: { room_id: string; unread_count: number }[];
    }>('PUT', '/api/chat/read-status', {
      room_ids: [r1.id, r2.id],
    });
    expect(batch.body.data.rooms_updated).toBe(2);
    expect(batch.body.data.rooms.every((r) => r.unread_count === 0)).toBe(true);
    await eventually(async () => expect((await counts(dee)).total_unread).toBe(0));
  });

  it('leaves out deleted messages and messages before a clear', async () => {
    const [eli, fay] = await Promise.all([env.client('n_eli'), env.client('n_fay')]);
    const room = await group(eli, ['n_fay']);
    const a = await send(eli, room.id, 'a');
    await send(eli, room.id, 'b');
    await eli.http('DELETE', `/api/chat/messages/${a.id}`);
    await eventually(async () => expect(await roomCount(fay, room.id)).toBe(1));
    await fay.http('DELETE', `/api/chat/rooms/${room.id}/messages`);
    expect(await roomCount(fay, room.id)).toBe(0);
  });

  it('refuses a batch over 100 rooms and a room the caller is not in', async () => {
    const gus = await env.client('n_gus');
    const ids = Array.from({ length: 101 }, (_, i) => `room${i}`);
    expect((await gus.http('PUT', '/api/chat/read-status', { room_ids: ids })).status).toBe(400);
    const [hal] = [await env.client('n_hal')];
    const theirs = await group(hal, []);
    expect((await gus.http('PUT', '/api/chat/read-status', { room_ids: [theirs.id] })).status).toBe(
      403,
    );
    expect((await gus.http('GET', `/api/chat/unread-count?room_id=${theirs.id}`)).status).toBe(403);
  });
});

describe('forwarding', () => {
  it('copies a message into each target room, atomically, keeping the first original', async () => {
    const [ivy, jan] = await Promise.all([env.client('f_ivy', 'Ivy'), env.client('f_jan', 'Jan')]);
    const source = await group(ivy, ['f_jan']);
    const [t1, t2] = [await group(jan, ['f_ivy']), await group(jan, ['f_ivy'])];
    const original = await send(ivy, source.id, 'pass it on');
    await ivy.connect();
    const res = await jan.http<{
      original_message_id: string;
      forwarded_to: string[];
      forwarded_messages: Message[];
    }>('POST', `/api/chat/messages/${original.id}/forward`, { target_room_ids: [t1.id, t2.id] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, message: 'Message forwarded successfully' });
    expect(res.body.data.forwarded_to).toEqual([t1.id, t2.id]);
    for (const copy of res.body.data.forwarded_messages) {
      expect(copy).toMatchObject({ content: 'pass it on', forwarded_from: original.id });
      const event = await ivy.waitFor(
        'new-chat-message',
        (d) => (d.message as Message).id === copy.id,
      );
      expect((event.data.message as Message).metadata?.forwarded_from).toEqual({
        message_id: original.id,
        original_sender: 'f_ivy',
        original_room: source.id,
      });
      expect((event.data.message as Message).sender_id).toBe('f_jan');
    }
    const listed = (
      await ivy.http<{ messages: Message[] }>('GET', `/api/chat/rooms/${source.id}/messages`)
    ).body.data.messages;
    expect(listed.find((m) => m.id === original.id)?.forwarded_count).toBe(2);

    // Forwarding the forward keeps pointing at the first original and counts the hop.
    const again = await ivy.http<{ forwarded_messages: Message[] }>(
      'POST',
      `/api/chat/messages/${res.body.data.forwarded_messages[0]!.id}/forward`,
      {
        target_room_ids: [source.id],
      },
    );
    const copy = again.body.data.forwarded_messages[0]!;
    expect(copy.metadata?.forwarded_from?.message_id).toBe(original.id);
    expect(copy.metadata?.forward_depth).toBe(2);
  });

  it('refuses bad targets, invisible sources and encrypted messages, and writes nothing', async () => {
    const [kit, leo] = await Promise.all([env.client('f_kit'), env.client('f_leo')]);
    const mine = await group(kit, ['f_leo']);
    const notMine = await group(leo, []);
    const original = await send(kit, mine.id, 'secret plans');
    const forward = (targets: string[], id = original.id, who = kit) =>
      who.http('POST', `/api/chat/messages/${id}/forward`, { target_room_ids: targets });

    expect((await forward([])).status).toBe(400);
    expect((await forward(Array.from({ length: 11 }, (_, i) => `r${i}`))).status).toBe(400);
    expect((await forward([mine.id, mine.id])).status).toBe(400);
    expect((await forward([mine.id, notMine.id])).status).toBe(403);
    expect((await forward([mine.id], `${mine.id}.999`)).status).toBe(404);
    const outsider = await env.client('f_out');
    expect((await forward([mine.id], original.id, outsider)).status).toBe(403);

    // A source deleted for everyone, or cleared for the caller, cannot be forwarded.
    const doomed = (
      await kit.http<Message>('POST', `/api/chat/rooms/${mine.id}/messages`, { content: 'oops' })
    ).body.data;
    await kit.http('DELETE', `/api/chat/messages/${doomed.id}`);
    expect((await forward([mine.id], doomed.id)).status).toBe(404);
    const leoRoom = await group(leo, ['f_kit']);
    const cleared = await send(leo, leoRoom.id, 'before the clear');
    await kit.http('DELETE', `/api/chat/rooms/${leoRoom.id}/messages`);
    expect((await forward([mine.id], cleared.id)).status).toBe(404);

    const encrypted = (
      await kit.http<Message>('POST', `/api/chat/rooms/${mine.id}/messages`, {
        content: '',
        is_encrypted: true,
        encryption_key_id: 'k1',
        encrypted_content: 'b64==',
      })
    ).body.data;
    const refused = await forward([mine.id], encrypted.id);
    expect(refused.status).toBe(422);

    // Nothing was written: the room still holds exactly the two messages sent.
    const listed = (
      await kit.http<{ messages: Message[] }>('GET', `/api/chat/rooms/${mine.id}/messages`)
    ).body.data.messages;
    expect(listed.map((m) => m.id)).toEqual([encrypted.id, original.id]);
    expect(listed.find((m) => m.id === original.id)?.forwarded_count).toBe(0);
  });
});
