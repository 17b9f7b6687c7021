import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient, Frame } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Issue 21 items 6 and 7 through the local stack: a member learns nothing of
 * messages they could not see (a newcomer's, a clearer's, a direct room's
 * deleter's), a deleted direct room is gone for message deletes and typing
 * until a new message brings it back (and then a forward target again), a
 * sender cannot delete their own message once their clear marker hides it, and
 * a resend whose media lists its keys in another order is the same send.
 */
let env: Awaited<ReturnType<typeof startStack>>;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

interface Page {
  events: Frame[];
  next_since: string;
  has_more: boolean;
}

async function ok<T = Record<string, unknown>>(
  client: ChatClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await client.http<T>(method, path, body);
  if (res.status >= 300)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

const send = (c: ChatClient, roomId: string, content: string) =>
  ok<{ id: string }>(c, 'POST', `/api/chat/rooms/${roomId}/messages`, { content });
const cursor = async (c: ChatClient) => (await ok<Page>(c, 'GET', '/api/chat/sync')).next_since;

/** Every event from `since` on, page by page. */
async function syncAll(c: ChatClient, since: string): Promise<Frame[]> {
  const events: Frame[] = [];
  let next = since;
  for (;;) {
    const page = await ok<Page>(c, 'GET', `/api/chat/sync?since=${encodeURIComponent(next)}`);
    events.push(...page.events);
    if (!page.has_more) return events;
    next = page.next_since;
  }
}

/** The frames a connection got once everything posted before now has arrived (a ping's pong follows them). */
async function settled(c: ChatClient): Promise<Frame[]> {
  const pongs = c.eventsNamed('pong').length;
  c.send({ action: 'ping' });
  await eventually(async () => expect(c.eventsNamed('pong').length).toBeGreaterThan(pongs));
  await new Promise((r) => setTimeout(r, 300));
  return c.frames;
}

const deletedIn = (frames: Frame[], messageId: string) =>
  frames.filter((f) => f.event === 'message-deleted' && f.data.message_id === messageId);

describe('a newcomer (added after messages were sent)', () => {
  it('hears of no deletion of an older message, live or in sync, and cannot mark one seen', async () => {
    const [ana, ben, cid] = await Promise.all([
      env.client('v_ana', 'Ana'),
      env.client('v_ben', 'Ben'),
      env.client('v_cid', 'Cid'),
    ]);
    const room = await ok<{ id: string }>(ana, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: 'before cid',
      member_ids: ['v_ben'],
    });
    const old = await send(ana, room.id, 'before cid joined');
    const older = await send(ana, room.id, 'also before cid joined');
    await ok(ana, 'POST', `/api/chat/rooms/${room.id}/members`, { user_ids: ['v_cid'] });
    await Promise.all([ana.connect(), ben.connect(), cid.connect()]);
    const [benSince, cidSince] = await Promise.all([cursor(ben), cursor(cid)]);

    await ok(ana, 'DELETE', `/api/chat/messages/${old.id}`);
    await ben.waitFor('message-deleted', (d) => d.message_id === old.id);
    const fresh = await send(ana, room.id, 'after cid joined');
    await cid.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === fresh.id);
    expect(deletedIn(await settled(cid), old.id)).toEqual([]);

    // Sync: the member who saw it hears of the deletion, the newcomer does not.
    await eventually(async () => {
      const events = await syncAll(cid, cidSince);
      expect(events.some((e) => (e.data.message as { id?: string })?.id === fresh.id)).toBe(true);
      expect(deletedIn(events, old.id)).toEqual([]);
    });
    // (At least once: the message itself and the room's log both say so.)
    expect(deletedIn(await syncAll(ben, benSince), old.id).length).toBeGreaterThan(0);
    cid.send({ action: 'sync', since: cidSince });
    const result = await cid.waitFor('sync-result');
    expect(deletedIn(result.data.events as Frame[], old.id)).toEqual([]);

    // Seen receipts only for what the caller can see: a frame of older ids alone tells no one.
    cid.send({ action: 'mark-messages-seen', room_id: room.id, message_ids: [older.id] });
    cid.send({
      action: 'mark-messages-seen',
      room_id: room.id,
      message_ids: [older.id, fresh.id],
    });
    const seen = await ana.waitFor('messages-seen', (d) => d.room_id === room.id);
    expect(seen.data.message_ids).toEqual([fresh.id]);
    const fromCid = (await settled(ana)).filter(
      (f) =>
        f.event === 'messages-seen' && (f.data.seen_by as { user_id: string }).user_id === 'v_cid',
    );
    expect(fromCid.map((f) => f.data.message_ids)).toEqual([[fresh.id]]);
    expect(cid.eventsNamed('error')).toEqual([]);
  });
});

