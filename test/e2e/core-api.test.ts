import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

type Env = Awaited<ReturnType<typeof startStack>>;
type Room = {
  id: string;
  type: string;
  members: string[];
  admins: string[];
  unread_count: number;
  last_message: { id: string } | null;
};
type Message = {
  id: string;
  room_id: string;
  sender_id: string;
  content: string;
  created_at: string;
};

let env: Env;
let alice: ChatClient;
let bob: ChatClient;
let carol: ChatClient;

beforeAll(async () => {
  env = await startStack();
  [alice, bob, carol] = await Promise.all([
    env.client('u_alice', 'Alice'),
    env.client('u_bob', 'Bob'),
    env.client('u_carol', 'Carol'),
  ]);
});
afterAll(async () => env?.stop());

describe('rooms over HTTP', () => {
  it('creates one direct room per pair: 201 first, then the same room with 200', async () => {
    const first = await alice.http<Room>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['u_bob'],
    });
    const again = await bob.http<Room>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['u_alice'],
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(first.body.data).toMatchObject({
      type: 'direct',
      admins: [],
      unread_count: 0,
      last_message: null,
    });
    expect([...first.body.data.members].sort()).toEqual(['u_alice', 'u_bob']);
  });

  it('creates a group whose creator is a member and an admin', async () => {
    const res = await alice.http<Room>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'Team',
      member_ids: ['u_bob'],
    });
    expect(res.status).toBe(201);
    expect(res.body.data.admins).toEqual(['u_alice']);
    expect([...res.body.data.members].sort()).toEqual(['u_alice', 'u_bob']);
  });

  it('refuses a non-member (403), a missing room (404), no token (401), and bad input (400) in the envelope', async () => {
    const group = await alice.http<Room>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'Private',
      member_ids: [],
    });
    const outsider = await carol.http('GET', `/api/chat/rooms/${group.body.data.id}`);
    expect(outsider.status).toBe(403);
    expect(outsider.body).toEqual({
      success: false,
      error: { code: 'FORBIDDEN', message: expect.any(String) },
    });
    expect((await carol.http('GET', '/api/chat/rooms/01NOPE')).status).toBe(404);
    const anonymous = await fetch(`${env.stack.httpUrl}/api/chat/rooms`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe(
      'UNAUTHORIZED',
    );
    const bad = await alice.http('POST', '/api/chat/rooms', '{"type":');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('VALIDATION_ERROR');
    const wrong = await alice.http('POST', '/api/chat/rooms', { type: 'group', member_ids: [] });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error?.message).toMatch(/name/);
  });

  it('lets only admins add and remove members', async () => {
    const group = (
      await alice.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'G',
        member_ids: ['u_bob'],
      })
    ).body.data;
    expect(
      (await bob.http('POST', `/api/chat/rooms/${group.id}/members`, { user_ids: ['u_carol'] }))
        .status,
    ).toBe(403);
    const added = await alice.http<Room>('POST', `/api/chat/rooms/${group.id}/members`, {
      user_ids: ['u_carol'],
    });
    expect(added.status).toBe(200);
    expect(added.body.data.members).toContain('u_carol');
    expect((await carol.http('GET', `/api/chat/rooms/${group.id}`)).status).toBe(200);
    expect((await bob.http('DELETE', `/api/chat/rooms/${group.id}/members/u_carol`)).status).toBe(
      403,
    );
    const removed = await alice.http<Room>('DELETE', `/api/chat/rooms/${group.id}/members/u_carol`);
    expect(removed.body.data.members).not.toContain('u_carol');
    expect((await carol.http('GET', `/api/chat/rooms/${group.id}`)).status).toBe(403);
  });
});

