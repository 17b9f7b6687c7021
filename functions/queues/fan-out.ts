import * as z from 'zod/mini';
import { deliverChunk } from '#domain/big-room.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const fanOutChunk = z.object({
  message_id: z.string(),
  targets: z.array(
    z.object({
      user_id: z.string(),
      connections: z.array(z.object({ id: z.string(), connected_at: z.string() })),
    }),
  ),
});

/** A big room's message, posted to one chunk of its members. */
export const handler = sqsConsumer(fanOutChunk, (body) => deliverChunk(body));
