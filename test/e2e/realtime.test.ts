import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * The requirements' WebSocket checklist and the delivery integration cases,
 * through the local stack with real clients. A short grace period and a fast
 * sweeper keep the presence cases quick.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
type Room = { id: string };
type Message = { id: string; content: string };

let env: Env;
const GRACE_SECONDS = 2;

beforeAll(async () => {
  process.env.HEARTBEAT_TIMEOUT_SECONDS = '6';
  env = await startStack({ graceSeconds: GRACE_SECONDS, scheduleEverySeconds: 1 });
});
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A client that pings every second, as the app does every 25 s: the sweeper here
 * closes a connection silent for HEARTBEAT_TIMEOUT_SECONDS (6 s: a CI machine
 * running the deployed bundles can stall a test process for a few seconds, and
 * a closed socket then loses the frames a test waits for).
 */
const live = (userId: string, name = userId) => env.client(userId, name, 1000);

async function group(owner: ChatClient, others: string[], name = 'room'): Promise<Room> {
  return (
    await owner.http<Room>('POST', '/api/chat/rooms', { type: 'group', name, member_ids: others })
  ).body.data;
}

/** Connects and returns the server-side connection id (found by diffing the gateway's table). */
async function connectTracked(client: ChatClient): Promise<string> {
  const before = new Set(env.stack.ws.connections.keys());
  await client.connect();
  const id = [...env.stack.ws.connections.keys()].find((k) => !before.has(k));
  if (!id) throw new Error('connection not registered');
  return id;
}

/** The phone vanishes: the socket dies and $disconnect never arrives. */
function vanish(connectionId: string) {
  const conn = env.stack.ws.connections.get(connectionId);
  env.stack.ws.connections.delete(connectionId);
  conn?.socket.terminate();
}

async function pendingCount(userId: string): Promise<number> {
  const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
  const out = await env.stack.aws.dynamo.client.send(
    new QueryCommand({
      TableName: env.stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': { S: `USER#${userId}` }, ':p': { S: 'PENDING#' } },
    }),
  );
  return out.Count ?? 0;
}

/** Pushes sent to the user's own device endpoints (the local SNS platform application). */
function pushesTo(userId: string) {
  return env.stack.aws.push.pushes(userId);
}

async function registerPhone(client: ChatClient) {
  const res = await client.http('POST', '/api/chat/devices', {
    platform: 'fcm',
    token: `phone-of-${client.userId}`,
  });
  expect(res.status).toBe(201);
}

describe('presence', () => {
  it('broadcasts online on the first connection, offline only after the grace period', async () => {
    const [ann, ben] = await Promise.all([
      env.client('p_ann', 'Ann', 1000),
      env.client('p_ben', 'Ben', 1000),
    ]);
    await group(ann, ['p_ben']);
    await ben.connect();
    await ann.connect();
    // Announced after $connect returns (queued with the connection's flush), not inside it.
    const online = await ben.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_ann' && d.status === 'online',
      20_000,
    );
    expect(online.data.last_seen).toEqual(expect.any(String));

    const closedAt = Date.now();
    await ann.close();
    const offline = await ben.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_ann' && d.status === 'offline',
      10_000,
    );
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100);
    expect(offline.data.last_seen).toEqual(expect.any(String));
  });

  it('sends nothing when the user reconnects within the grace period', async () => {
    const [cat, dan] = await Promise.all([
      env.client('p_cat', 'Cat', 1000),
      env.client('p_dan', 'Dan', 1000),
    ]);
    await group(cat, ['p_dan']);
    await dan.connect();
    await cat.connect();
    // Announced after $connect returns (through the flush queue).
    await dan.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_cat' && d.status === 'online',
      20_000,
    );
    await cat.close();
    await sleep(500);
    await cat.connect();
    await sleep(GRACE_SECONDS * 1000 + 2000);
    // The positive marker, on the same path: Cat now leaves for good, and Dan hears that
    // offline once its grace period has run; the first disconnect's check ran before it.
    await cat.close();
    await dan.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_cat' && d.status === 'offline',
      20_000,
    );
    const updates = dan
      .eventsNamed('chat-user-status-update')
      .filter((f) => f.data.user_id === 'p_cat');
    expect(updates.map((f) => f.data.status)).toEqual(['online', 'offline']);
  });

  it('marks a user offline when $disconnect never arrives (missed heartbeats)', async () => {
    const [eve, fay] = await Promise.all([env.client('p_eve'), env.client('p_fay', 'Fay', 1000)]);
    await group(eve, ['p_fay']);
    await fay.connect();
    const id = await connectTracked(eve);
    // Announced after $connect returns (through the flush queue).
    await fay.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_eve' && d.status === 'online',
      20_000,
    );
    vanish(id);
    await fay.waitFor(
      'chat-user-status-update',
      (d) => d.user_id === 'p_eve' && d.status === 'offline',
      25_000,
    );
  });
});

