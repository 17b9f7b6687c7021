import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient, Frame } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Per-user rate limits and caps over real HTTP and WebSocket clients (docs/limits.md). Sends keep their defaults (the contract's promise is about them); the
 * other buckets are made small through the stack's RATE_LIMITS so a test needs
 * a dozen requests, not hundreds. Buckets are per user: each test has its own.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack({
    rateLimits: {
      write: '1/min burst 14',
      keyUpload: '1/h burst 3',
      roomsCreated: '1/day burst 3',
      connect: '1/min burst 12',
      receipts: '1/min burst 100',
    },
  });
});
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deviceId = (i: number) => i.toString(16).padStart(32, '0');
const pem = () =>
  generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

async function group(owner: ChatClient, memberIds: string[] = [], name = 'g') {
  const res = await owner.http<{ id: string }>('POST', '/api/chat/rooms', {
    type: 'group',
    name,
    member_ids: memberIds,
  });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

describe('HTTP', () => {
  it('over the limit answers 429 RATE_LIMITED with an integer Retry-After', async () => {
    const ann = await env.client('rl_ann');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof ann.http>> | undefined;
    for (let i = 0; i < 16; i++) {
      // Valid requests for devices that do not exist: refused by the domain, still charged.
      const res = await ann.http('DELETE', `/api/chat/devices/${deviceId(i)}`);
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 14)).toEqual(Array.from({ length: 14 }, () => 404));
    expect(statuses.slice(14)).toEqual([429, 429]);
    expect(limited?.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    const retryAfter = limited?.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Reads draw on a bucket of their own: the user limited on writes can still read.
    expect((await ann.http('GET', '/api/chat/rooms')).status).toBe(200);
  });

  it('asking again for an existing direct room is free of roomsCreated but draws on write', async () => {
    const kai = await env.client('rl_kai');
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await kai.http('POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['rl_kai_peer'],
      });
      statuses.push(res.status);
    }
    // write: burst 14 here. roomsCreated (burst 3) would have refused the 4th.
    expect(statuses).toEqual([201, ...Array.from({ length: 13 }, () => 200), 429]);
  });

  it('charges only valid requests', async () => {
    const bo = await env.client('rl_bo');
    for (let i = 0; i < 20; i++) {
      expect((await bo.http('DELETE', '/api/chat/devices/not-a-device-id')).status).toBe(400);
    }
    const valid = [];
    for (let i = 0; i < 15; i++) {
      valid.push((await bo.http('DELETE', `/api/chat/devices/${deviceId(i)}`)).status);
    }
    expect(valid).toEqual([...Array.from({ length: 14 }, () => 404), 429]);
  });

  it('a bad public key is refused before it is charged to the upload limit', async () => {
    const cy = await env.client('rl_cy');
    const upload = (publicKey: string, keyId: string) =>
      cy.http('POST', '/api/chat/encryption/keys', {
        public_key: publicKey,
        device_id: 'phone',
        key_id: keyId,
      });
    const privateKey = generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    for (const bad of ['not a key', privateKey, pem().replace('PUBLIC', 'PUBLIK')]) {
      const res = await upload(bad, 'k');
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toContain('public_key');
    }
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await upload(pem(), `k${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('WebSocket', () => {
  it('a flood of sends gets error RATE_LIMITED with its temp_id; the socket stays open and works', async () => {
    const dan = await env.client('rl_dan');
    const eve = await env.client('rl_eve');
    const room = await group(dan, ['rl_eve']);
    await dan.connect();
    await eve.connect();
    const total = 70;
    for (let i = 0; i < total; i++) {
      dan.send({ action: 'send-message', room_id: room, content: `m${i}`, temp_id: `t${i}` });
    }
    const answered = (f: Frame) =>
      f.event === 'message-confirmed' || (f.event === 'error' && f.data.action === 'send-message');
    const deadline = Date.now() + 30_000;
    while (dan.frames.filter(answered).length < total && Date.now() < deadline) await sleep(100);
    const errors = dan.eventsNamed('error');
    const confirmed = dan.eventsNamed('message-confirmed');
    expect(confirmed.length + errors.length).toBe(total);
    expect(errors.length).toBeGreaterThan(0);
    // The burst (40) passed; the refill (10/s) adds at most a few while the frames arrive.
    expect(confirmed.length).toBeGreaterThanOrEqual(40);
    for (const error of errors) {
      expect(error.data).toMatchObject({
        code: 'RATE_LIMITED',
        action: 'send-message',
        temp_id: expect.stringMatching(/^t\d+$/),
        message: expect.stringContaining('retry'),
      });
    }
    // Every frame is answered once: a refused temp_id was not also confirmed.
    const ids = [...confirmed, ...errors].map((f) => f.data.temp_id);
    expect(new Set(ids).size).toBe(total);

    // Still open: after waiting as told, the same socket sends again.
    await sleep(1_100);
    dan.send({ action: 'send-message', room_id: room, content: 'after', temp_id: 'after' });
    await dan.waitFor('message-confirmed', (d) => d.temp_id === 'after');
    await eve.waitFor(
      'new-chat-message',
      (d) => (d.message as { content: string }).content === 'after',
    );
  });

  it('seen receipts are charged per id, and receipts already stored are neither written nor told again', async () => {
    const ivy = await env.client('rl_ivy');
    const jon = await env.client('rl_jon');
    const room = await group(jon, ['rl_ivy']);
    const ids: string[] = [];
    for (let i = 0; i < 31; i++) {
      const sent = await jon.http<{ id: string }>('POST', `/api/chat/rooms/${room}/messages`, {
        content: `s${i}`,
      });
      expect(sent.status).toBe(201);
      ids.push(sent.body.data.id);
    }
    await ivy.connect();
    await jon.connect();
    const old = ids.slice(0, 30);
    const seenBy = () => jon.eventsNamed('messages-seen').map((f) => f.data.message_ids);
    const answers = () =>
      ivy.frames.filter(
        (f) =>
          f.event === 'unread-count-update' ||
          (f.event === 'error' && f.data.action === 'mark-messages-seen'),
      ).length;
    const mark = async (messageIds: string[]) => {
      const before = answers();
      ivy.send({ action: 'mark-messages-seen', room_id: room, message_ids: messageIds });
      const deadline = Date.now() + 10_000;
      while (answers() === before && Date.now() < deadline) await sleep(50);
      return ivy.frames.filter((f) => f.event === 'error').at(-1);
    };
    // 30 tokens of 100: the sender learns of 30 receipts.
    expect(await mark(old)).toBeUndefined();
    await jon.waitFor('messages-seen');
    // The same 30 again (60 of 100): nothing new, so nothing told.
    expect(await mark(old)).toBeUndefined();
    // One new among the old (91 of 100): the sender hears of that one alone. Had the
    // repeat been told, its 30 ids would arrive before this.
    expect(await mark([...old, ids[30]!])).toBeUndefined();
    await jon.waitFor('messages-seen', (d) => (d.message_ids as string[]).includes(ids[30]!));
    expect(seenBy()).toEqual([old, [ids[30]]]);
    // 31 more would be 122 of 100: the frame is refused, whatever its count of frames.
    const refused = await mark([...old, ids[30]!]);
    expect(refused?.data).toMatchObject({ code: 'RATE_LIMITED', action: 'mark-messages-seen' });
  });

  it('a person typing fast (5/s sustained, bursts of 20) is never limited', async () => {
    const fay = await env.client('rl_fay');
    const room = await group(fay);
    await fay.connect();
    let n = 0;
    const type = () => {
      fay.send({ action: 'send-message', room_id: room, content: `x${n}`, temp_id: `f${n}` });
      n++;
    };
    for (let i = 0; i < 20; i++) type(); // a burst of 20
    for (let i = 0; i < 15; i++) {
      await sleep(200); // then 5/s for 3 s
      type();
    }
    await sleep(4_000); // a pause, and another burst of 20
    for (let i = 0; i < 20; i++) type();
    await fay.waitFor('message-confirmed', (d) => d.temp_id === `f${n - 1}`, 20_000);
    const deadline = Date.now() + 20_000;
    while (fay.eventsNamed('message-confirmed').length < n && Date.now() < deadline) {
      await sleep(100);
    }
    expect(fay.eventsNamed('error')).toEqual([]);
    expect(fay.eventsNamed('message-confirmed')).toHaveLength(n);
  });

  it('over the $connect bucket the upgrade is refused with 429', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 13; i++) {
      const gus = await env.client('rl_gus');
      outcomes.push(
        await gus.connect().then(
          () => 'open',
          (e: Error) => e.message,
        ),
      );
    }
    expect(outcomes.slice(0, 12).every((o) => o === 'open')).toBe(true);
    expect(outcomes[12]).toBe('upgrade refused: 429');
  });
});

describe('caps', () => {
  it('rooms created per user: new rooms are charged, asking for an existing direct room is not', async () => {
    const hal = await env.client('rl_hal');
    const direct = (other: string) =>
      hal.http('POST', '/api/chat/rooms', { type: 'direct', member_ids: [other] });
    expect((await direct('rl_x1')).status).toBe(201);
    await group(hal);
    await group(hal);
    const over = await hal.http('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'g',
      member_ids: [],
    });
    expect(over.status).toBe(429);
    expect(over.body.error?.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await direct('rl_x2')).status).toBe(429);
    // The existing room comes back, free, as often as asked.
    for (let i = 0; i < 3; i++) expect((await direct('rl_x1')).status).toBe(200);
  });

  it('members added per request: at most 99, for a new group and for add-members', async () => {
    const ida = await env.client('rl_ida');
    const users = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const tooMany = await ida.http('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'big',
      member_ids: users(100, 'rl_m'),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error?.message).toContain('member_ids');
    const room = await group(ida, users(99, 'rl_m'));
    const add = (n: number, prefix: string) =>
      ida.http('POST', `/api/chat/rooms/${room}/members`, { user_ids: users(n, prefix) });
    const over = await add(100, 'rl_n');
    expect(over.status).toBe(400);
    expect(over.body.error?.message).toContain('user_ids');
    expect((await add(99, 'rl_n')).status).toBe(200);
  });

  it('push devices per user: registering one over the cap drops the least recently registered', async () => {
    const jo = await env.client('rl_jo');
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await jo.http<{ device_id: string }>('POST', '/api/chat/devices', {
        platform: 'fcm',
        token: `fcm-token-${i}-abcdef`,
      });
      expect(res.status).toBe(201);
      ids.push(res.body.data.device_id);
    }
    // The first is gone; the second (now the oldest) and the newest are kept.
    expect((await jo.http('DELETE', `/api/chat/devices/${ids[0]}`)).status).toBe(404);
    expect((await jo.http('DELETE', `/api/chat/devices/${ids[1]}`)).status).toBe(200);
    expect((await jo.http('DELETE', `/api/chat/devices/${ids[10]}`)).status).toBe(200);
  });

  it('open connections per user: an 11th closes the oldest, and the rest keep working', async () => {
    const sockets: ChatClient[] = [];
    const closed: number[] = [];
    for (let i = 0; i < 11; i++) {
      const kim = await env.client('rl_kim');
      const socket = await kim.connect();
      socket.once('close', () => closed.push(i));
      sockets.push(kim);
      await sleep(5); // distinct connected_at, so "oldest" is well defined
    }
    const deadline = Date.now() + 5_000;
    while (closed.length === 0 && Date.now() < deadline) await sleep(50);
    await sleep(300);
    expect(closed).toEqual([0]);
    for (const i of [1, 10]) {
      sockets[i]!.send({ action: 'ping' });
      await sockets[i]!.waitFor('pong');
    }
  });
});