describe('messages', () => {
  it('sends over HTTP, lists newest first with a cursor, and a temp_id never makes a second message', async () => {
    const room = (
      await alice.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Paging',
        member_ids: ['u_bob'],
      })
    ).body.data;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = await alice.http<Message>('POST', `/api/chat/rooms/${room.id}/messages`, {
        content: `m${i}`,
        temp_id: `t-${room.id}-${i}`,
      });
      expect(sent.status).toBe(201);
      ids.push(sent.body.data.id);
    }
    const retry = await alice.http<Message>('POST', `/api/chat/rooms/${room.id}/messages`, {
      content: 'm0',
      temp_id: `t-${room.id}-0`,
    });
    expect(retry.status).toBe(200);
    expect(retry.body.data.id).toBe(ids[0]);
    // Another message under a used temp_id is refused, never confirmed as the first one.
    const reused = await alice.http<Message>('POST', `/api/chat/rooms/${room.id}/messages`, {
      content: 'm0 again',
      temp_id: `t-${room.id}-0`,
    });
    expect(reused.status).toBe(409);
    expect(reused.body.error?.code).toBe('CONFLICT');

    const page1 = await bob.http<{ messages: Message[]; next_cursor: string | null }>(
      'GET',
      `/api/chat/rooms/${room.id}/messages?limit=3`,
    );
    expect(page1.body.data.messages.map((m) => m.content)).toEqual(['m4', 'm3', 'm2']);
    const page2 = await bob.http<{ messages: Message[]; next_cursor: string | null }>(
      'GET',
      `/api/chat/rooms/${room.id}/messages?limit=3&before=${encodeURIComponent(page1.body.data.next_cursor!)}`,
    );
    expect(page2.body.data.messages.map((m) => m.content)).toEqual(['m1', 'm0']);
    expect(page2.body.data.next_cursor).toBeNull();
  });

  it('lets only the sender delete a message for everyone', async () => {
    const room = (
      await alice.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Del',
        member_ids: ['u_bob'],
      })
    ).body.data;
    const msg = (
      await alice.http<Message>('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'oops' })
    ).body.data;
    expect((await bob.http('DELETE', `/api/chat/messages/${msg.id}`)).status).toBe(403);
    expect((await alice.http('DELETE', `/api/chat/messages/${msg.id}`)).status).toBe(200);
    const list = await bob.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${room.id}/messages`,
    );
    expect(list.body.data.messages.map((m) => m.id)).not.toContain(msg.id);
  });

  it('lists rooms newest activity first, with cursor pagination', async () => {
    const dave = await env.client('u_dave');
    const rooms: Room[] = [];
    for (const name of ['r1', 'r2', 'r3']) {
      rooms.push(
        (await dave.http<Room>('POST', '/api/chat/rooms', { type: 'group', name, member_ids: [] }))
          .body.data,
      );
    }
    await dave.http('POST', `/api/chat/rooms/${rooms[0]!.id}/messages`, { content: 'bump r1' });
    const first = await dave.http<{ rooms: Room[]; next_cursor: string }>(
      'GET',
      '/api/chat/rooms?limit=2',
    );
    expect(first.body.data.rooms.map((r) => r.id)).toEqual([rooms[0]!.id, rooms[2]!.id]);
    const second = await dave.http<{ rooms: Room[]; next_cursor: string | null }>(
      'GET',
      `/api/chat/rooms?limit=2&cursor=${encodeURIComponent(first.body.data.next_cursor)}`,
    );
    expect(second.body.data.rooms.map((r) => r.id)).toEqual([rooms[1]!.id]);
  });
});

describe('WebSocket', () => {
  it('refuses an upgrade without a valid token', async () => {
    const intruder = await env.client('u_intruder');
    Object.defineProperty(intruder, 'token', { value: 'not-a-jwt' });
    await expect(intruder.connect()).rejects.toThrow(/401/);
  });

  it('delivers send-message to every connection of every other member and confirms to the sender', async () => {
    const room = (
      await alice.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Live',
        member_ids: ['u_bob', 'u_carol'],
      })
    ).body.data;
    const bobPhone = await env.client('u_bob', 'Bob');
    await Promise.all([
      alice.connect(),
      bob.connect(),
      bobPhone.connect({ viaProtocol: true }),
      carol.connect(),
    ]);
    alice.send({
      action: 'send-message',
      room_id: room.id,
      content: 'hello all',
      temp_id: 'live-1',
    });
    const confirmed = await alice.waitFor('message-confirmed', (d) => d.temp_id === 'live-1');
    expect(confirmed.data).toMatchObject({
      temp_id: 'live-1',
      delivered_to_count: 2,
      queued_for_count: 0,
    });
    for (const c of [bob, bobPhone, carol]) {
      const got = await c.waitFor(
        'new-chat-message',
        (d) => (d.message as Message).id === confirmed.data.message_id,
      );
      expect((got.data.message as Message).content).toBe('hello all');
    }
    expect(
      alice
        .eventsNamed('new-chat-message')
        .some((f) => (f.data.message as Message).id === confirmed.data.message_id),
    ).toBe(false);

    alice.send({
      action: 'send-message',
      room_id: room.id,
      content: 'hello all',
      temp_id: 'live-1',
    });
    const again = await alice.waitFor(
      'message-confirmed',
      (d) => d.temp_id === 'live-1' && d !== confirmed.data,
    );
    expect(again.data.message_id).toBe(confirmed.data.message_id);
    await bobPhone.close();
  });

  it('answers a bad frame with an error event and keeps the connection open', async () => {
    await alice.connect();
    alice.send({ action: 'no-such-action' });
    // Named by the action sent, not the gateway's $default route key (issue 16).
    const unknown = await alice.waitFor('error', (d) => d.action === 'no-such-action');
    expect(unknown.data.code).toBe('VALIDATION_ERROR');
    alice.send({ action: 'send-message', room_id: 'x', content: '', temp_id: 'bad-1' });
    const invalid = await alice.waitFor('error', (d) => d.temp_id === 'bad-1');
    expect(invalid.data).toMatchObject({ code: 'VALIDATION_ERROR', action: 'send-message' });
    alice.send({ action: 'ping' });
    expect((await alice.waitFor('pong')).data.server_time).toEqual(expect.any(String));
  });
});
