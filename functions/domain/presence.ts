import type { Caller } from '#platform/auth.ts';
import { ENV, heartbeatTimeoutMs, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import { closeConnection } from '#platform/post-to-connection.ts';
import { enqueue } from '#platform/queues.ts';
import {
  addConnection,
  findSilentConnections,
  getConnections,
  touchConnection,
} from '#store/connections.ts';
import { completeOffline, findDueOffline, markOnline } from '#store/presence.ts';
import { connectionGone, type PresenceCheck } from './connection-lifecycle.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { roomPeers } from './room-peers.ts';

/** Body of a "connection ready" message: deliver what is pending to it. */
export interface FlushRequest {
  user_id: string;
  connection_id: string;
}

async function broadcastStatus(userId: string, status: 'online' | 'offline', lastSeen: string) {
  const peers = await roomPeers(userId);
  await fanOut(peers, events.userStatus(userId, status, lastSeen));
}

/**
 * A new connection. The user is online from their first connection; a second
 * device, or a reconnect within the grace period, broadcasts nothing. Pending
 * messages cannot be posted from inside $connect, so the flush is queued to run
 * once $connect has returned.
 */
export async function connectClient(caller: Caller, connectionId: string, now = new Date()) {
  const at = now.toISOString();
  await addConnection({
    connection_id: connectionId,
    user_id: caller.userId,
    name: caller.name,
    connected_at: at,
    last_seen: at,
  });
  const [previous] = await Promise.all([
    markOnline(caller.userId, at),
    enqueue(
      requireEnv(ENV.flushQueueUrl),
      [{ user_id: caller.userId, connection_id: connectionId } satisfies FlushRequest],
      LIMITS.flushDelaySeconds,
    ),
  ]);
  if (previous !== 'online') await broadcastStatus(caller.userId, 'online', at);
}

/**
 * The grace period ended: the user goes offline unless a connection came back.
 * Both the delayed check and the sweeper call this; the conditional write makes
 * exactly one of them broadcast.
 */
export async function checkOffline(check: PresenceCheck, now = new Date()) {
  if (Date.parse(check.due_at) > now.getTime()) return false;
  const live = (await getConnections([check.user_id])).get(check.user_id) ?? [];
  if (live.length > 0) return false;
  const done = await completeOffline(check.user_id, check.due_at);
  if (!done) return false;
  await broadcastStatus(check.user_id, 'offline', done.last_seen);
  return true;
}

/** In-memory throttle: a warm Lambda skips writes for connections it touched recently. */
const lastWrite = new Map<string, number>();

export async function heartbeat(connectionId: string, now = Date.now()) {
  const previous = lastWrite.get(connectionId);
  // At most every few seconds, and always well inside the timeout that declares it dead.
  const interval = Math.min(LIMITS.lastSeenWriteIntervalMs, heartbeatTimeoutMs() / 4);
  if (previous !== undefined && now - previous < interval) return;
  lastWrite.set(connectionId, now);
  if (lastWrite.size > 10_000) lastWrite.clear();
  await touchConnection(connectionId, new Date(now).toISOString());
}

/**
 * The scheduled sweep: connections that missed two heartbeats are dead whether
 * or not $disconnect came; users past their grace period go offline.
 */
export async function sweep(now = new Date()) {
  const cutoff = new Date(now.getTime() - heartbeatTimeoutMs()).toISOString();
  const silent = await findSilentConnections(cutoff);
  for (const conn of silent) {
    // A silent socket may still be open (a zombie): close it, so a live client reconnects.
    await closeConnection(conn.connection_id);
    await connectionGone(conn.user_id, conn.connection_id, now);
  }
  const due = await findDueOffline(now.toISOString());
  let wentOffline = 0;
  for (const presence of due) {
    if (
      presence.offline_due_at &&
      (await checkOffline({ user_id: presence.user_id, due_at: presence.offline_due_at }, now))
    ) {
      wentOffline++;
    }
  }
  logger.info('presence sweep', { deadConnections: silent.length, due: due.length, wentOffline });
  return { deadConnections: silent.length, wentOffline };
}

export { connectionGone, type PresenceCheck };
