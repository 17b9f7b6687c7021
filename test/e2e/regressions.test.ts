import { generateKeyPairSync } from 'node:crypto';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageKey, parseMessageId } from '#store/messages.ts';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Regression tests for the audit's holes 2, 7 and 9 (issue 11), through the
 * local stack as a client sees it. (Malformed % escapes, also hole 7, are the
 * local gateway's and tested with it.)
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

type Room = { id: string; members: string[] };
type Message = { id: string; media: unknown };

async function group(owner: ChatClient, memberIds: string[]) {
  return owner.http<Room>('POST', '/api/chat/rooms', {
    type: 'group',
    name: 'g',
    member_ids: memberIds,
  });
}

const expectError = (
  res: { status: number; body: { error?: { code: string; message: string } } },
  status: number,
  code: string,
  mentions?: string,
) => {
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
  if (mentions) expect(res.body.error?.message).toContain(mentions);
};

describe('hole 1: a temp_id is scoped to its room', () => {
  it('sends a new message into another room under a temp_id already used, and never delivers the first one there', async () => {
    const [x, z] = await Promise.all([env.client('r1_x'), env.client('r1_z')]);
    const g2 = (await group(x, ['r1_y'])).body.data;
    const direct = await x.http<Room>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['r1_z'],
    });
    await z.connect();
    const secret = await x.http<{ id: string; content: string }>(
      'POST',
      `/api/chat/rooms/${g2.id}/messages`,
      { content: 'PRIVATE', temp_id: 'dup-1' },
    );
    expect(secret.status).toBe(201);
    const hello = await x.http<{ id: string; content: string; room_id: string }>(
      'POST',
      `/api/chat/rooms/${direct.body.data.id}/messages`,
      { content: 'hello z', temp_id: 'dup-1' },
    );
    expect(hello.status).toBe(201);
    expect(hello.body.data).toMatchObject({ content: 'hello z', room_id: direct.body.data.id });
    expect(hello.body.data.id).not.toBe(secret.body.data.id);
    const got = await z.waitFor('new-chat-message');
    expect((got.data.message as { content: string }).content).toBe('hello z');
    // The same temp_id again in the group with another body is refused, not replayed.
    const reused = await x.http('POST', `/api/chat/rooms/${g2.id}/messages`, {
      content: 'something else',
      temp_id: 'dup-1',
    });
    expectError(reused, 409, 'CONFLICT');
    const zSees = await z.http<{ messages: { content: string }[] }>(
      'GET',
      `/api/chat/rooms/${direct.body.data.id}/messages`,
    );
    expect(zSees.body.data.messages.map((m) => m.content)).toEqual(['hello z']);
  });
});

