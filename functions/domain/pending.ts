import { LIMITS } from '#platform/limits.ts';
import { postToConnection } from '#platform/post-to-connection.ts';
import { getConnection } from '#store/connections.ts';
import { getMessagesByIds } from '#store/messages.ts';
import { deletePending, listPending, type PendingMessage } from '#store/pending.ts';
import { events } from './events.ts';
import { messageView } from './views.ts';

/**
 * Delivers a user's pending messages to the given connections, oldest first, and
 * removes each once at least one connection took it. It stops at the first
 * message no connection took, so order is kept and nothing is dropped.
 * Each message is re-read first (one BatchGet per batch): one deleted, cleared
 * or purged since it was queued is dropped instead of delivered, and the rest go
 * out as they are now.
 */
export async function flushPending(userId: string, connectionIds: readonly string[]) {
  let delivered = 0;
  for (;;) {
    const batch = await listPending(userId, LIMITS.pendingFlushBatch, Date.now());
    if (batch.length === 0) return { delivered, blocked: false };
    const current = new Map((await getMessagesByIds(batch.map((m) => m.id))).map((m) => [m.id, m]));
    const done: PendingMessage[] = [];
    let blocked = false;
    for (const queued of batch) {
      const now = current.get(queued.id);
      if (now && !now.is_deleted) {
        const outcomes = await Promise.all(
          connectionIds.map((id) => postToConnection(id, events.newChatMessage(messageView(now)))),
        );
        if (!outcomes.includes('delivered')) {
          blocked = true;
          break;
        }
      }
      done.push(queued);
    }
    await deletePending(userId, done);
    delivered += done.length;
    if (blocked || batch.length < LIMITS.pendingFlushBatch) return { delivered, blocked };
  }
}

/** A connection younger than this that refuses a post may still be inside $connect. */
const STILL_CONNECTING_MS = 10_000;
/** Tries at one-second steps before leaving the messages to the next connection (or sync). */
const MAX_FLUSH_TRIES = 10;

/**
 * The flush queued by $connect. If the new connection refused the post while
 * it is seconds old, it may still be inside $connect: the flush is queued again
 * with a one-second delay (not left to the queue's visibility timeout, which is
 * minutes on AWS), so pending messages still arrive within about 2 s. An older
 * connection is gone; its messages stay pending for the next one.
 */
export async function flushNewConnection(
  userId: string,
  connectionId: string,
  retry: (tries: number) => Promise<void>,
  tries = 0,
) {
  const { blocked } = await flushPending(userId, [connectionId]);
  if (!blocked || tries + 1 >= MAX_FLUSH_TRIES) return;
  const conn = await getConnection(connectionId);
  if (conn && Date.now() - Date.parse(conn.connected_at) < STILL_CONNECTING_MS) {
    await retry(tries + 1);
  }
}
