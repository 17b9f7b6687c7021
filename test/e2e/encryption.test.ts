import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** Issue 7 through HTTP: the key directory and encrypted messages. */
type Env = Awaited<ReturnType<typeof startStack>>;
type Key = {
  key_id: string;
  device_id: string;
  public_key: string;
  fingerprint: string;
  is_active: boolean;
  is_verified: boolean;
};

let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

function newKey() {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const der = pair.publicKey.export({ type: 'spki', format: 'der' });
  return { pem, fingerprint: createHash('sha256').update(der).digest('hex').toUpperCase(), pair };
}

async function shareRoom(a: ChatClient, b: ChatClient) {
  return (
    await a.http<{ id: string }>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: [b.userId],
    })
  ).body.data;
}

describe('public keys', () => {
  it('stores a key, answers its fingerprint, and shows it to users who share a room', async () => {
    const [ana, ben, stranger] = await Promise.all([
      env.client('k_ana'),
      env.client('k_ben'),
      env.client('k_stranger'),
    ]);
    await shareRoom(ana, ben);
    const key = newKey();
    const up = await ana.http<{ key_id: string; fingerprint: string; uploaded_at: string }>(
      'POST',
      '/api/chat/encryption/keys',
      {
        public_key: key.pem,
        device_id: 'phone',
        key_id: 'key_001',
      },
    );
    expect(up.status).toBe(200);
    expect(up.body.data).toMatchObject({
      key_id: 'key_001',
      fingerprint: key.fingerprint,
      uploaded_at: expect.any(String),
    });

    const seen = await ben.http<{ user_id: string; keys: Key[] }>(
      'GET',
      '/api/chat/encryption/keys/k_ana',
    );
    expect(seen.body.data.keys).toEqual([
      expect.objectContaining({
        key_id: 'key_001',
        device_id: 'phone',
        fingerprint: key.fingerprint,
        is_active: true,
      }),
    ]);
    expect((await ana.http('GET', '/api/chat/encryption/keys/k_ana')).status).toBe(200);
    const hidden = await stranger.http('GET', '/api/chat/encryption/keys/k_ana');
    expect(hidden.status).toBe(404);
    expect((await stranger.http('GET', '/api/chat/encryption/keys/k_nobody')).status).toBe(404);
  });

  it('refuses private keys and non-keys with 400, storing nothing', async () => {
    const cy = await env.client('k_cy');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const pem of [
      rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      'not a key',
    ]) {
      const res = await cy.http('POST', '/api/chat/encryption/keys', {
        public_key: pem,
        device_id: 'd',
        key_id: 'k',
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain('PRIVATE KEY-----\nMII');
    }
    expect(
      (await cy.http<{ keys: Key[] }>('GET', '/api/chat/encryption/keys/k_cy')).body.data.keys,
    ).toEqual([]);
    const big = await cy.http('POST', '/api/chat/encryption/keys', {
      public_key: 'x'.repeat(9000),
      device_id: 'd',
      key_id: 'k',
    });
    expect(big.status).toBe(400);
  });

  it('verifies a fingerprint, refuses a mismatch, and lets the verification lapse on rotation', async () => {
    const [dee, eve] = await Promise.all([env.client('k_dee'), env.client('k_eve')]);
    await shareRoom(dee, eve);
    const first = newKey();
    await dee.http('POST', '/api/chat/encryption/keys', {
      public_key: first.pem,
      device_id: 'laptop',
      key_id: 'k1',
    });
    await eve.connect();

    const wrong = await eve.http('POST', '/api/chat/encryption/verify', {
      user_id: 'k_dee',
      key_id: 'k1',
      fingerprint: 'ABCDEF',
    });
    expect(wrong.status).toBe(400);
    const unknown = await eve.http('POST', '/api/chat/encryption/verify', {
      user_id: 'k_dee',
      key_id: 'k9',
      fingerprint: first.fingerprint,
    });
    expect(unknown.status).toBe(400);
    const ok = await eve.http('POST', '/api/chat/encryption/verify', {
      user_id: 'k_dee',
      key_id: 'k1',
      fingerprint: first.fingerprint.toLowerCase(),
    });
    expect(ok.status).toBe(200);
    expect(ok.body.message).toBe('Key verified successfully');
    let keys = (await eve.http<{ keys: Key[] }>('GET', '/api/chat/encryption/keys/k_dee')).body.data
      .keys;
    expect(keys.map((k) => [k.key_id, k.is_active, k.is_verified])).toEqual([['k1', true, true]]);

    const second = newKey();
    await dee.http('POST', '/api/chat/encryption/keys', {
      public_key: second.pem,
      device_id: 'laptop',
      key_id: 'k2',
    });
    const changed = await eve.waitFor('encryption-key-changed', (d) => d.key_id === 'k2');
    expect(changed.data).toEqual({
      user_id: 'k_dee',
      device_id: 'laptop',
      key_id: 'k2',
      fingerprint: second.fingerprint,
    });
    keys = (await eve.http<{ keys: Key[] }>('GET', '/api/chat/encryption/keys/k_dee')).body.data
      .keys;
    // The old key stays listed, no longer active; the verification of it still names its bytes.
    expect(keys.map((k) => [k.key_id, k.is_active, k.is_verified, k.fingerprint])).toEqual([
      ['k1', false, true, first.fingerprint],
      ['k2', true, false, second.fingerprint],
    ]);
    const stale = await eve.http('POST', '/api/chat/encryption/verify', {
      user_id: 'k_dee',
      key_id: 'k1',
      fingerprint: first.fingerprint,
    });
    expect(stale.status).toBe(400);
  });

  it('lists an expired key as inactive and refuses reusing a key_id for another key', async () => {
    const fay = await env.client('k_fay');
    const key = newKey();
    const soon = new Date(Date.now() + 3000).toISOString();
    await fay.http('POST', '/api/chat/encryption/keys', {
      public_key: key.pem,
      device_id: 'tab',
      key_id: 'kx',
      expires_at: soon,
    });
    const again = await fay.http('POST', '/api/chat/encryption/keys', {
      public_key: newKey().pem,
      device_id: 'tab',
      key_id: 'kx',
    });
    expect(again.status).toBe(409);
    const listed = async () =>
      (
        await fay.http<{ keys: Key[] }>('GET', '/api/chat/encryption/keys/k_fay')
      ).body.data.keys.map((k) => [k.key_id, k.is_active]);
    expect(await listed()).toEqual([['kx', true]]);
    await new Promise((r) => setTimeout(r, Date.parse(soon) - Date.now() + 200));
    expect(await listed()).toEqual([['kx', false]]);
  });
});

describe('encrypted messages', () => {
  it('round-trips encrypted_content byte for byte, with empty content, and never forwards it', async () => {
    const [gil, hal] = await Promise.all([env.client('k_gil'), env.client('k_hal')]);
    const room = await shareRoom(gil, hal);
    const ciphertext = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64');
    await hal.connect();
    const sent = await gil.http<{ id: string; content: string; encrypted_content: string }>(
      'POST',
      `/api/chat/rooms/${room.id}/messages`,
      {
        content: '',
        is_encrypted: true,
        encryption_key_id: 'key_001',
        encrypted_content: ciphertext,
      },
    );
    expect(sent.status).toBe(201);
    const live = await hal.waitFor(
      'new-chat-message',
      (d) => (d.message as { id: string }).id === sent.body.data.id,
    );
    expect(live.data.message).toMatchObject({
      is_encrypted: true,
      encryption_key_id: 'key_001',
      encrypted_content: ciphertext,
      content: '',
    });
    const listed = (
      await hal.http<{ messages: { encrypted_content: string }[] }>(
        'GET',
        `/api/chat/rooms/${room.id}/messages`,
      )
    ).body.data.messages;
    expect(listed[0]!.encrypted_content).toBe(ciphertext);
    const withContent = await gil.http('POST', `/api/chat/rooms/${room.id}/messages`, {
      content: 'plain',
      is_encrypted: true,
      encryption_key_id: 'key_001',
      encrypted_content: ciphertext,
    });
    expect(withContent.status).toBe(400);
    const rooms = (
      await hal.http<{ rooms: { id: string; last_message: { content: string } }[] }>(
        'GET',
        '/api/chat/rooms',
      )
    ).body.data.rooms;
    expect(rooms.find((r) => r.id === room.id)?.last_message.content).toBe('');
  });
});
