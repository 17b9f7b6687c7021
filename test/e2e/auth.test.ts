import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
    expect(await http(undefined)).toEqual(unauthorized);
    for (const [what, token] of Object.entries(await badTokens()))
      expect({ what, ...(await http(token)) }).toEqual({ what, ...unauthorized });
    const good = await env.stack.issueToken('edge_eve');
    expect((await http(good)).status).toBe(200);
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
});
