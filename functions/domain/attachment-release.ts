import { ENV, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import { deleteCarrier } from '#store/attachments.ts';
import { attachmentBundle, type MessageRecord } from './model.ts';

/**
 * What the table stream does about files: no S3 call of its own (its bundle
 * carries no S3 client), only jobs for the attachments queue, whose consumer
 * (domain/attachments.ts runAttachmentJob) talks to the bucket.
 */

/** Body of an attachments-queue message: what to do with files in the bucket. */
export type AttachmentJob =
  /** A message now carries the file: retag it so the lifecycle rule keeps it. */
  | { op: 'keep'; room_id: string; attachment_id: string }
  /**
   * Once the file's upload slot has expired: are the bytes still the ones the
   * send claimed (same ETag)? A re-upload through the slot before it expired
   * would have swapped them and tagged them unsent again.
   */
  | { op: 'verify'; room_id: string; attachment_id: string }
  /** A message stopped carrying a bundle: if none does any more, its files go. */
  | { op: 'release'; bundle: string; attachment_ids: string[] };

const attachmentsQueue = () => requireEnv(ENV.attachmentsQueueUrl);

/** The stream saw a file claimed by a send. */
export const fileSent = (roomId: string, attachmentId: string) =>
  enqueue(attachmentsQueue(), [
    { op: 'keep', room_id: roomId, attachment_id: attachmentId },
  ] satisfies AttachmentJob[]);

/** A job for later (at most SQS's 15 minutes later). */
export const enqueueLater = (job: AttachmentJob, seconds: number) =>
  enqueue(attachmentsQueue(), [job], Math.max(0, Math.min(900, Math.ceil(seconds))));

/**
 * The stream saw a message that carried files deleted for everyone, or
 * removed (a clear for everyone or a room's purge): it no longer carries its
 * bundle. Idempotent, like every step after it.
 */
export async function messageReleasedFiles(message: MessageRecord): Promise<void> {
  if (message.attachments.length === 0) return;
  const bundle = attachmentBundle(message);
  await deleteCarrier(bundle, message.room_id, message.seq);
  await enqueue(attachmentsQueue(), [
    { op: 'release', bundle, attachment_ids: message.attachments.map((a) => a.id) },
  ] satisfies AttachmentJob[]);
}
