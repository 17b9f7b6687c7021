import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Issue 23 part 1 (CONTRACT §9, "While A blocks B"): sends both ways, new
 * direct rooms, adding the blocker, presence and typing withheld both ways,
 * groups otherwise unaffected, and the block list synced to other devices.
 * Absence is shown against a positive marker: a frame that must arrive after
 * the withheld one would have.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack({ graceSeconds: 1 });
});
afterAll(async () => env?.stop());

const rooms = (c: ChatClient, body: Record<string, unknown>) =>
  c.http<{ id: string }>('POST', '/api/chat/rooms', body);
const send = (c: ChatClient, roomId: string, content: string) =>
  c.http<{ id: string }>('POST', `/api/chat/rooms/${roomId}/messages`, { content });
const code = (answer: { status: number; body: { error?: { code: string } } }) => [
  answer.status,
  answer.body.error?.code,
];

describe('blocks', () => {
  it('blocks idempotently, lists, refuses self, and tells the other devices', async () => {
    const [ann, annPhone] = await Promise.all([env.client('b_ann'), env.client('b_ann')]);
    await annPhone.connect();
    const first = await ann.http<{ user_id: string; blocked_at: string }>(
      'PUT',
      '/api/chat/blocks/b_bob',
    );
    expect(first.status).toBe(200);
    const again = await ann.http<{ blocked_at: string }>('PUT', '/api/chat/blocks/b_bob');
    expect(again.body.data.blocked_at).toBe(first.body.data.blocked_at);
    const list = await ann.http<{ blocked: { user_id: string }[] }>('GET', '/api/chat/blocks');
    expect(list.body.data.blocked.map((b) => b.user_id)).toEqual(['b_bob']);
    const synced = await annPhone.waitFor('user-blocked', (d) => d.user_id === 'b_bob');
    expect(synced.data.blocked_at).toBe(first.body.data.blocked_at);
    expect(code(await ann.http('PUT', '/api/chat/blocks/b_ann'))).toEqual([
      400,
      'VALIDATION_ERROR',
    ]);
    expect((await ann.http('DELETE', '/api/chat/blocks/b_bob')).status).toBe(200);
    expect((await ann.http('DELETE', '/api/chat/blocks/b_bob')).status).toBe(200);
    await annPhone.waitFor('user-unblocked', (d) => d.user_id === 'b_bob');
    const empty = await ann.http<{ blocked: unknown[] }>('GET', '/api/chat/blocks');
    expect(empty.body.data.blocked).toEqual([]);
    // Sync replays both to a device that was away.
    const page = await ann.http<{ events: { event: string }[] }>('GET', '/api/chat/sync');
    expect(page.status).toBe(200);
  });

  it('stops sends in their direct room both ways, over HTTP and WebSocket, until unblocked', async () => {
    const [cat, dan] = await Promise.all([env.client('b_cat'), env.client('b_dan')]);
    const room = (await rooms(cat, { type: 'direct', member_ids: ['b_dan'] })).body.data.id;
    expect((await send(dan, room, 'before')).status).toBe(201);
    expect((await cat.http('PUT', '/api/chat/blocks/b_dan')).status).toBe(200);
    expect(code(await send(dan, room, 'blocked?'))).toEqual([403, 'BLOCKED']);
    expect(code(await send(cat, room, 'blocked too?'))).toEqual([403, 'BLOCKED']);
    await dan.connect();
    dan.send({ action: 'send-message', room_id: room, content: 'ws', temp_id: 'bt1' });
    const refused = await dan.waitFor('error', (d) => d.temp_id === 'bt1');
    expect(refused.data.code).toBe('BLOCKED');
    // Asking for the existing room still answers it.
    const existing = await rooms(dan, { type: 'direct', member_ids: ['b_cat'] });
    expect([existing.status, existing.body.data.id]).toEqual([200, room]);
    // Forwarding into it is a send too.
    const other = (await rooms(dan, { type: 'group', name: 'g', member_ids: [] })).body.data.id;
    const source = (await send(dan, other, 'fwd me')).body.data.id;
    const forwarded = await dan.http('POST', `/api/chat/messages/${source}/forward`, {
      target_room_ids: [room],
    });
    expect(code(forwarded)).toEqual([403, 'BLOCKED']);
    expect((await cat.http('DELETE', '/api/chat/blocks/b_dan')).status).toBe(200);
    expect((await send(dan, room, 'after')).status).toBe(201);
    const history = await cat.http<{ messages: { content: string }[] }>(
      'GET',
      `/api/chat/rooms/${room}/messages`,
    );
    expect(history.body.data.messages.map((m) => m.content)).toEqual(['after', 'before']);
  });

  it('refuses a new direct room either way, and adding the blocker to a group', async () => {
    const [eve, fay, gil] = await Promise.all([
      env.client('b_eve'),
      env.client('b_fay'),
      env.client('b_gil'),
    ]);
    expect((await eve.http('PUT', '/api/chat/blocks/b_fay')).status).toBe(200);
    expect(code(await rooms(fay, { type: 'direct', member_ids: ['b_eve'] }))).toEqual([
      403,
      'BLOCKED',
    ]);
    expect(code(await rooms(eve, { type: 'direct', member_ids: ['b_fay'] }))).toEqual([
      403,
      'BLOCKED',
    ]);
    // Fay cannot put Eve into a group, new or existing; nothing is created.
    const before = await fay.http<{ rooms: unknown[] }>('GET', '/api/chat/rooms');
    expect(
      code(await rooms(fay, { type: 'group', name: 'x', member_ids: ['b_eve', 'b_gil'] })),
    ).toEqual([403, 'BLOCKED']);
    const after = await fay.http<{ rooms: unknown[] }>('GET', '/api/chat/rooms');
    expect(after.body.data.rooms.length).toBe(before.body.data.rooms.length);
    const group = (await rooms(fay, { type: 'group', name: 'y', member_ids: ['b_gil'] })).body.data
      .id;
    const add = await fay.http('POST', `/api/chat/rooms/${group}/members`, {
      user_ids: ['b_eve'],
    });
    expect(code(add)).toEqual([403, 'BLOCKED']);
    expect(JSON.stringify(add.body)).toContain('b_eve');
    // The blocker may add the one they block, and in a shared group both still talk.
    const shared = (await rooms(eve, { type: 'group', name: 'z', member_ids: ['b_fay', 'b_gil'] }))
      .body.data.id;
    expect((await send(fay, shared, 'from fay')).status).toBe(201);
    expect((await send(eve, shared, 'from eve')).status).toBe(201);
    const seen = await gil.http<{ messages: { content: string }[] }>(
      'GET',
      `/api/chat/rooms/${shared}/messages`,
    );
    expect(seen.body.data.messages.map((m) => m.content)).toEqual(['from eve', 'from fay']);
  });

  it('withholds typing both ways, in their direct room and in a group they share', async () => {
    const [hal, ivy, joe] = await Promise.all([
      env.client('b_hal'),
      env.client('b_ivy'),
      env.client('b_joe'),
    ]);
    const direct = (await rooms(hal, { type: 'direct', member_ids: ['b_ivy'] })).body.data.id;
    const group = (await rooms(hal, { type: 'group', name: 't', member_ids: ['b_ivy', 'b_joe'] }))
      .body.data.id;
    await Promise.all([hal.connect(), ivy.connect(), joe.connect()]);
    expect((await ivy.http('PUT', '/api/chat/blocks/b_hal')).status).toBe(200);
    hal.send({ action: 'typing', room_id: direct, is_typing: true });
    hal.send({ action: 'typing', room_id: group, is_typing: true });
    ivy.send({ action: 'typing', room_id: group, is_typing: true });
    // Joe (no block) hears both in the group: the frames went out.
    await joe.waitFor('user-typing', (d) => d.user_id === 'b_hal' && d.room_id === group);
    await joe.waitFor('user-typing', (d) => d.user_id === 'b_ivy' && d.room_id === group);
    // A marker after them: Joe types in the group; once Ivy and Hal hear Joe, they would
    // have heard each other already.
    joe.send({ action: 'typing', room_id: group, is_typing: true });
    await ivy.waitFor('user-typing', (d) => d.user_id === 'b_joe');
    await hal.waitFor('user-typing', (d) => d.user_id === 'b_joe');
    expect(ivy.eventsNamed('user-typing').filter((f) => f.data.user_id === 'b_hal')).toEqual([]);
    expect(hal.eventsNamed('user-typing').filter((f) => f.data.user_id === 'b_ivy')).toEqual([]);
  });

  it('withholds presence both ways, while others still hear it', async () => {
    const [kim, lou, max] = await Promise.all([
      env.client('b_kim'),
      env.client('b_lou'),
      env.client('b_max'),
    ]);
    await rooms(kim, { type: 'group', name: 'p', member_ids: ['b_lou', 'b_max'] });
    expect((await lou.http('PUT', '/api/chat/blocks/b_kim')).status).toBe(200);
    await Promise.all([lou.connect(), max.connect()]);
    await kim.connect();
    // Max hears Kim come online: the broadcast went out.
    await max.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'b_kim' && d.status === 'online',
      20_000,
    );
    // Max reconnects: Lou hears Max (the marker), never Kim.
    await max.close();
    await lou.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'b_max' && d.status === 'offline',
      20_000,
    );
    expect(
      lou.eventsNamed('chat-user-status-update').filter((f) => f.data.user_id === 'b_kim'),
    ).toEqual([]);
    // And the other way: Lou's own status does not reach Kim.
    await lou.close();
    await kim.http('GET', '/api/chat/rooms');
    const [nia] = await Promise.all([env.client('b_nia')]);
    await rooms(nia, { type: 'group', name: 'q', member_ids: ['b_kim'] });
    await nia.connect();
    await kim.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'b_nia' && d.status === 'online',
      20_000,
    );
    await nia.close();
    await kim.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'b_nia' && d.status === 'offline',
      20_000,
    );
    expect(
      kim.eventsNamed('chat-user-status-update').filter((f) => f.data.user_id === 'b_lou'),
    ).toEqual([]);
  });
});
