import * as z from 'zod/mini';
import { runAttachmentJob } from '#domain/attachments.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const attachmentJob = z.discriminatedUnion('op', [
  z.object({ op: z.literal('keep'), room_id: z.string(), attachment_id: z.string() }),
  z.object({ op: z.literal('verify'), room_id: z.string(), attachment_id: z.string() }),
  z.object({ op: z.literal('release'), bundle: z.string(), attachment_ids: z.array(z.string()) }),
]);

/** Keeps sent files (their state tag) and deletes the bytes no message carries any more. */
export const handler = sqsConsumer(attachmentJob, (job) => runAttachmentJob(job));
