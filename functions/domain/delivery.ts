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
