import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * The local cloud itself (issue 21 items 2-4): what a client or a stray item
 * can do to `npm start`'s process and listeners, and text that the local
 * emulators must carry as AWS would.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
/** Under `npm start` any of these ends the process: none may come from the stack. */
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  env = await startStack();
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await env?.stop();
});

describe('the stream reader survives any record', () => {
  it('reads on past an item whose maps have __proto__ and constructor keys (written around the schemas)', async () => {
    // As a key upload with device_id __proto__ once wrote it: a map keyed by the device.
    const poisoned = JSON.parse(
      '{"pk":{"S":"USER#poison"},"sk":{"S":"KEYDEVICES"},"entity":{"S":"key-devices"},' +
        '"active":{"M":{"__proto__":{"S":"k1"},"constructor":{"M":{"__proto__":{"L":[]}}},"ok":{"S":"k2"}}}}',
    );
    await env.stack.aws.dynamo.client.send(
      new PutItemCommand({ TableName: env.stack.tableName, Item: poisoned }),
    );
    // Records after it still reach the consumer: an away member's unread count moves.
    const [ann, bob] = await Promise.all([env.client('st_ann'), env.client('st_bob')]);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'after the poison',
        member_ids: ['st_bob'],
      })
    ).body.data;
    await ann.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'still flowing' });
    await eventually(async () => {
      const counts = (await bob.http<{ total_unread: number }>('GET', '/api/chat/unread-count'))
        .body.data;
      expect(counts.total_unread).toBe(1);
    });
    expect(env.stack.streamSkipped).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});

describe('reserved names are refused in every id a client chooses', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const refused = (
    res: { status: number; body: { error?: { code: string; message: string } } },
    field: string,
  ) => {
    expect({ status: res.status, code: res.body.error?.code }).toEqual({
      status: 400,
      code: 'VALIDATION_ERROR',
    });
    expect(res.body.error?.message).toContain(`${field}: must not be a reserved name`);
  };

  it('answers 400 VALIDATION_ERROR naming the field, over HTTP and WebSocket, and stores nothing', async () => {
    const [ann] = await Promise.all([env.client('rs_ann'), env.client('rs_bob')]);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'g',
        member_ids: ['rs_bob'],
      })
    ).body.data;
    const sent = (
      await ann.http<{ id: string }>('POST', `/api/chat/rooms/${room.id}/messages`, {
        content: 'hi',
      })
    ).body.data;
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const key = { public_key: pem, device_id: 'd1', key_id: 'k1' };
      refused(
        await ann.http('POST', '/api/chat/encryption/keys', { ...key, device_id: name }),
        'device_id',
      );
      refused(
        await ann.http('POST', '/api/chat/encryption/keys', { ...key, key_id: name }),
        'key_id',
      );
      refused(
        await ann.http('POST', '/api/chat/encryption/verify', {
          user_id: 'rs_bob',
          key_id: name,
          fingerprint: 'f',
        }),
        'key_id',
      );
      const roomPath = `/api/chat/rooms/${room.id}`;
      refused(
        await ann.http('POST', `${roomPath}/messages`, { content: 'x', temp_id: name }),
        'temp_id',
      );
      refused(
        await ann.http('POST', `${roomPath}/messages`, {
          is_encrypted: true,
          encrypted_content: 'c',
          encryption_key_id: name,
        }),
        'encryption_key_id',
      );
      refused(await ann.http('GET', `/api/chat/rooms/${name}`), 'room_id');
      refused(await ann.http('DELETE', `/api/chat/messages/${name}`), 'message_id');
      refused(
        await ann.http('PUT', `${roomPath}/read-status`, {
          is_read: true,
          last_read_message_id: name,
        }),
        'last_read_message_id',
      );
      refused(await ann.http('PUT', '/api/chat/read-status', { room_ids: [name] }), 'room_ids.0');
      refused(
        await ann.http('POST', `/api/chat/messages/${sent.id}/forward`, {
          target_room_ids: [room.id, name],
        }),
        'target_room_ids.1',
      );
    }
    // The same rule behind the WebSocket actions.
    await ann.connect();
    ann.send({ action: 'send-message', room_id: room.id, content: 'x', temp_id: '__proto__' });
    const error = await ann.waitFor('error', (d) => d.action === 'send-message');
    expect(error.data).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(String(error.data.message)).toContain('temp_id: must not be a reserved name');
    ann.send({ action: 'mark-messages-seen', room_id: '__proto__', message_ids: ['constructor'] });
    const seen = await ann.waitFor('error', (d) => d.action === 'mark-messages-seen');
    expect(String(seen.data.message)).toContain('room_id: must not be a reserved name');
    // No key was stored for any of them.
    const keys = await ann.http<{ keys: unknown[] }>('GET', '/api/chat/encryption/keys/rs_ann');
    expect(keys.body.data.keys).toEqual([]);
  });
});