describe('heartbeat', () => {
  it('closes a socket whose token expired even if it only pings (issue 11, hole 5)', async () => {
    const token = await env.stack.issueToken('h_kim', 'Kim', { expiresInSeconds: 3 });
    const socket = new WebSocket(`${env.stack.wsUrl}?token=${encodeURIComponent(token)}`);
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const opened = Date.now();
    // Pings keep it well inside the heartbeat timeout: only the token's expiry can end it.
    const pinger = setInterval(() => socket.send(JSON.stringify({ action: 'ping' })), 500);
    try {
      const outcome = await Promise.race([closed.then(() => 'closed'), sleep(15_000)]);
      expect(outcome).toBe('closed');
      // Not before the token expired (3 s, to the second).
      expect(Date.now() - opened).toBeGreaterThan(1500);
    } finally {
      clearInterval(pinger);
      socket.terminate();
    }
  });

  it('answers ping with pong', async () => {
    const gus = await live('h_gus');
    await gus.connect();
    gus.send({ action: 'ping' });
    const pong = await gus.waitFor('pong');
    expect(Date.parse(pong.data.server_time as string)).toBeGreaterThan(Date.now() - 5000);
  });
});

describe('delivery that never loses a message', () => {
  it('queues for an offline member and delivers on reconnect, in send order, with no action from the client', async () => {
    const [ivy, jon] = await Promise.all([live('d_ivy', 'Ivy'), live('d_jon', 'Jon')]);
    const room = await group(ivy, ['d_jon']);
    await registerPhone(jon);
    await ivy.connect();
    const sent: string[] = [];
    for (const [i, text] of ['one', 'two', 'three'].entries()) {
      ivy.send({ action: 'send-message', room_id: room.id, content: text, temp_id: `q-${i}` });
      const confirmed = await ivy.waitFor('message-confirmed', (d) => d.temp_id === `q-${i}`);
      expect(confirmed.data).toMatchObject({ delivered_to_count: 0, queued_for_count: 1 });
      sent.push(confirmed.data.message_id as string);
    }
    // One push for the burst, and every message kept pending, before Jon comes back.
    await eventually(async () => expect(await pendingCount('d_jon')).toBe(3));
    // The push goes out just after the pending write that decides it: waited for, not raced.
    await eventually(async () => expect(pushesTo('d_jon')).toHaveLength(1));

    const reconnectedAt = Date.now();
    await jon.connect();
    for (const id of sent)
      await jon.waitFor('new-chat-message', (d) => (d.message as Message).id === id, 5000);
    expect(Date.now() - reconnectedAt).toBeLessThan(2000 + 1000);
    const order = jon.eventsNamed('new-chat-message').map((f) => (f.data.message as Message).id);
    expect(order).toEqual(sent);

    // Delivered messages are no longer pending: a sync brings nothing again.
    await eventually(async () => expect(await pendingCount('d_jon')).toBe(0));
    jon.send({ action: 'sync' });
    // A follow-up frame the same handler answers, after the flush above: a sync page.
    const cursor = (await jon.http<{ next_since: string }>('GET', '/api/chat/sync')).body.data
      .next_since;
    jon.send({ action: 'sync', since: cursor });
    await jon.waitFor('sync-result', () => true, 10_000);
    expect(jon.eventsNamed('new-chat-message')).toHaveLength(3);
    // Still one push for the whole burst.
    expect(pushesTo('d_jon')).toHaveLength(1);
  });

  it('sends no push for a muted room', async () => {
    const [kim, leo] = await Promise.all([live('d_kim'), live('d_leo')]);
    const room = await group(kim, ['d_leo']);
    await registerPhone(leo);
    expect(
      (await leo.http('PUT', `/api/chat/rooms/${room.id}/mute`, { is_muted: true })).status,
    ).toBe(200);
    await kim.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'shh' });
    await leo.connect();
    await leo.waitFor('new-chat-message', (d) => (d.message as Message).content === 'shh');
    expect(pushesTo('d_leo')).toHaveLength(0);
  });

  it('removes a connection that answers 410 mid fan-out and does not count it as delivered', async () => {
    const [max, ned] = await Promise.all([live('d_max'), live('d_ned')]);
    const nedTablet = await live('d_ned');
    const room = await group(max, ['d_ned']);
    await max.connect();
    await ned.connect();
    const tabletId = await connectTracked(nedTablet);
    await sleep(50);
    vanish(tabletId);
    // A connection younger than 10 s that answers 410 may still be in $connect; age it.
    await env.stack.aws.dynamo.client.send(
      new (await import('@aws-sdk/client-dynamodb')).UpdateItemCommand({
        TableName: env.stack.tableName,
        Key: { pk: { S: 'USER#d_ned' }, sk: { S: 'CONNS' } },
        UpdateExpression: 'SET conns.#id = :old',
        ExpressionAttributeNames: { '#id': tabletId },
        ExpressionAttributeValues: { ':old': { S: new Date(Date.now() - 60_000).toISOString() } },
      }),
    );
    max.send({
      action: 'send-message',
      room_id: room.id,
      content: 'to both devices',
      temp_id: 'g-1',
    });
    const confirmed = await max.waitFor('message-confirmed', (d) => d.temp_id === 'g-1');
    expect(confirmed.data).toMatchObject({ delivered_to_count: 1, queued_for_count: 0 });
    await ned.waitFor(
      'new-chat-message',
      (d) => (d.message as Message).content === 'to both devices',
    );
    const { Item } = await env.stack.aws.dynamo.client.send(
      new (await import('@aws-sdk/client-dynamodb')).GetItemCommand({
        TableName: env.stack.tableName,
        Key: { pk: { S: 'USER#d_ned' }, sk: { S: 'CONNS' } },
      }),
    );
    expect(Object.keys(Item?.conns?.M ?? {})).not.toContain(tabletId);
    expect(Object.keys(Item?.conns?.M ?? {})).toHaveLength(1);
  });
});

