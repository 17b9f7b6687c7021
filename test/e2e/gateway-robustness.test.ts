import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStack } from '../support/stack.ts';

/**
 * Issue 11, hole 4 (and the `%` escapes of hole 7): nothing a client sends can
 * crash the local gateways. The stack runs in this test process, so an uncaught
 * error would fail the run; each case also checks another client still works.
 */
let env: Awaited<ReturnType<typeof startStack>>;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

async function openSocket(userId: string): Promise<WebSocket> {
  const token = await env.stack.issueToken(userId);
  const socket = new WebSocket(`${env.stack.wsUrl}?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function closeCode(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve(-1);
    socket.once('close', (code) => resolve(code));
    // The client side may also see the server's close as an error; that is expected here.
    socket.on('error', () => undefined);
  });
}

function nextFrame(socket: WebSocket): Promise<{ event: string; data: Record<string, unknown> }> {
  return new Promise((resolve) => socket.once('message', (raw) => resolve(JSON.parse(`${raw}`))));
}

/** Another client's socket keeps working: ping → pong. */
async function stillServes(socket: WebSocket) {
  const frame = nextFrame(socket);
  socket.send(JSON.stringify({ action: 'ping' }));
  expect((await frame).event).toBe('pong');
}

describe('the local WebSocket gateway', () => {
  let bystander: WebSocket;
  beforeAll(async () => {
    bystander = await openSocket('rb_bystander');
  });
  afterAll(() => bystander.close());

  it('closes a socket that sends a frame over 32 KB with 1009, and serves everyone else', async () => {
    const offender = await openSocket('rb_big');
    const closed = closeCode(offender);
    offender.send(JSON.stringify({ action: 'ping', pad: 'x'.repeat(33 * 1024) }));
    expect(await closed).toBe(1009);
    await stillServes(bystander);
    const fresh = await openSocket('rb_big');
    await stillServes(fresh);
    fresh.close();
  });

  it('closes a socket that sends invalid UTF-8 (1007) or a malformed frame (1002)', async () => {
    const badText = await openSocket('rb_utf8');
    const utf8Closed = closeCode(badText);
    badText.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false });
    expect(await utf8Closed).toBe(1007);

    const badFrame = await openSocket('rb_frame');
    const frameClosed = closeCode(badFrame);
    // FIN + RSV2 + text opcode, masked, empty: RSV bits without an extension are a protocol error.
    const raw = (badFrame as unknown as { _socket: { write(b: Buffer): void } })._socket;
    raw.write(Buffer.from([0xa1, 0x80, 1, 2, 3, 4]));
    expect(await frameClosed).toBe(1002);
    await stillServes(bystander);
  });

  it('answers a frame that is not JSON with an error event and keeps the socket open', async () => {
    const socket = await openSocket('rb_text');
    const frame = nextFrame(socket);
    socket.send('not json {');
    expect(await frame).toMatchObject({ event: 'error', data: { code: 'VALIDATION_ERROR' } });
    await stillServes(socket);
    socket.close();
  });

  it('survives a client that resets the connection in the middle of $connect', async () => {
    const token = await env.stack.issueToken('rb_reset');
    const port = new URL(env.stack.wsUrl).port;
    for (let i = 0; i < 5; i++) {
      const raw = tcpConnect(Number(port), '127.0.0.1');
      raw.on('error', () => undefined);
      await new Promise((resolve) => raw.once('connect', resolve));
      raw.write(
        `GET /?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      raw.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stillServes(bystander);
  });

  it('answers a malformed @connections id with 400, not a crash', async () => {
    const res = await fetch(`${env.stack.managementUrl}/@connections/%E0%A4%A`);
    expect(res.status).toBe(400);
    await stillServes(bystander);
  });
});

describe('the local HTTP gateway', () => {
  it('answers malformed % escapes in a path with 400 in the envelope', async () => {
    const token = await env.stack.issueToken('rb_http');
    for (const path of [
      '/api/chat/rooms/%E0%A4%A',
      '/api/chat/rooms/%',
      '/api/chat/messages/%zz',
    ]) {
      const method = path.startsWith('/api/chat/messages') ? 'DELETE' : 'GET';
      const res = await fetch(`${env.stack.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 400,
        body: {
          success: false,
          error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('encoding') },
        },
      });
    }
    const health = await fetch(`${env.stack.httpUrl}/local/health`);
    expect(health.status).toBe(200);
  });

  it('answers a garbled request line without dying', async () => {
    const port = Number(new URL(env.stack.httpUrl).port);
    const answer = await new Promise<string>((resolve) => {
      const raw = tcpConnect(port, '127.0.0.1', () => raw.write('GARBAGE \u0000 HTTP/9\r\n\r\n'));
      let text = '';
      raw.on('data', (chunk) => {
        text += chunk.toString();
      });
      raw.on('error', () => resolve(text));
      raw.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${env.stack.httpUrl}/local/health`)).status).toBe(200);
  });
});

describe('answers that name what went wrong (issue 16)', () => {
  it('answers a wrong method on an existing path with 405 and Allow, in the envelope', async () => {
    const token = await env.stack.issueToken('rb_method');
    const res = await fetch(`${env.stack.httpUrl}/api/chat/rooms/r1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET']);
    expect(await res.json()).toEqual({
      success: false,
      error: { code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining('GET') },
    });
    const unknown = await fetch(`${env.stack.httpUrl}/api/chat/nowhere`, { method: 'PUT' });
    expect(unknown.status).toBe(404);
    const preflight = await fetch(`${env.stack.httpUrl}/api/chat/rooms/r1`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.test', 'access-control-request-method': 'DELETE' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('DELETE');
  });

  it('answers an unknown WebSocket action naming the action sent, not $default', async () => {
    const socket = await openSocket('rb_action');
    const frame = nextFrame(socket);
    socket.send(JSON.stringify({ action: 'send-mesage', temp_id: 't9' }));
    expect(await frame).toEqual({
      event: 'error',
      data: {
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining('send-mesage'),
        action: 'send-mesage',
        temp_id: 't9',
      },
    });
    socket.close();
  });
});