describe('hole 2: users named like JavaScript built-ins', () => {
  it("is no member of a stranger's direct room, and cannot read, send to or clear it", async () => {
    const [ann, bob] = await Promise.all([env.client('r2_ann'), env.client('r2_bob')]);
    const direct = await ann.http<Room>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['r2_bob'],
    });
    expect(direct.status).toBe(201);
    await bob.http('POST', `/api/chat/rooms/${direct.body.data.id}/messages`, {
      content: 'hi ann',
    });
    for (const name of ['toString', 'constructor', 'valueOf', 'hasOwnProperty']) {
      const intruder = await env.client(name);
      const roomPath = `/api/chat/rooms/${direct.body.data.id}`;
      expectError(await intruder.http('GET', roomPath), 403, 'FORBIDDEN');
      expectError(await intruder.http('GET', `${roomPath}/messages`), 403, 'FORBIDDEN');
      expectError(
        await intruder.http('POST', `${roomPath}/messages`, { content: 'x', temp_id: 'dup-1' }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await intruder.http('DELETE', `${roomPath}/messages?for_everyone=true`),
        403,
        'FORBIDDEN',
      );
      const listed = await intruder.http<{ rooms: Room[] }>('GET', '/api/chat/rooms');
      expect(listed.body.data.rooms.map((r) => r.id)).not.toContain(direct.body.data.id);
      // And over WebSocket, with a temp_id the sender already used.
      await intruder.connect();
      intruder.send({
        action: 'send-message',
        room_id: direct.body.data.id,
        content: 'x',
        temp_id: 'dup-1',
      });
      const refused = await intruder.waitFor('error', (d) => d.action === 'send-message');
      expect(refused.data.code).toBe('FORBIDDEN');
      await intruder.close();
    }
    // Nothing of theirs reached the room.
    const seen = await ann.http<{ messages: { content: string }[] }>(
      'GET',
      `/api/chat/rooms/${direct.body.data.id}/messages`,
    );
    expect(seen.body.data.messages.map((m) => m.content)).toEqual(['hi ann']);
  });

  it('creates no crash for prototype names as member_ids: 201 or 400, never 500', async () => {
    const cal = await env.client('r2_cal');
    for (const ids of [
      ['__proto__', 'constructor'],
      ['__proto__'],
      ['constructor', 'toString', 'prototype', 'hasOwnProperty'],
    ]) {
      const res = await group(cal, ids);
      expect([201, 400]).toContain(res.status);
      if (ids.includes('__proto__')) expectError(res, 400, 'VALIDATION_ERROR', 'member_ids.0');
    }
    const direct = await cal.http('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['__proto__'],
    });
    expectError(direct, 400, 'VALIDATION_ERROR');
  });

  it('treats a user named constructor as an ordinary user once they are really added', async () => {
    const dan = await env.client('r2_dan');
    const created = await group(dan, ['constructor', 'toString']);
    expect(created.status).toBe(201);
    expect(created.body.data.members.sort()).toEqual(['constructor', 'r2_dan', 'toString']);
    const ctor = await env.client('constructor');
    const roomPath = `/api/chat/rooms/${created.body.data.id}`;
    expect((await ctor.http('GET', roomPath)).status).toBe(200);
    expect((await ctor.http('POST', `${roomPath}/messages`, { content: 'I belong' })).status).toBe(
      201,
    );
    // Not an admin, though: the check is an own property, not `in`.
    expectError(
      await ctor.http('DELETE', `${roomPath}/messages?for_everyone=true`),
      403,
      'FORBIDDEN',
    );
  });

  it('treats key device ids named like built-ins as plain ids (the reserved names are refused: local-hardening.test.ts)', async () => {
    const eve = await env.client('r2_eve');
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    for (const name of ['toString', 'hasOwnProperty', 'valueOf']) {
      const uploaded = await eve.http('POST', '/api/chat/encryption/keys', {
        public_key: publicKey,
        device_id: name,
        key_id: `k-${name}`,
      });
      expect(uploaded.status, `${name}: ${JSON.stringify(uploaded.body)}`).toBeLessThan(300);
    }
    const listed = await eve.http<{ keys: { device_id: string; is_active: boolean }[] }>(
      'GET',
      '/api/chat/encryption/keys/r2_eve',
    );
    expect(
      listed.body.data.keys
        .filter((k) => k.is_active)
        .map((k) => k.device_id)
        .sort(),
    ).toEqual(['hasOwnProperty', 'toString', 'valueOf']);
  });

  it('refuses a token whose subject is __proto__', async () => {
    const proto = await env.client('__proto__');
    expectError(await proto.http('GET', '/api/chat/rooms'), 401, 'UNAUTHORIZED');
  });
});

