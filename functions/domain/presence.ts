import pLimit from 'p-limit';
import type { Caller } from '#platform/auth.ts';
import { ENV, heartbeatTimeoutMs, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import { closeConnection, connectionActivity } from '#platform/post-to-connection.ts';
import { enqueue } from '#platform/queues.ts';
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
 * The scheduled sweep. API Gateway answers `ping` itself (no function, no
 * write), so the sweep asks it instead: each stored connection's last activity
 * (GetConnection). One gone, or silent for two heartbeats (a socket whose
 * client vanished without a close), is removed and closed, whether or not
 * $disconnect came; its user's last_seen is its last activity. Users past their
 * grace period go offline.
 */
export async function sweep(now = nowDate()) {
  const cutoff = now.getTime() - heartbeatTimeoutMs();
  const limit = pLimit(16);
  const shards = await Promise.all(
    Array.from({ length: SWEEP_SHARDS }, (_, shard) => listShardConnections(shard)),
  );
  let dead = 0;
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
        if (activity !== 'gone' && activity.lastActiveAt.getTime() >= cutoff) return;
        // Removing one still inside its $connect would leave its socket unknown to every fan-out.
        if (activity === 'gone' && mayStillBeConnecting(conn.connected_at, now.getTime())) return;
        // A silent socket may still be open (a zombie): close it, so a live client reconnects.
        if (activity !== 'gone') await closeConnection(conn.connection_id);
        const lastSeen = activity === 'gone' ? now : activity.lastActiveAt;
        await connectionGone(conn.user_id, conn.connection_id, lastSeen);
        dead++;
      }),
    ),
  );
  const failed = swept.filter((r) => r.status === 'rejected');
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
  logger.info('presence sweep', { deadConnections: dead, due: due.length, wentOffline });
  return { deadConnections: dead, wentOffline };
}

export { connectionGone, type PresenceCheck };