describe('clear for me', () => {
  it('leaves a later deletion of a cleared message out of live events and sync', async () => {
    const [dee, eli, fay] = await Promise.all([
      env.client('v_dee', 'Dee'),
      env.client('v_eli', 'Eli'),
      env.client('v_fay', 'Fay'),
    ]);
    const room = await ok<{ id: string }>(dee, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: 'clearing',
      member_ids: ['v_eli', 'v_fay'],
    });
    const cleared = await send(dee, room.id, 'eli clears this');
    await Promise.all([eli.connect(), fay.connect()]);
    const eliSince = await cursor(eli);
    await ok(eli, 'DELETE', `/api/chat/rooms/${room.id}/messages`);

    await ok(dee, 'DELETE', `/api/chat/messages/${cleared.id}`);
    await fay.waitFor('message-deleted', (d) => d.message_id === cleared.id);
    const fresh = await send(dee, room.id, 'after the clear');
    await eli.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === fresh.id);
    expect(deletedIn(await settled(eli), cleared.id)).toEqual([]);
    await eventually(async () => {
      const events = await syncAll(eli, eliSince);
      expect(events.some((e) => e.event === 'room-messages-cleared')).toBe(true);
      expect(events.some((e) => (e.data.message as { id?: string })?.id === fresh.id)).toBe(true);
      expect(deletedIn(events, cleared.id)).toEqual([]);
    });
  });
});

describe('a deleted direct room', () => {
  it('is gone for deleting a message and for typing, both ways, until a new message brings it back', async () => {
    const [gus, hal] = await Promise.all([env.client('v_gus', 'Gus'), env.client('v_hal', 'Hal')]);
    const room = await ok<{ id: string }>(gus, 'POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['v_hal'],
    });
    const halsOwn = await send(hal, room.id, 'hal wrote this');
    const gussOwn = await send(gus, room.id, 'gus wrote this');
    await Promise.all([gus.connect(), hal.connect()]);
    // Typing works before the deletion.
    gus.send({ action: 'typing', room_id: room.id, is_typing: true });
    await hal.waitFor('user-typing', (d) => d.room_id === room.id);
    const halSince = await cursor(hal);

    await ok(hal, 'DELETE', `/api/chat/rooms/${room.id}`);
    const del = await hal.http('DELETE', `/api/chat/messages/${halsOwn.id}`);
    expect({ status: del.status, code: del.body.error?.code }).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    hal.send({ action: 'typing', room_id: room.id, is_typing: true });
    const refused = await hal.waitFor('error', (d) => d.action === 'typing');
    expect(refused.data.code).toBe('NOT_FOUND');
    const typingBefore = hal.eventsNamed('user-typing').length;
    gus.send({ action: 'typing', room_id: room.id, is_typing: false });
    // Gus deleting his old message: Hal cleared it with the room, so hears nothing of it.
    await ok(gus, 'DELETE', `/api/chat/messages/${gussOwn.id}`);
    await gus.waitFor('message-deleted', (d) => d.message_id === gussOwn.id);
    const frames = await settled(hal);
    expect(hal.eventsNamed('user-typing').length).toBe(typingBefore);
    expect(gus.eventsNamed('user-typing')).toEqual([]);
    expect(deletedIn(frames, gussOwn.id)).toEqual([]);
    expect(deletedIn(await syncAll(hal, halSince), gussOwn.id)).toEqual([]);

    // A new message from Gus brings the room back for Hal: typing works again, both ways.
    const back = await send(gus, room.id, 'are you there?');
    await hal.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === back.id);
    hal.send({ action: 'typing', room_id: room.id, is_typing: true });
    await gus.waitFor('user-typing', (d) => d.room_id === room.id && d.user_id === 'v_hal');
    gus.send({ action: 'typing', room_id: room.id, is_typing: true });
    await hal.waitFor(
      'user-typing',
      (d) => d.room_id === room.id && d.user_id === 'v_gus' && d.is_typing === true,
    );
    expect(hal.eventsNamed('error').filter((f) => f.data.action === 'typing')).toHaveLength(1);
  });
});

interface Listed {
  id: string;
  content: string;
  is_deleted: boolean;
  forwarded_from: string | null;
  forwarded_count: number;
}
const listed = async (c: ChatClient, roomId: string) =>
  (await ok<{ messages: Listed[] }>(c, 'GET', `/api/chat/rooms/${roomId}/messages?limit=100`))
    .messages;
const notFound = (res: { status: number; body: { error?: { code?: string } } }) =>
  expect({ status: res.status, code: res.body.error?.code }).toEqual({
    status: 404,
    code: 'NOT_FOUND',
  });