describe('seen receipts', () => {
  it('tells the sender which messages were seen and gives the reader the new unread count', async () => {
    const [ola, pia] = await Promise.all([live('s_ola', 'Ola'), live('s_pia', 'Pia')]);
    const room = await group(ola, ['s_pia']);
    const ids: string[] = [];
    for (const text of ['a', 'b']) {
      ids.push(
        (await ola.http<Message>('POST', `/api/chat/rooms/${room.id}/messages`, { content: text }))
          .body.data.id,
      );
    }
    await Promise.all([ola.connect(), pia.connect()]);
    pia.send({
      action: 'mark-messages-seen',
      room_id: room.id,
      message_ids: [...ids, 'ZZZ.1', `${room.id}.999`],
    });
    const seen = await ola.waitFor('messages-seen', (d) => d.room_id === room.id);
    expect(seen.data.message_ids).toEqual(ids);
    expect(seen.data.seen_by).toMatchObject({
      user_id: 's_pia',
      user_name: 'Pia',
      seen_at: expect.any(String),
    });
    const unread = await pia.waitFor('unread-count-update', (d) => d.room_id === room.id);
    expect(unread.data.unread_count).toBe(0);
  });

  it('refuses more than 100 ids', async () => {
    const quinn = await live('s_quinn');
    await quinn.connect();
    quinn.send({
      action: 'mark-messages-seen',
      room_id: 'r1',
      message_ids: Array.from({ length: 101 }, (_, i) => `r1.${i + 1}`),
    });
    const error = await quinn.waitFor('error', (d) => d.action === 'mark-messages-seen');
    expect(error.data.code).toBe('VALIDATION_ERROR');
  });
});

describe('room-archive', () => {
  it('archives for the user only and tells all their connections', async () => {
    const [rae, sam] = await Promise.all([live('a_rae'), live('a_sam')]);
    const raePhone = await live('a_rae');
    const room = await group(rae, ['a_sam']);
    await Promise.all([rae.connect(), raePhone.connect()]);
    rae.send({ action: 'room-archive', room_id: room.id, is_archived: true });
    for (const c of [rae, raePhone]) {
      const ev = await c.waitFor('room-archived', (d) => d.room_id === room.id);
      expect(ev.data).toMatchObject({ is_archived: true, archived_at: expect.any(String) });
    }
    const archived = await rae.http<{ rooms: Room[] }>('GET', '/api/chat/rooms?archived=true');
    expect(archived.body.data.rooms.map((r) => r.id)).toEqual([room.id]);
    const samRooms = await sam.http<{ rooms: Room[] }>('GET', '/api/chat/rooms');
    expect(samRooms.body.data.rooms.map((r) => r.id)).toContain(room.id);
  });
});
