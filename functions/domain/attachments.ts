import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { AppError, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import { nowIso } from '#platform/time.ts';
import { deleteFiles, markFileSent, uploadForm } from '#store/attachment-files.ts';
import {
  bundleCarried,
  deleteAttachments,
  getAttachment,
  getAttachments,
  putUploadSlot,
} from '#store/attachments.ts';
import { storedObject } from '#store/file-requests.ts';
import { type AttachmentJob, enqueueLater } from './attachment-release.ts';
import { ENCRYPTED_CONTENT_TYPE, kindOf, maxBytes } from './attachment-rules.ts';
import { requireMembership } from './membership.ts';
import type { AttachmentRecord } from './model.ts';
import type { CreateAttachmentInput } from './schemas.ts';

/**
 * CONTRACT §8. Files never pass through the API: a member asks for an upload
 * slot (a presigned POST that S3 holds to the declared type and size), uploads
 * straight to the bucket, then names the file in a send
 * (domain/attachment-claims.ts). Downloads are signed GET URLs for whoever can
 * see a message that carries the file (domain/attachment-downloads.ts). This
 * module holds what needs the S3 client: the slot, and the attachments queue's
 * jobs on the bucket.
 */

/** POST /rooms/:room_id/attachments: 201 with the slot. */
export async function createUploadSlot(
  caller: Caller,
  roomId: string,
  input: CreateAttachmentInput,
) {
  if (input.is_encrypted && input.content_type !== ENCRYPTED_CONTENT_TYPE) {
    throw validationError(
      `content_type must be ${ENCRYPTED_CONTENT_TYPE} for an encrypted attachment`,
    );
  }
  const limit = maxBytes(kindOf(input.content_type));
  if (input.size_bytes > limit) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `size_bytes is over the ${limit} bytes a ${kindOf(input.content_type)} may have`,
    );
  }
  await requireMembership(roomId, caller.userId);
  const at = nowIso();
  const record: AttachmentRecord = {
    id: ulid(),
    room_id: roomId,
    uploader_id: caller.userId,
    state: 'pending',
    bundle: null,
    content_type: input.content_type,
    size_bytes: input.size_bytes,
    file_name: input.file_name ?? null,
    is_encrypted: input.is_encrypted,
    created_at: at,
  };
  const form = await uploadForm(
    record,
    record.content_type,
    record.size_bytes,
    LIMITS.uploadSlotSeconds,
  );
  const ttl = Math.floor(Date.parse(at) / 1000) + LIMITS.unsentAttachmentTtlSeconds;
  await putUploadSlot(record, ttl);
  return {
    attachment_id: record.id,
    upload: { url: form.url, fields: form.fields },
    expires_at: new Date(Date.parse(at) + form.expiresInSeconds * 1000).toISOString(),
  };
}

/** The attachments queue's consumer (domain/attachment-release.ts makes its jobs). */
export async function runAttachmentJob(job: AttachmentJob, now = Date.now()): Promise<void> {
  if (job.op === 'release') return releaseBundle(job.bundle, job.attachment_ids);
  // A keep or verify of a file no message claims (any more) has nothing to keep.
  const record = await getAttachment(job.attachment_id);
  if (!record || record.state !== 'sent') return;
  if (job.op === 'keep') {
    await markFileSent(record);
    // Until its slot expires, the uploader could still POST other bytes to the key.
    const slotEnds = Date.parse(record.created_at) + LIMITS.uploadSlotSeconds * 1000;
    await enqueueLater({ ...job, op: 'verify' }, (slotEnds - now) / 1000 + 5);
    return;
  }
  const stored = await storedObject(record);
  if (!stored) return;
  if (record.etag && stored.etag !== record.etag) {
    // Swapped after the send: not what the message carries. Those bytes go.
    logger.warn('Attachment bytes changed after their send; deleted', { attachment_id: record.id });
    await deleteFiles([record]);
    return;
  }
  await markFileSent(record);
}

async function releaseBundle(bundle: string, attachmentIds: readonly string[]) {
  if (await bundleCarried(bundle)) return;
  // Files live under the room they were uploaded to, which their records hold.
  const records = await getAttachments(attachmentIds);
  const files = [...records.values()].filter((r) => r.bundle === bundle);
  if (files.length === 0) return;
  await deleteFiles(files);
  await deleteAttachments(files.map((f) => f.id));
}
