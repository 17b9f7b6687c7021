import pLimit from 'p-limit';
import type { Caller } from '#platform/auth.ts';
import { ENV, heartbeatTimeoutMs, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import { closeConnection, connectionActivity } from '#platform/post-to-connection.ts';
import { enqueue } from '#platform/queues.ts';
import { recordSweepHeld } from '#platform/sweep-metrics.ts';
import { nowDate } from '#platform/time.ts';
import {
  addConnection,
  getConnections,
  listShardConnections,
  SWEEP_SHARDS,
} from '#store/connections.ts';
import { completeOffline, DUE_SHARDS, findDueOffline, markOnline } from '#store/presence.ts';
import { withoutBlocked } from './blocks.ts';
import { connectionGone, type PresenceCheck } from './connection-lifecycle.ts';
import { fanOut, mayStillBeConnecting } from './delivery.ts';
import { events } from './events.ts';
import { roomPeers } from './room-peers.ts';

/** Body of a "connection ready" message: deliver what is pending to it, and announce the user. */
export interface FlushRequest {
  user_id: string;
  connection_id: string;
  /** The user's first connection: peers hear `online` (off the $connect path). */
  online_at?: string | undefined;
}

export async function broadcastStatus(
  userId: string,
  status: 'online' | 'offline',
  lastSeen: string,
) {
  // Nobody a block stands between hears it (CONTRACT §9): one Query of the user's blocks.
  const peers = await withoutBlocked(userId, await roomPeers(userId));
  await fanOut(peers, events.userStatus(userId, status, lastSeen));
}

/**
 * A new connection. The user is online from their first connection; a second
 * device, or a reconnect within the grace period, broadcasts nothing. Neither
 * the pending messages nor the `online` broadcast (a user may share rooms with
 * thousands) run inside $connect: one queued message does both once it returns.
 */
export async function connectClient(
  caller: Caller,
  connectionId: string,
  tokenExpiresAt?: string,
  now = nowDate(),
) {
  const at = now.toISOString();
  const [, previous] = await Promise.all([
    addConnection({
      connection_id: connectionId,
      user_id: caller.userId,
      name: caller.name,
      connected_at: at,
      ...(tokenExpiresAt ? { token_expires_at: tokenExpiresAt } : {}),
    }),
    markOnline(caller.userId, at),
  ]);
  const ready: FlushRequest = {
    user_id: caller.userId,
    connection_id: connectionId,
    ...(previous !== 'online' ? { online_at: at } : {}),
  };
  await enqueue(requireEnv(ENV.flushQueueUrl), [ready], LIMITS.flushDelaySeconds);
}

/**
 * The grace period ended: the user goes offline unless a connection came back.
 * Both the delayed check and the sweeper call this; the conditional write makes
 * exactly one of them broadcast.
 */
export async function checkOffline(check: PresenceCheck, now = nowDate()) {
  if (Date.parse(check.due_at) > now.getTime()) return false;
  const live = (await getConnections([check.user_id])).get(check.user_id) ?? [];
  if (live.length > 0) return false;
  const done = await completeOffline(check.user_id, check.due_at);
  if (!done) return false;
  await broadcastStatus(check.user_id, 'offline', done.last_seen);
  return true;
}

/**
 * The sweep's breaker (issue 24 B2). The sweep relies on GetConnection's
 * lastActiveAt counting the `ping` frames API Gateway answers through a MOCK
 * integration, which AWS does not document: it describes lastActiveAt only as
 * when the connection was last active. Were it not so, every quiet client
 * (pinging, sending nothing) would look silent and be closed every minute.
 *
 * So a sweep that finds an implausible share of the connections it asked about
 * silent closes none of them: more than half of those old enough to have been
 * silent for the timeout (`asked`: answered by API Gateway, gone ones and
 * expired tokens aside) and more connections than one user may hold
 * (LIMITS.connectionsPerUser), so one user's devices going dark together, on
 * one Wi-Fi, never trip it. Healthy, a sweep sees silent only the clients that
 * vanished without a close in about the last minute (each is closed at its
 * first silent sweep); more than half of them at once is an outage or the
 * assumption failing. Either way holding them is safe: API Gateway closes a
 * socket idle for 10 minutes (its $disconnect, or a later sweep's 410, removes
 * it) and every socket at 2 hours, so presence lags at most that long instead
 * of every quiet client being dropped. A trip logs an ERROR and records
 * SWEEP_HELD_METRIC, on which the stack alarms.
 */
export const SILENCE_BREAKER = { maxSilentShare: 0.5 } as const;

/** Whether a sweep that asked about `asked` connections and found `silent` of them silent holds them. */
export const breakerTrips = (asked: number, silent: number) =>
  silent > LIMITS.connectionsPerUser && silent > asked * SILENCE_BREAKER.maxSilentShare;

type SweptConnection = Awaited<ReturnType<typeof listShardConnections>>[number];

/**
 * The scheduled sweep. API Gateway answers `ping` itself (no function, no
 * write), so the sweep asks it instead: each stored connection's last activity
 * (GetConnection). One gone, or silent for two heartbeats (a socket whose
 * client vanished without a close), is removed and closed, whether or not
 * $disconnect came; its user's last_seen is its last activity. The silent ones
 * are closed only once every connection has been asked about, and not at all
 * when the breaker trips (SILENCE_BREAKER). Users past their grace period go
 * offline.
 */
export async function sweep(now = nowDate()) {
  const cutoff = now.getTime() - heartbeatTimeoutMs();
  const limit = pLimit(16);
  const shards = await Promise.all(
    Array.from({ length: SWEEP_SHARDS }, (_, shard) => listShardConnections(shard)),
  );
  let dead = 0;
  let asked = 0;
  const silent: { conn: SweptConnection; lastActiveAt: Date }[] = [];
  // One connection that fails (a throttled @connections call) must not stop the
  // sweep of the others, nor the offline checks below: it is logged and retried
  // at the next sweep.
  const swept = await Promise.allSettled(
    shards.flat().map((conn) =>
      limit(async () => {
        // A socket outlives its token only until the next sweep: it is closed like a
        // dead one (its actions are refused meanwhile, platform/ws.ts), with no
        // GetConnection needed. The client reconnects with a fresh token.
        if (conn.token_expires_at && Date.parse(conn.token_expires_at) <= now.getTime()) {
          await closeConnection(conn.connection_id);
          await connectionGone(conn.user_id, conn.connection_id, now);
          dead++;
          return;
        }
        const activity = await connectionActivity(conn.connection_id);
        if (activity === 'gone') {
          // Removing one still inside its $connect would leave its socket unknown to every fan-out.
          if (mayStillBeConnecting(conn.connected_at, now.getTime())) return;
          await connectionGone(conn.user_id, conn.connection_id, now);
          dead++;
          return;
        }
        const quiet = activity.lastActiveAt.getTime() < cutoff;
        // Only a connection open longer than the timeout could have been silent that long.
        if (quiet || Date.parse(conn.connected_at) < cutoff) asked++;
        if (quiet) silent.push({ conn, lastActiveAt: activity.lastActiveAt });
      }),
    ),
  );
  const failed = swept.filter((r) => r.status === 'rejected');
  let held = 0;
  if (breakerTrips(asked, silent.length)) {
    held = silent.length;
    logger.error(
      'presence sweep: most connections look silent, none closed; GetConnection lastActiveAt may not count heartbeats',
      { asked, silent: held, maxSilentShare: SILENCE_BREAKER.maxSilentShare },
    );
    recordSweepHeld(held);
  } else {
    // A silent socket may still be open (a zombie): close it, so a live client reconnects.
    const closed = await Promise.allSettled(
      silent.map(({ conn, lastActiveAt }) =>
        limit(async () => {
          await closeConnection(conn.connection_id);
          await connectionGone(conn.user_id, conn.connection_id, lastActiveAt);
          dead++;
        }),
      ),
    );
    failed.push(...closed.filter((r) => r.status === 'rejected'));
  }
  if (failed.length > 0)
    logger.warn('presence sweep: connections left for the next sweep', {
      failed: failed.length,
      error: (failed[0] as PromiseRejectedResult).reason as Error,
    });
  const due = (
    await Promise.all(
      Array.from({ length: DUE_SHARDS }, (_, s) => findDueOffline(s, now.toISOString())),
    )
  ).flat();
  let wentOffline = 0;
  for (const presence of due) {
    if (!presence.offline_due_at) continue;
    const check = { user_id: presence.user_id, due_at: presence.offline_due_at };
    // As above: one user's failure leaves the rest to go offline on time.
    const offline = await checkOffline(check, now).catch((error: unknown) => {
      logger.warn('presence sweep: offline check left for the next sweep', {
        error: error as Error,
      });
      return false;
    });
    if (offline) wentOffline++;
  }
  logger.info('presence sweep', {
    deadConnections: dead,
    heldSilent: held,
    due: due.length,
    wentOffline,
  });
  return { deadConnections: dead, heldSilent: held, wentOffline };
}

export { connectionGone, type PresenceCheck };
