import { postToMany, type ServerEvent } from '#platform/post-to-connection.ts';
import { nowMs } from '#platform/time.ts';
import { getConnections } from '#store/connections.ts';
import { dropConnection } from './connection-lifecycle.ts';
import type { LiveConnection } from './model.ts';

export interface FanOutResult {
  /** Users with at least one connection that accepted the frame. */
  deliveredTo: Set<string>;
  /** Users with no live connection, or whose every post failed. */
  unreachable: Set<string>;
  /**
   * Of those, the users who had connections when read, none of which took the
   * frame (failed, or gone with a 410): to anything that reads connections
   * later they may still look online.
   */
  missed: Set<string>;
}

/**
 * A connection answers 410 while its $connect is still running, and its socket
 * is about to open. A 410 from one this young is not taken as gone (neither the
 * fan-out nor the sweep removes it): the member counts as unreachable, so a
 * message is queued and the connection's flush delivers it; if it really is
 * gone, its $disconnect or a later sweep removes it.
 */
const CONNECTING_GRACE_MS = 10_000;

/**
 * The send reads the members' connections after storing the message, and
 * $connect registers a connection a write after taking its `connected_at`, so
 * only a connection registered within about one write of the send can be
 * missed by the send's read; 3 s leaves room for a slow write. Such a young
 * connection is not posted to by the send at all: the table stream's outbox
 * (domain/room-activity.ts), which reads connections after the send, posts to
 * it, and to it alone. The two read the same `connected_at` against the same
 * `created_at`, so each (connection, message) has exactly one poster. When both
 * posted (before issue 24 B9), a socket's first seconds got every message twice:
 * 48 and 105 extra frames for 20 reconnects in two runs of the load bench
 * (`--in-flight 5 --offline 20`).
 */
export const RECENT_CONNECT_MS = 3_000;

/** Whether a connection opened around a message's send: the stream's to post it to, not the send's. */
export const openedAround = (connectedAt: string, createdAt: string) =>
  Date.parse(connectedAt) > Date.parse(createdAt) - RECENT_CONNECT_MS;

/**
 * The connections the send posts a message to (those opened before it), and the
 * users with a connection opened around it: the stream reaches those (posted,
 * or through their pending flush), so the send counts them as reached and never
 * queues them itself (a second queue message for the same member and message
 * could re-create a pending copy their flush had already delivered).
 */
export function sendersConnections(
  connections: ReadonlyMap<string, readonly LiveConnection[]>,
  createdAt: string,
): { older: Map<string, LiveConnection[]>; opening: Set<string> } {
  const older = new Map<string, LiveConnection[]>();
  const opening = new Set<string>();
  for (const [userId, conns] of connections) {
    const kept = conns.filter((c) => !openedAround(c.connected_at, createdAt));
    if (kept.length > 0) older.set(userId, kept);
    if (kept.length < conns.length) opening.add(userId);
  }
  return { older, opening };
}

/** Whether a connection that answered 410 may still be inside its $connect. */
export const mayStillBeConnecting = (connectedAt: string, now: number) =>
  now - Date.parse(connectedAt) <= CONNECTING_GRACE_MS;

/**
 * Sends frames to every connection of every given user: one BatchGet for the
 * connection maps, then bounded parallel posts. A 410 means the connection is
 * gone: it is removed (starting the user's grace period if it was their last)
 * and not counted as delivered. Several frames go out in the given order per
 * connection only in the sense that they are all posted; clients must not rely
 * on cross-frame order of one fan-out.
 */
export async function fanOut(
  userIds: readonly string[],
  frameOrFrames: ServerEvent | readonly ServerEvent[],
): Promise<FanOutResult> {
  if (userIds.length === 0)
    return { deliveredTo: new Set(), unreachable: new Set(), missed: new Set() };
  return postToUsers(userIds, await getConnections(userIds), frameOrFrames);
}

/** Posts frames to the given users' known connections; users missing from `connections` have none. */
export async function postToUsers(
  userIds: readonly string[],
  connections: ReadonlyMap<string, readonly LiveConnection[]>,
  frameOrFrames: ServerEvent | readonly ServerEvent[],
): Promise<FanOutResult> {
  const frames = Array.isArray(frameOrFrames) ? frameOrFrames : [frameOrFrames as ServerEvent];
  const result: FanOutResult = {
    deliveredTo: new Set(),
    unreachable: new Set(userIds),
    missed: new Set(),
  };
  const now = nowMs();
  const posts = [...connections].flatMap(([userId, conns]) =>
    conns.flatMap((conn) =>
      frames.map((frame) => ({
        userId,
        connectionId: conn.id,
        connectedAt: conn.connected_at,
        frame,
      })),
    ),
  );
  const outcomes = await postToMany(posts);
  const gone = new Map<string, string>();
  outcomes.forEach((outcome, i) => {
    const post = posts[i]!;
    if (outcome === 'delivered') {
      result.deliveredTo.add(post.userId);
      result.unreachable.delete(post.userId);
    } else if (outcome === 'gone' && !mayStillBeConnecting(post.connectedAt, now)) {
      gone.set(post.connectionId, post.userId);
    }
  });
  await Promise.all(
    [...gone].map(([connectionId, userId]) => dropConnection(userId, connectionId)),
  );
  for (const userId of result.unreachable)
    if ((connections.get(userId)?.length ?? 0) > 0) result.missed.add(userId);
  return result;
}

/** Sends a frame to one connection (answers, errors, confirmations). */
export async function sendToConnection(connectionId: string, frame: ServerEvent) {
  const [outcome] = await postToMany([{ connectionId, frame }]);
  return outcome;
}