describe('hole 7: hostile input gets 400, not 500', () => {
  let owner: ChatClient;
  let roomId: string;
  beforeAll(async () => {
    owner = await env.client('r7_owner');
    roomId = (await group(owner, [])).body.data.id;
  });

  const nested = (levels: number) => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };

  it.each([
    ['deeper than 32 levels', JSON.stringify({ content: 'x', media: nested(33) })],
    ['deeper than 8 levels', JSON.stringify({ content: 'x', media: nested(9) })],
    ['5,000 levels', `{"content":"x","media":${'['.repeat(5000)}1${']'.repeat(5000)}}`],
    ['an integer above 2^53', '{"content":"x","media":{"w":9007199254740993}}'],
    ['1e200', '{"content":"x","media":{"w":1e200}}'],
    ['1e-200', '{"content":"x","media":{"w":1e-200}}'],
    ['an empty key', '{"content":"x","media":{"":1}}'],
    ['__proto__', '{"content":"x","media":{"__proto__":{"x":1}}}'],
    ['constructor', '{"content":"x","media":{"constructor":{"name":"x"}}}'],
  ])('refuses media with %s, naming media', async (_what, body) => {
    const res = await owner.http('POST', `/api/chat/rooms/${roomId}/messages`, body);
    expectError(res, 400, 'VALIDATION_ERROR', 'media');
  });

  it('stores media at the edges of what is allowed, unchanged', async () => {
    const media = {
      type: 'image',
      sizes: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e-130, 0.1 + 0.2, 0],
      deep: nested(7),
      toString: 'a key like a built-in',
    };
    const sent = await owner.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, {
      content: 'edges',
      media,
    });
    expect(sent.status).toBe(201);
    const listed = await owner.http<{ messages: Message[] }>(
      'GET',
      `/api/chat/rooms/${roomId}/messages`,
    );
    expect(listed.body.data.messages.find((m) => m.id === sent.body.data.id)?.media).toEqual(media);
  });

  describe('room-list cursors', () => {
    let first: { rooms: { id: string }[]; next_cursor: string | null };
    let eve: ChatClient;
    beforeAll(async () => {
      eve = await env.client('r7_eve');
      for (let i = 0; i < 3; i++) await group(eve, []);
      first = (await eve.http<typeof first>('GET', '/api/chat/rooms?limit=2')).body.data;
    });

    it('pages with an opaque cursor that shows no key layout', async () => {
      expect(first.rooms).toHaveLength(2);
      const cursor = first.next_cursor!;
      const decoded = Buffer.from(cursor, 'base64url').toString('latin1');
      for (const leak of ['USER#', 'ROOM#', 'gsi1', 'pk', 'r7_eve', first.rooms[1]!.id]) {
        expect(decoded).not.toContain(leak);
      }
      const next = await eve.http<{ rooms: { id: string }[] }>(
        'GET',
        `/api/chat/rooms?limit=2&cursor=${encodeURIComponent(cursor)}`,
      );
      expect(next.status).toBe(200);
      const ids = [...first.rooms, ...next.body.data.rooms].map((r) => r.id);
      expect(new Set(ids).size).toBe(3);
    });

    const tamper = (cursor: string) => {
      const raw = Buffer.from(cursor, 'base64url');
      raw[raw.length - 1]! ^= 1;
      return raw.toString('base64url');
    };
    const oldStyle = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

    it.each([
      ['tampered', () => tamper(first.next_cursor!)],
      ['truncated', () => first.next_cursor!.slice(0, 20)],
      ['a table key with a missing key', () => oldStyle({ pk: 'USER#r7_eve' })],
      ['a table key with extra keys', () => oldStyle({ pk: 'a', sk: 'b', gsi1pk: 'c', x: 'd' })],
      ['a table key with non-string keys', () => oldStyle({ pk: 1, sk: { S: 'x' } })],
      ['not base64', () => '%%%'],
      ['empty JSON', () => oldStyle({})],
    ])('refuses a cursor that is %s with 400 naming cursor', async (_what, make) => {
      const res = await eve.http('GET', `/api/chat/rooms?cursor=${encodeURIComponent(make())}`);
      expectError(res, 400, 'VALIDATION_ERROR', 'cursor');
    });

    it("refuses another user's cursor, and the archive list's cursor for the inbox", async () => {
      const mallory = await env.client('r7_mallory');
      const stolen = await mallory.http(
        'GET',
        `/api/chat/rooms?cursor=${encodeURIComponent(first.next_cursor!)}`,
      );
      expectError(stolen, 400, 'VALIDATION_ERROR', 'cursor');
      const otherList = await eve.http(
        'GET',
        `/api/chat/rooms?archived=true&cursor=${encodeURIComponent(first.next_cursor!)}`,
      );
      expectError(otherList, 400, 'VALIDATION_ERROR', 'cursor');
    });
  });
});

