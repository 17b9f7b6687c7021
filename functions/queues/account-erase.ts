import * as z from 'zod/mini';
import { runErase } from '#domain/account-erase.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const pageKey = z.record(z.string(), z.unknown());
const eraseJob = z.object({
  user_id: z.string(),
  erase_messages: z.boolean(),
  requested_at: z.string(),
  rooms: z.optional(z.array(z.string())),
  blank_from: z.optional(z.record(z.string(), pageKey)),
  wipe_from: z.optional(pageKey),
  part: z.optional(z.number()),
});

/** Erases an account (DELETE /api/chat/me) in bounded steps, continuing itself past its budget. */
export const handler = sqsConsumer(eraseJob, (job) => runErase(job));
