import * as z from 'zod/mini';
import { flushNewConnection } from '#domain/pending.ts';
import { broadcastStatus } from '#domain/presence.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const connectionReady = z.object({
  user_id: z.string(),
  connection_id: z.string(),
  online_at: z.optional(z.string()),
});

/**
 * Runs after $connect has returned: a user's first connection is announced to
 * the people they share rooms with, and the new connection gets what was pending.
 */
export const handler = sqsConsumer(
  connectionReady,
  async ({ user_id, connection_id, online_at }) => {
    if (online_at) await broadcastStatus(user_id, 'online', online_at);
    await flushNewConnection(user_id, connection_id);
  },
);
