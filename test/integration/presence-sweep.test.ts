import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * The sweeper asks API Gateway about every stored connection (GetConnection).
 * A connection still inside its $connect answers 410 like a closed one; the
 * sweep must not remove it, or its socket opens unknown to every fan-out.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let gateway: Server;
let presence: typeof import('#domain/presence.ts');
let connections: typeof import('#store/connections.ts');

beforeAll(async () => {
  aws = await localAws();
  // A management API for which every connection is gone (or still connecting): 410.
  gateway = createServer((_req, res) => {
    res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
    res.end(JSON.stringify({ message: 'Gone' }));
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  process.env.WS_ENDPOINT = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  presence = await import('#domain/presence.ts');
  connections = await import('#store/connections.ts');
});
afterAll(async () => {
  gateway?.close();
  await aws?.stop();
});

it('keeps a connection that answers 410 while it is young, and removes an old one that does', async () => {
  // Prepare: one connection made just now (its $connect may still be running), one a minute ago.
  const now = new Date();
  await presence.connectClient(caller('sw_young'), 'conn-young', undefined, now);
  await presence.connectClient(
    caller('sw_old'),
    'conn-old',
    undefined,
    new Date(now.getTime() - 60_000),
  );
  // Act
  await presence.sweep(now);
  // Assess
  const live = await connections.getConnections(['sw_young', 'sw_old']);
  expect((live.get('sw_young') ?? []).map((c) => c.id)).toEqual(['conn-young']);
  expect(live.get('sw_old') ?? []).toEqual([]);
});
