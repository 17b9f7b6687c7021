import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../support/stack.ts';

/** Push devices (docs/openapi.json), per-user rate limits and the key-device cap. */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

describe('push devices', () => {
  it('registers a device idempotently and removes it; an unknown device is 404', async () => {
    const ann = await env.client('v_ann');
    const first = await ann.http<{ device_id: string; platform: string }>(
      'POST',
      '/api/chat/devices',
      { platform: 'fcm', token: 'fcm-token-123456' },
    );
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject({
      platform: 'fcm',
      device_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const again = await ann.http<{ device_id: string }>('POST', '/api/chat/devices', {
      platform: 'fcm',
      token: 'fcm-token-123456',
    });
    expect(again.body.data.device_id).toBe(first.body.data.device_id);
    expect(
      (await ann.http('POST', '/api/chat/devices', { platform: 'sms', token: 'x' })).status,
    ).toBe(400);
    expect(
      (await ann.http('DELETE', `/api/chat/devices/${first.body.data.device_id}`)).status,
    ).toBe(200);
    expect(
      (await ann.http('DELETE', `/api/chat/devices/${first.body.data.device_id}`)).status,
    ).toBe(404);
  });
});

describe('rate limits', () => {
  it('limits forwarding per user with 429 and Retry-After', async () => {
    const bob = await env.client('v_bob');
    const room = (
      await bob.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'r',
        member_ids: [],
      })
    ).body.data;
    const message = (
      await bob.http<{ id: string }>('POST', `/api/chat/rooms/${room.id}/messages`, {
        content: 'x',
      })
    ).body.data;
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof bob.http>> | undefined;
    const started = Date.now();
    while (!limited && statuses.length < 40) {
      const res = await bob.http('POST', `/api/chat/messages/${message.id}/forward`, {
        target_room_ids: [room.id],
      });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    // A token bucket: a burst of 30, then one more every 2 s while the loop runs.
    const refilled = Math.floor((Date.now() - started) / 2_000);
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(30);
    expect(passed).toBeLessThanOrEqual(30 + refilled);
    expect(limited?.body.error?.code).toBe('RATE_LIMITED');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('limits key uploads per user', async () => {
    const dee = await env.client('v_dee');
    const pem = () =>
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      statuses.push(
        (
          await dee.http('POST', '/api/chat/encryption/keys', {
            public_key: pem(),
            device_id: 'phone',
            key_id: `k${i}`,
          })
        ).status,
      );
    }
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it('caps the devices that may hold encryption keys', async () => {
    const cy = await env.client('v_cy');
    const pem = () =>
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (let d = 0; d < 10; d++) {
      const res = await cy.http('POST', '/api/chat/encryption/keys', {
        public_key: pem(),
        device_id: `d${d}`,
        key_id: 'k',
      });
      expect(res.status).toBe(200);
    }
    const over = await cy.http('POST', '/api/chat/encryption/keys', {
      public_key: pem(),
      device_id: 'd10',
      key_id: 'k',
    });
    expect(over.status).toBe(409);
    const rotate = await cy.http('POST', '/api/chat/encryption/keys', {
      public_key: pem(),
      device_id: 'd3',
      key_id: 'k2',
    });
    expect(rotate.status).toBe(200);
  });
});
