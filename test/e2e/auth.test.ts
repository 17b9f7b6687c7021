import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gatewayClaims } from '#local/http-gateway.ts';
import { invocationCounts } from '#local/lambda-runtime.ts';
import { startStack } from '../support/stack.ts';

/**
 * Issue 11 holes 5 and 6, issue 13 item 5: tokens at the edges. Every bad token
 * gets 401 in the envelope over HTTP and a refused upgrade on $connect.
 */
let env: Awaited<ReturnType<typeof startStack>>;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function badTokens(): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'edge_eve', iss: env.stack.httpUrl, aud: 'chat-local', exp: now + 600 };
  return {
    'another audience': await env.stack.issueToken('edge_eve', 'Eve', { audience: 'other-app' }),
    'another issuer': await env.stack.issueToken('edge_eve', 'Eve', {
      issuer: 'https://evil.example.com',
    }),
    expired: await env.stack.issueToken('edge_eve', 'Eve', { expiresInSeconds: -60 }),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    malformed: 'not-a-jwt',
  };
}

async function http(token: string | undefined, method = 'GET', path = '/api/chat/rooms') {
  const res = await fetch(`${env.stack.httpUrl}${path}`, {
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: await res.json() };
}

function upgrade(url: string, protocols?: string[]): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.once('error', () => resolve(0));
  });
}

