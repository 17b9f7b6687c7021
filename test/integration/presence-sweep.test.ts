import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * The sweeper asks API Gateway about every stored connection (GetConnection).
 * A connection still inside its $connect answers 410 like a closed one; the
 * sweep must not remove it, or its socket opens unknown to every fan-out. A
 * connection silent for the heartbeat timeout is closed, unless so many look
 * silent that lastActiveAt cannot be counting the heartbeats (the breaker).
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let gateway: Server;
let presence: typeof import('#domain/presence.ts');
let connections: typeof import('#store/connections.ts');
let logger: typeof import('#platform/observability.ts').logger;
let metrics: typeof import('#platform/metrics.ts').metrics;
let SWEEP_HELD_METRIC: string;

/** What the fake management API says of each connection: its lastActiveAt; unknown ones are gone (410). */
const lastActive = new Map<string, Date>();
/** Connections the sweep closed (DELETE @connections/id). */
const closed: string[] = [];

beforeAll(async () => {
  aws = await localAws();
  gateway = createServer((req, res) => {
    const id = decodeURIComponent(req.url!.split('/@connections/')[1] ?? '');
    const at = lastActive.get(id);
    if (req.method === 'DELETE') closed.push(id);
    if (!at) {
      res.writeHead(410, {
        'content-type': 'application/json',
        'x-amzn-errortype': 'GoneException',
      });
      res.end(JSON.stringify({ message: 'Gone' }));
    } else if (req.method === 'DELETE') {
      lastActive.delete(id);
      res.writeHead(204).end();
    } else {
      // restJson1 member names, as the SDK's GetConnection parses them.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ connectedAt: at.toISOString(), lastActiveAt: at.toISOString() }));
    }
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  process.env.WS_ENDPOINT = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  presence = await import('#domain/presence.ts');
  connections = await import('#store/connections.ts');
  ({ logger } = await import('#platform/observability.ts'));
  ({ metrics } = await import('#platform/metrics.ts'));
  ({ SWEEP_HELD_METRIC } = await import('#platform/sweep-metrics.ts'));
});
afterEach(() => {
  // What a test left open is gone for the next one's sweep (410: removed, not asked about).
  lastActive.clear();
  closed.length = 0;
  vi.restoreAllMocks();
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

/**
 * `quiet` users connected five minutes ago whose lastActiveAt stayed there (as
 * if their pings did not count), `active` ones who spoke 10 s ago, plus one
 * gone (410) and one whose token expired.
 */
async function connectUsers(prefix: string, quiet: number, active: number, now: Date) {
  const opened = new Date(now.getTime() - 5 * 60_000);
  const ids = { quiet: [] as string[], active: [] as string[] };
  for (const [kind, count] of [
    ['quiet', quiet],
    ['active', active],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${kind}-${i}`;
      await presence.connectClient(caller(id), id, undefined, opened);
      lastActive.set(id, kind === 'quiet' ? opened : new Date(now.getTime() - 10_000));
      ids[kind].push(id);
    }
  }
  await presence.connectClient(caller(`${prefix}-gone`), `${prefix}-gone`, undefined, opened);
  const expired = `${prefix}-expired`;
  await presence.connectClient(
    caller(expired),
    expired,
    new Date(now.getTime() - 1000).toISOString(),
    opened,
  );
  lastActive.set(expired, new Date(now.getTime() - 10_000));
  return ids;
}

async function storedIds(userIds: string[]) {
  const live = await connections.getConnections(userIds);
  return [...live.values()]
    .flat()
    .map((c) => c.id)
    .sort();
}

it('closes none of the silent connections when most look silent (lastActiveAt not counting pings), and alarms', async () => {
  // Prepare: 20 of 24 connections silent; a gone one and an expired token besides.
  const now = new Date();
  const ids = await connectUsers('brk', 20, 4, now);
  const error = vi.spyOn(logger, 'error');
  const addMetric = vi.spyOn(metrics, 'addMetric');
  // Act
  const result = await presence.sweep(now);
  // Assess: the silent ones are all still stored and open; the gone and the expired are removed.
  const all = [...ids.quiet, ...ids.active, 'brk-gone', 'brk-expired'];
  expect(await storedIds(all)).toEqual([...ids.quiet, ...ids.active].sort());
  expect(closed).toEqual(['brk-expired']);
  expect(result).toMatchObject({ heldSilent: 20 });
  expect(error).toHaveBeenCalledOnce();
  expect(error.mock.calls[0]![1]).toMatchObject({ asked: 24, silent: 20 });
  expect(addMetric).toHaveBeenCalledWith(SWEEP_HELD_METRIC, 'Count', 20);
});

it('closes the silent connections when only a few are, as ever', async () => {
  // Prepare: 3 of 24 connections silent.
  const now = new Date();
  const ids = await connectUsers('few', 3, 21, now);
  const error = vi.spyOn(logger, 'error');
  const addMetric = vi.spyOn(metrics, 'addMetric');
  // Act
  const result = await presence.sweep(now);
  // Assess
  const all = [...ids.quiet, ...ids.active, 'few-gone', 'few-expired'];
  expect(await storedIds(all)).toEqual([...ids.active].sort());
  expect(closed.sort()).toEqual(['few-expired', ...ids.quiet].sort());
  expect(result).toMatchObject({ heldSilent: 0 });
  expect(error).not.toHaveBeenCalled();
  expect(addMetric).not.toHaveBeenCalled();
});

it("closes one user's devices gone dark together, though they are most of the connections", async () => {
  // Prepare: one user's 10 connections (LIMITS.connectionsPerUser) silent, 4 others active.
  const now = new Date();
  const opened = new Date(now.getTime() - 5 * 60_000);
  const devices = Array.from({ length: 10 }, (_, i) => `dark-${i}`);
  for (const id of devices) {
    await presence.connectClient(caller('dark_user'), id, undefined, opened);
    lastActive.set(id, opened);
  }
  const ids = await connectUsers('lit', 0, 4, now);
  // Act
  const result = await presence.sweep(now);
  // Assess
  expect(await storedIds(['dark_user', ...ids.active])).toEqual([...ids.active].sort());
  expect(closed.sort()).toEqual(['lit-expired', ...devices].sort());
  expect(result).toMatchObject({ heldSilent: 0 });
});