describe('local internals are not exposed', () => {
  it('serves @connections on the public WebSocket and HTTP ports to no one', async () => {
    const wsHttp = env.stack.wsUrl.replace('ws:', 'http:');
    for (const base of [wsHttp, `${wsHttp}/local`, env.stack.httpUrl]) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const res = await fetch(`${base}/@connections/abc`, {
          method,
          ...(method === 'POST' ? { body: '{"event":"x"}' } : {}),
        });
        expect([403, 404], `${method} ${base}`).toContain(res.status);
      }
    }
    // The functions' endpoint still answers (410: no such connection).
    expect((await fetch(`${env.stack.managementUrl}/@connections/abc`)).status).toBe(410);
  });

  /** Streams `total` bytes at the endpoint until it answers; what was sent by then, and when. */
  function oversizedPost(chunked: boolean, total = 200 * 1024 * 1024) {
    return new Promise<{ status: number; sentBytes: number; ms: number }>((resolve, reject) => {
      const started = performance.now();
      let sentBytes = 0;
      let answered = false;
      const req = request(`${env.stack.managementUrl}/@connections/abc`, {
        method: 'POST',
        headers: chunked ? {} : { 'content-length': String(total) },
      });
      req.on('response', (res) => {
        answered = true;
        resolve({ status: res.statusCode ?? 0, sentBytes, ms: performance.now() - started });
        res.resume();
        req.destroy();
      });
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!answered && sentBytes < total) {
          sentBytes += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
  }

  it('answers an oversized @connections post with 413 at once, without reading it all', async () => {
    for (const chunked of [false, true]) {
      const answer = await oversizedPost(chunked);
      expect(answer.status, `chunked: ${chunked}`).toBe(413);
      // Answered long before the 200 MB went out (the socket buffers hold a few MB at most).
      expect(answer.sentBytes, `chunked: ${chunked}`).toBeLessThan(32 * 1024 * 1024);
      expect(answer.ms, `chunked: ${chunked}`).toBeLessThan(5_000);
    }
    // A post at the limit is still read (410 here: no such connection).
    const atLimit = await fetch(`${env.stack.managementUrl}/@connections/abc`, {
      method: 'POST',
      body: 'x'.repeat(128 * 1024),
    });
    expect(atLimit.status).toBe(410);
  });

  it("listens on loopback only: every local port refuses a connection on the machine's other addresses", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    const aws = env.stack.aws;
    const ports = {
      http: env.stack.httpUrl,
      ws: env.stack.wsUrl,
      '@connections': env.stack.managementUrl,
      dynamodb: aws.dynamo.endpoint,
      'sqs/sns (fauxqs)': aws.messaging.server.address,
      'sqs endpoint': aws.messaging.endpoint,
      'push platform': aws.push.endpoint,
    };
    const reach = (host: string, port: number) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host, port, timeout: 2000 });
        const settle = (outcome: string) => {
          resolve(outcome);
          socket.destroy();
        };
        socket.once('connect', () => settle('accepted'));
        socket.once('timeout', () => settle('timeout'));
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
    const seen: Record<string, string[]> = {};
    for (const [name, url] of Object.entries(ports)) {
      const port = Number(new URL(url).port);
      seen[name] = [await reach('127.0.0.1', port)];
      if (external) seen[name].push(await reach(external, port));
    }
    const expected = external ? ['accepted', 'ECONNREFUSED'] : ['accepted'];
    expect(seen).toEqual(Object.fromEntries(Object.keys(ports).map((k) => [k, expected])));
    if (!external) console.warn('no non-loopback IPv4 address here: only loopback was checked');
  });
});

describe('the local queues carry any text SQS accepts', () => {
  const texts = ['👍🏽🎉', '你好世界', 'مرحبا بالعالم', 'שלום', 'mixed: 👍🏽 你好世界 שלום 🎉 ok'];

  it('delivers emoji, CJK and RTL messages to an away member on reconnect, byte for byte, and pushes them', async () => {
    const [ann, bob] = await Promise.all([env.client('tx_ann'), env.client('tx_bob')]);
    const device = await bob.http('POST', '/api/chat/devices', {
      platform: 'fcm',
      token: 'phone-of-tx-bob-0001',
    });
    expect(device.status).toBe(201);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'текст',
        member_ids: ['tx_bob'],
      })
    ).body.data;
    const sent: { id: string; content: string }[] = [];
    for (const content of texts) {
      const res = await ann.http<{ id: string; content: string }>(
        'POST',
        `/api/chat/rooms/${room.id}/messages`,
        { content },
      );
      expect(res.status).toBe(201);
      sent.push(res.body.data);
    }
    // Bob was away: the offline queue pushed to his phone, with the text as written.
    const pushed = await eventually(async () => {
      const found = env.stack.aws.push.pushes('tx_bob');
      expect(found.length).toBeGreaterThan(0);
      return found;
    });
    for (const push of pushed) {
      const body = JSON.parse(JSON.parse(push.message).GCM as string).notification.body as string;
      expect(
        texts.some((t) => body.includes(t)),
        body,
      ).toBe(true);
    }
    // On reconnect, every message arrives from the queue, its content unchanged to the byte.
    await bob.connect();
    for (const message of sent) {
      const frame = await bob.waitFor(
        'new-chat-message',
        (d) => (d.message as { id: string }).id === message.id,
      );
      const content = (frame.data.message as { content: string }).content;
      expect(Buffer.from(content, 'utf8').equals(Buffer.from(message.content, 'utf8'))).toBe(true);
    }
    expect(sent.map((m) => m.content)).toEqual(texts);
  });
});
