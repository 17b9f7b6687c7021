import * as z from 'zod/mini';
import { flushNewConnection } from '#domain/offline-delivery.ts';
import { broadcastStatus } from '#domain/presence.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const connectionReady = z.object({
  user_id: z.string(),
  connection_id: z.string(),
  online_at: z.optional(z.string()),
  tries: z._default(z.number(), 0),
});

/**
 * Runs after $connect has returned: a user's first connection is announced to
 * the people they share rooms with, and the new connection gets what was pending.
 */
export const handler = sqsConsumer(
  connectionReady,
  async ({ user_id, connection_id, online_at, tries }) => {
    if (online_at && tries === 0) await broadcastStatus(user_id, 'online', online_at);
    // Still inside $connect: try again in a second, not after the visibility timeout.
    await flushNewConnection(
      user_id,
      connection_id,
      (next) =>
        enqueue(requireEnv(ENV.flushQueueUrl), [{ user_id, connection_id, tries: next }], 1),
      tries,
    );
  },
);