describe('hole 9: the server enforces what "encrypted" means', () => {
  let gil: ChatClient;
  let roomId: string;
  const encrypted = { is_encrypted: true, encryption_key_id: 'k1', encrypted_content: 'Q0lQSA==' };
  beforeAll(async () => {
    gil = await env.client('r9_gil');
    roomId = (await group(gil, ['r9_hal'])).body.data.id;
  });

  it.each([
    ['content', { content: 'plaintext' }],
    ['media', { media: { url: 'https://x.example/photo.jpg' } }],
    ['file_url', { file_url: 'https://x.example/photo.jpg' }],
  ])('refuses an encrypted message carrying plaintext %s', async (field, extra) => {
    const res = await gil.http('POST', `/api/chat/rooms/${roomId}/messages`, {
      ...encrypted,
      ...extra,
    });
    expectError(res, 400, 'VALIDATION_ERROR', `${field}: must`);
  });

  it('refuses ciphertext on a message not flagged encrypted, over HTTP and WebSocket', async () => {
    const res = await gil.http('POST', `/api/chat/rooms/${roomId}/messages`, {
      content: 'hi',
      is_encrypted: false,
      encrypted_content: 'Q0lQSA==',
    });
    expectError(res, 400, 'VALIDATION_ERROR', 'encrypted_content');
    await gil.connect();
    gil.send({
      action: 'send-message',
      room_id: roomId,
      content: 'hi',
      encrypted_content: 'Q0lQSA==',
      temp_id: 'r9-1',
    });
    const refused = await gil.waitFor('error', (d) => d.temp_id === 'r9-1');
    expect(refused.data).toMatchObject({ code: 'VALIDATION_ERROR', action: 'send-message' });
    expect(refused.data.message).toContain('encrypted_content');
    await gil.close();
  });

  it('refuses to forward any message carrying ciphertext, whatever its flag says', async () => {
    const target = (await group(gil, [])).body.data.id;
    const flagged = await gil.http<Message>(
      'POST',
      `/api/chat/rooms/${roomId}/messages`,
      encrypted,
    );
    expect(flagged.status).toBe(201);
    expectError(
      await gil.http('POST', `/api/chat/messages/${flagged.body.data.id}/forward`, {
        target_room_ids: [target],
      }),
      422,
      'UNPROCESSABLE',
    );
    // A message stored before the send rules existed: ciphertext, but not flagged.
    const legacy = await gil.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, {
      content: 'looks plain',
    });
    const where = parseMessageId(legacy.body.data.id)!;
    const key = messageKey(where.roomId, where.seq);
    await env.stack.aws.dynamo.client.send(
      new UpdateItemCommand({
        TableName: env.stack.tableName,
        Key: { pk: { S: key.pk as string }, sk: { S: key.sk as string } },
        UpdateExpression: 'SET encrypted_content = :c',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':c': { S: 'Q0lQSA==' } },
      }),
    );
    expectError(
      await gil.http('POST', `/api/chat/messages/${legacy.body.data.id}/forward`, {
        target_room_ids: [target],
      }),
      422,
      'UNPROCESSABLE',
    );
    const copies = await gil.http<{ messages: unknown[] }>(
      'GET',
      `/api/chat/rooms/${target}/messages`,
    );
    expect(copies.body.data.messages).toEqual([]);
  });
});