describe('a direct room that came back', () => {
  it('is a forward target again once a new message brings it back', async () => {
    const [jo, kim] = await Promise.all([env.client('v_jo', 'Jo'), env.client('v_kim', 'Kim')]);
    const notes = await ok<{ id: string }>(jo, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: 'jo alone',
      member_ids: [],
    });
    const source = await send(jo, notes.id, 'pass it on');
    const direct = await ok<{ id: string }>(jo, 'POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['v_kim'],
    });
    const before = await send(kim, direct.id, 'before jo deleted the chat');
    await kim.connect();
    const forward = () =>
      jo.http<{ forwarded_to: string[]; forwarded_messages: { id: string }[] }>(
        'POST',
        `/api/chat/messages/${source.id}/forward`,
        { target_room_ids: [direct.id] },
      );

    await ok(jo, 'DELETE', `/api/chat/rooms/${direct.id}`);
    notFound(await forward());
    expect((await listed(kim, direct.id)).map((m) => m.id)).toEqual([before.id]);

    // Kim's new message brings the room back for Jo (CONTRACT §5 note 1): listed, readable,
    // and a forward target as for sending.
    const back = await send(kim, direct.id, 'are you there?');
    const rooms = await ok<{ rooms: { id: string }[] }>(jo, 'GET', '/api/chat/rooms');
    expect(rooms.rooms.map((r) => r.id)).toContain(direct.id);
    const res = await forward();
    expect(res.status).toBe(200);
    expect(res.body.data.forwarded_to).toEqual([direct.id]);
    const copy = res.body.data.forwarded_messages[0]!;
    const heard = await kim.waitFor(
      'new-chat-message',
      (d) => (d.message as { id: string }).id === copy.id,
    );
    expect((heard.data.message as Listed).forwarded_from).toBe(source.id);
    expect((await listed(jo, direct.id)).map((m) => m.id)).toEqual([copy.id, back.id]);
    expect((await listed(jo, notes.id))[0]).toMatchObject({ id: source.id, forwarded_count: 1 });
  });
});

describe("deleting one's own message that a clear marker hides", () => {
  it('is 404 after clear for me, and nothing changes for the others', async () => {
    const [lea, max] = await Promise.all([env.client('v_lea', 'Lea'), env.client('v_max', 'Max')]);
    const room = await ok<{ id: string }>(lea, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: 'lea clears',
      member_ids: ['v_max'],
    });
    const mine = await send(lea, room.id, 'lea wrote this, then cleared');
    await ok(lea, 'DELETE', `/api/chat/rooms/${room.id}/messages`);
    await max.connect();

    notFound(await lea.http('DELETE', `/api/chat/messages/${mine.id}`));
    // As forwarding and listing have it.
    notFound(
      await lea.http('POST', `/api/chat/messages/${mine.id}/forward`, {
        target_room_ids: [room.id],
      }),
    );
    expect(await listed(lea, room.id)).toEqual([]);
    const marker = await send(lea, room.id, 'after the clear');
    await max.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === marker.id);
    expect(deletedIn(await settled(max), mine.id)).toEqual([]);
    expect(await listed(max, room.id)).toMatchObject([
      { id: marker.id },
      { id: mine.id, content: 'lea wrote this, then cleared', is_deleted: false },
    ]);
  });

  it('is 404 in a direct room that came back after the sender deleted it; newer ones still delete', async () => {
    const [ned, oli] = await Promise.all([env.client('v_ned', 'Ned'), env.client('v_oli', 'Oli')]);
    const direct = await ok<{ id: string }>(ned, 'POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['v_oli'],
    });
    const mine = await send(ned, direct.id, 'ned wrote this, then deleted the chat');
    await ok(ned, 'DELETE', `/api/chat/rooms/${direct.id}`);
    const back = await send(oli, direct.id, 'the chat is back');
    await oli.connect();

    notFound(await ned.http('DELETE', `/api/chat/messages/${mine.id}`));
    expect((await listed(ned, direct.id)).map((m) => m.id)).toEqual([back.id]);
    const newer = await send(ned, direct.id, 'ned, after it came back');
    await oli.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === newer.id);
    expect(deletedIn(await settled(oli), mine.id)).toEqual([]);
    expect(await listed(oli, direct.id)).toMatchObject([
      { id: newer.id },
      { id: back.id },
      { id: mine.id, is_deleted: false },
    ]);

    // The predicate hides only what the marker covers.
    await ok(ned, 'DELETE', `/api/chat/messages/${newer.id}`);
    await oli.waitFor('message-deleted', (d) => d.message_id === newer.id);
  });
});

describe('a resend with the same temp_id', () => {
  it('is the same send when media lists its keys in another order, and 409 when media differs', async () => {
    const ivy = await env.client('v_ivy', 'Ivy');
    const room = await ok<{ id: string }>(ivy, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: 'media',
      member_ids: [],
    });
    const path = `/api/chat/rooms/${room.id}/messages`;
    const body = (media: unknown) => ({ content: 'look', temp_id: 'media-1', media });
    const first = await ivy.http<{ id: string }>(
      'POST',
      path,
      body({ width: 640, height: 480, thumb: { url: 'https://t.example/1', size: 10 } }),
    );
    expect(first.status).toBe(201);
    const again = await ivy.http<{ id: string }>(
      'POST',
      path,
      body({ thumb: { size: 10, url: 'https://t.example/1' }, height: 480, width: 640 }),
    );
    expect({ status: again.status, id: again.body.data.id }).toEqual({
      status: 200,
      id: first.body.data.id,
    });
    const other = await ivy.http('POST', path, body({ width: 641, height: 480 }));
    expect({ status: other.status, code: other.body.error?.code }).toEqual({
      status: 409,
      code: 'CONFLICT',
    });
  });
});
