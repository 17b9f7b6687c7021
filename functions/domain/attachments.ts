import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { AppError, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { nowIso } from '#platform/time.ts';
import { deleteFiles, markFileSent, uploadForm } from '#store/attachment-files.ts';
import {
  bundleCarried,
  deleteAttachments,
  getAttachments,
  putUploadSlot,
} from '#store/attachments.ts';
import type { AttachmentJob } from './attachment-release.ts';
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
export async function runAttachmentJob(job: AttachmentJob): Promise<void> {
  if (job.op === 'keep') {
    await markFileSent({ room_id: job.room_id, id: job.attachment_id });
    return;
  }
  if (await bundleCarried(job.bundle)) return;
  // Files live under the room they were uploaded to, which their records hold.
  const records = await getAttachments(job.attachment_ids);
  const files = [...records.values()].filter((r) => r.bundle === job.bundle);
  if (files.length === 0) return;
  await deleteFiles(files);
  await deleteAttachments(files.map((f) => f.id));
}
