import { LIMITS } from '#platform/limits.ts';
import { postToConnection } from '#platform/post-to-connection.ts';
import { deletePending, listPending } from '#store/pending.ts';
import { events } from './events.ts';
import type { MessageView } from './views.ts';

/**
 * Delivers a user's pending messages to the given connections, oldest first, and
 * removes each once at least one connection took it. It stops at the first
 * message no connection took, so order is kept and nothing is dropped.
 * Returns how many were delivered, and whether any connection was gone.
 */
export async function flushPending(userId: string, connectionIds: readonly string[]) {
  let delivered = 0;
  for (;;) {
    const batch = await listPending(userId, LIMITS.pendingFlushBatch, Date.now());
    if (batch.length === 0) return { delivered, blocked: false };
    const done: MessageView[] = [];
    let blocked = false;
    for (const message of batch) {
      const outcomes = await Promise.all(
        connectionIds.map((id) => postToConnection(id, events.newChatMessage(message))),
      );
      if (!outcomes.includes('delivered')) {
        blocked = true;
        break;
      }
      done.push(message);
    }
    await deletePending(userId, done);
    delivered += done.length;
    if (blocked || batch.length < LIMITS.pendingFlushBatch) return { delivered, blocked };
  }
}
