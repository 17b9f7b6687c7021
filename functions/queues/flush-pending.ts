import * as z from 'zod/mini';
import { flushPending } from '#domain/pending.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';
import { getConnection } from '#store/connections.ts';

const flushRequest = z.object({ user_id: z.string(), connection_id: z.string() });

/**
 * Runs after $connect has returned: delivers the user's pending messages to the
 * new connection. A connection that is seconds old and refused the post may still
 * be inside $connect: the record fails and SQS retries it. Older ones are gone;
 * their messages stay pending for the next connection.
 */
const STILL_CONNECTING_MS = 10_000;

export const handler = sqsConsumer(flushRequest, async ({ user_id, connection_id }) => {
  const { blocked } = await flushPending(user_id, [connection_id]);
  if (!blocked) return;
  const conn = await getConnection(connection_id);
  if (conn && Date.now() - Date.parse(conn.connected_at) < STILL_CONNECTING_MS) {
    throw new Error('Connection not ready for its pending messages yet');
  }
});
