import * as z from 'zod/mini';
import { flushNewConnection } from '#domain/pending.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const flushRequest = z.object({ user_id: z.string(), connection_id: z.string() });

/** Runs after $connect has returned: the new connection gets what was pending. */
export const handler = sqsConsumer(flushRequest, ({ user_id, connection_id }) =>
  flushNewConnection(user_id, connection_id),
);
