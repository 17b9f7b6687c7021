import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { setTestEnv } from './support.ts';

setTestEnv();
const gatewayModule = await import('#local/ws-gateway.ts');
const { identitySourcesPresent } = gatewayModule;
const { WS_MESSAGE_BYTES } = await import('#platform/limits.ts');

describe("the local gateway's $connect identity-source check (as API Gateway's)", () => {
  it('calls the authorizer only when every source is present and non-empty', () => {
    const query = ['route.request.querystring.token'];
    expect(identitySourcesPresent(query, {}, { token: 'abc' })).toBe(true);
    expect(identitySourcesPresent(query, {}, { token: '' })).toBe(false);
    expect(
      identitySourcesPresent(query, { 'sec-websocket-protocol': 'chat, abc' }, undefined),
    ).toBe(false);
    const both = [...query, 'route.request.header.Sec-WebSocket-Protocol'];
    expect(identitySourcesPresent(both, { 'sec-websocket-protocol': 'chat' }, { token: 'a' })).toBe(
      true,
    );
    expect(identitySourcesPresent(both, {}, { token: 'a' })).toBe(false);
    expect(identitySourcesPresent([], {}, undefined)).toBe(true);
  });
});

/**
 * API Gateway refuses a PostToConnection over its 128 KB message quota with 413
 * PayloadTooLargeException, and the client gets nothing; the local @connections
 * endpoint does the same, so a server frame that grows past it fails in tests
 * as it would on AWS (issue 24, B1).
 */
describe('the local @connections endpoint and a message over 128 KB (as API Gateway)', () => {
  const { createWsGateway } = gatewayModule;
  const gateway = createWsGateway(() => 0);
  const peer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const received: string[] = [];
  let client: WebSocket;
  let endpoint: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => gateway.management.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(gateway.management.address() as AddressInfo).port}`;
    // A live connection without a $connect (no authorizer, no functions): the server
    // end of a plain socket pair, registered as the gateway's own.
    if (!peer.address()) await new Promise((resolve) => peer.once('listening', resolve));
    const serverSide = new Promise<WebSocket>((resolve) => peer.once('connection', resolve));
    client = new WebSocket(`ws://127.0.0.1:${(peer.address() as AddressInfo).port}`);
    client.on('message', (data) => received.push(data.toString()));
    const socket = await serverSide;
    const now = Date.now();
    gateway.connections.set('conn-1', {
      socket,
      connectedAt: now,
      lastActiveAt: now,
      sourceIp: '127.0.0.1',
      authorizer: {},
    });
  });
  afterAll(async () => {
    client?.close();
    await new Promise((resolve) => peer.close(resolve));
    await new Promise((resolve) => gateway.management.close(resolve));
  });

  const post = (body: string) => fetch(`${endpoint}/@connections/conn-1`, { method: 'POST', body });
  const nextMessage = () =>
    new Promise<string>((resolve) => client.once('message', (data) => resolve(data.toString())));

  it('refuses a post of 128 KiB + 1 bytes with 413 PayloadTooLargeException and sends nothing; 128 KiB is delivered', async () => {
    expect(WS_MESSAGE_BYTES).toBe(131_072);
    const over = await post('y'.repeat(WS_MESSAGE_BYTES + 1));
    expect(over.status).toBe(413);
    expect(over.headers.get('x-amzn-errortype')).toBe('PayloadTooLargeException');
    // Multi-byte characters count as bytes, not characters: 43,691 × 3 bytes is over.
    expect((await post('中'.repeat(Math.ceil((WS_MESSAGE_BYTES + 1) / 3)))).status).toBe(413);
    const delivered = nextMessage();
    expect((await post('x'.repeat(WS_MESSAGE_BYTES))).status).toBe(200);
    expect((await delivered).length).toBe(WS_MESSAGE_BYTES);
    // Only the post within the limit reached the client.
    expect(received).toEqual(['x'.repeat(WS_MESSAGE_BYTES)]);
    expect(gateway.connections.has('conn-1')).toBe(true);
  });

  it("makes the functions' postToConnection log an error and report it failed, not gone; the connection stays", async () => {
    process.env.WS_ENDPOINT = endpoint;
    const { postToConnection } = await import('#platform/post-to-connection.ts');
    const { logger } = await import('#platform/observability.ts');
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const before = received.length;
    const frame = { event: 'sync-result', data: { blob: 'x'.repeat(WS_MESSAGE_BYTES) } };
    expect(await postToConnection('conn-1', frame)).toBe('failed');
    expect(error).toHaveBeenCalledWith(
      expect.stringContaining('128 KB'),
      expect.objectContaining({
        connectionId: 'conn-1',
        event: 'sync-result',
        bytes: JSON.stringify(frame).length,
      }),
    );
    expect(received.length).toBe(before);
    // The connection is not taken for gone: the next frame within the limit goes through.
    const delivered = nextMessage();
    expect(await postToConnection('conn-1', { event: 'pong', data: {} })).toBe('delivered');
    expect(JSON.parse(await delivered)).toEqual({ event: 'pong', data: {} });
    expect(gateway.connections.has('conn-1')).toBe(true);
  });
});