describe('tokens the gateway refuses', () => {
  it('answers 401 UNAUTHORIZED in the envelope for no token and for each bad token', async () => {
    const unauthorized = {
      status: 401,
      body: { success: false, error: { code: 'UNAUTHORIZED', message: expect.any(String) } },
    };
    const bad = await badTokens();
    const ran = () => invocationCounts.get('http/list-rooms') ?? 0;
    const before = ran();
    expect(await http(undefined)).toEqual(unauthorized);
    for (const [what, token] of Object.entries(bad))
      expect({ what, ...(await http(token)) }).toEqual({ what, ...unauthorized });
    // The gateway refused them all: the route's function never ran.
    expect(ran()).toBe(before);
    const good = await env.stack.issueToken('edge_eve');
    expect((await http(good)).status).toBe(200);
    expect(ran()).toBe(before + 1);
  });

  it('hands the handler the verified claims, and takes the token with or without Bearer', async () => {
    const token = await env.stack.issueToken('edge_finn', 'Finn');
    for (const authorization of [`Bearer ${token}`, token]) {
      const res = await fetch(`${env.stack.httpUrl}/api/chat/rooms`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'group', name: 'claims', member_ids: [] }),
      });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { data: { created_by: string } }).data.created_by).toBe(
        'edge_finn',
      );
    }
  });

  it('formats claims as API Gateway does: every value a string', () => {
    expect(
      gatewayClaims({ sub: 'u', exp: 1700000000, admin: true, groups: ['a', 'b'], o: { k: 1 } }),
    ).toEqual({ sub: 'u', exp: '1700000000', admin: 'true', groups: '[a b]', o: 'map[k:1]' });
  });

  it('refuses the WebSocket upgrade (401) for each bad token, by query or subprotocol', async () => {
    for (const [what, token] of Object.entries(await badTokens())) {
      const byQuery = await upgrade(`${env.stack.wsUrl}?token=${encodeURIComponent(token)}`);
      const byProtocol = await upgrade(env.stack.wsUrl, ['chat', token]);
      expect({ what, byQuery, byProtocol }).toEqual({ what, byQuery: 401, byProtocol: 401 });
    }
    expect(await upgrade(env.stack.wsUrl)).toBe(401);
    const good = await env.stack.issueToken('edge_eve');
    expect(await upgrade(`${env.stack.wsUrl}?token=${good}`)).toBe(101);
    expect(await upgrade(env.stack.wsUrl, ['chat', good])).toBe(101);
  });

  it('finds the keys by OpenID discovery, as a stage without -c jwksUri does on AWS', async () => {
    const issuer = `${env.stack.httpUrl}/local`;
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const document = (await discovery.json()) as { issuer: string; jwks_uri: string };
    expect(document).toMatchObject({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` });
    const jwks = (await (await fetch(document.jwks_uri)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(['local-dev-key']);
    // The $connect authorizer runs with no JWKS_URI: the accepted upgrades above went through discovery.
    expect(process.env.JWKS_URI).toBeUndefined();
    expect(process.env.JWT_ISSUER).toBe(issuer);
  });
});

describe('a socket whose token expires', () => {
  async function shortToken(sub: string, seconds: number) {
    const res = await fetch(`${env.stack.httpUrl}/local/token`, {
      method: 'POST',
      body: JSON.stringify({ sub, expires_in: seconds }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }

  function open(token: string) {
    const socket = new WebSocket(`${env.stack.wsUrl}?token=${encodeURIComponent(token)}`);
    const frames: { event: string; data: Record<string, unknown> }[] = [];
    socket.on('message', (raw) => frames.push(JSON.parse(`${raw}`)));
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    const opened = new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const next = async (event: string) => {
      for (let i = 0; i < 100 && !frames.some((f) => f.event === event); i++)
        await new Promise((r) => setTimeout(r, 50));
      return frames.find((f) => f.event === event);
    };
    return { socket, frames, closed, opened, next };
  }

  it('answers its next action with UNAUTHORIZED (naming the action and temp_id) and closes it', async () => {
    const token = await shortToken('edge_gil', 3);
    const room = (
      (await (
        await fetch(`${env.stack.httpUrl}/api/chat/rooms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'group', name: 'short', member_ids: [] }),
        })
      ).json()) as { data: { id: string } }
    ).data;
    const pinger = open(token);
    const sender = open(token);
    await Promise.all([pinger.opened, sender.opened]);
    pinger.socket.send(JSON.stringify({ action: 'ping' }));
    expect(await pinger.next('pong')).toBeDefined();

    await new Promise((r) => setTimeout(r, 3200));
    // `ping` is answered by the gateway itself (no function sees it); every action is refused.
    pinger.socket.send(
      JSON.stringify({ action: 'room-archive', room_id: room.id, is_archived: true }),
    );
    sender.socket.send(
      JSON.stringify({ action: 'send-message', room_id: room.id, content: 'late', temp_id: 't-1' }),
    );
    expect((await pinger.next('error'))?.data).toMatchObject({
      code: 'UNAUTHORIZED',
      action: 'room-archive',
    });
    expect((await sender.next('error'))?.data).toMatchObject({
      code: 'UNAUTHORIZED',
      action: 'send-message',
      temp_id: 't-1',
    });
    await Promise.all([pinger.closed, sender.closed]);
    expect(sender.frames.map((f) => f.event)).not.toContain('message-confirmed');

    // Nothing was stored, HTTP refuses the token too, and a fresh token works.
    const fresh = await env.stack.issueToken('edge_gil');
    const listed = await fetch(`${env.stack.httpUrl}/api/chat/rooms/${room.id}/messages`, {
      headers: { authorization: `Bearer ${fresh}` },
    });
    expect(((await listed.json()) as { data: { messages: unknown[] } }).data.messages).toEqual([]);
    expect((await http(token)).status).toBe(401);
    const again = open(fresh);
    await again.opened;
    again.socket.send(JSON.stringify({ action: 'ping' }));
    expect(await again.next('pong')).toBeDefined();
    again.socket.close();
  });

  it('POST /local/token refuses an expires_in that is not a positive whole number', async () => {
    for (const expires_in of [0, -5, 1.5, '10'])
      expect(
        (
          await fetch(`${env.stack.httpUrl}/local/token`, {
            method: 'POST',
            body: JSON.stringify({ sub: 'edge_gil', expires_in }),
          })
        ).status,
      ).toBe(400);
  });
});
