import { postToMany, type ServerEvent } from '#platform/post-to-connection.ts';
import { getConnections } from '#store/connections.ts';
import { connectionGone } from './connection-lifecycle.ts';

export interface FanOutResult {
  /** Users with at least one connection that accepted the frame. */
  deliveredTo: Set<string>;
  /** Users with no live connection, or whose every post failed. */
  unreachable: Set<string>;
}

/**
 * A connection answers 410 while its $connect is still running. A very young
 * connection that answers 410 is left alone (the member counts as unreachable, so
 * the message is queued and the connection's flush delivers it).
 */
const CONNECTING_GRACE_MS = 10_000;

/**
 * Sends one frame to every connection of every given user: one BatchGet for
 * the connection maps, then bounded parallel posts. A 410 means the connection
 * is gone: it is removed (starting the user's grace period if it was their
 * last) and not counted as delivered.
 */
export async function fanOut(
  userIds: readonly string[],
  frame: ServerEvent,
): Promise<FanOutResult> {
  const result: FanOutResult = { deliveredTo: new Set(), unreachable: new Set(userIds) };
  if (userIds.length === 0) return result;
  const now = Date.now();
  const connections = await getConnections(userIds);
  const posts = [...connections].flatMap(([userId, conns]) =>
    conns.map((conn) => ({ userId, connectionId: conn.id, connectedAt: conn.connected_at, frame })),
  );
  const outcomes = await postToMany(posts);
  const cleanups: Promise<void>[] = [];
  outcomes.forEach((outcome, i) => {
    const post = posts[i]!;
    if (outcome === 'delivered') {
      result.deliveredTo.add(post.userId);
      result.unreachable.delete(post.userId);
    } else if (outcome === 'gone' && now - Date.parse(post.connectedAt) > CONNECTING_GRACE_MS) {
      cleanups.push(connectionGone(post.userId, post.connectionId));
    }
  });
  await Promise.all(cleanups);
  return result;
}

/** Sends a frame to one connection (answers, errors, confirmations). */
export async function sendToConnection(connectionId: string, frame: ServerEvent) {
  const [outcome] = await postToMany([{ connectionId, frame }]);
  return outcome;
}
