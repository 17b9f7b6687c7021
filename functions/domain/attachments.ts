import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { AppError, conflict, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { enqueue } from '#platform/queues.ts';
import { nowIso, nowMs } from '#platform/time.ts';
import {
  deleteFiles,
  downloadUrl,
  markFileSent,
  storedSize,
  uploadForm,
} from '#store/attachment-files.ts';
import {
  bundleCarried,
  deleteAttachments,
  deleteCarrier,
  getAttachment,
  getAttachments,
  listCarriers,
  putUploadSlot,
} from '#store/attachments.ts';
import { batchGet } from '#store/batch.ts';
import { memberFromItem, memberKey } from '#store/members.ts';
import { messageFromItem, messageKey } from '#store/messages.ts';
import { roomFromItem, roomKey } from '#store/rooms.ts';
import { ENCRYPTED_CONTENT_TYPE, kindOf, maxBytes } from './attachment-rules.ts';
import { requireMembership } from './membership.ts';
import {
  type AttachmentRecord,
  type AttachmentRef,
  attachmentBundle,
  isMember,
  type MessageRecord,
} from './model.ts';
import type { CreateAttachmentInput } from './schemas.ts';
import { seesMessage } from './unread.ts';

/**
 * CONTRACT §8. Files never pass through the API: a member asks for an upload
 * slot (a presigned POST that S3 holds to the declared type and size), uploads
 * straight to the bucket, then names the file in a send. Downloads are signed
 * GET URLs for whoever can see a message that carries the file.
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

/**
 * The files a send names, checked before anything is stored: each uploaded by
 * the sender for this room and not yet sent, its bytes in storage (HeadObject,
 * whose size the message carries). 409 names the first id that fails. The
 * reads run in parallel with each other (one BatchGet and one HEAD per file).
 */
export async function resolveAttachments(
  caller: Caller,
  roomId: string,
  ids: readonly string[],
  encrypted: boolean,
): Promise<AttachmentRef[]> {
  if (ids.length === 0) return [];
  const [records, sizes] = await Promise.all([
    getAttachments(ids),
    Promise.all(ids.map((id) => storedSize({ room_id: roomId, id }))),
  ]);
  return ids.map((id, i) => {
    const record = records.get(id);
    if (!record || record.uploader_id !== caller.userId || record.room_id !== roomId) {
      throw conflict(`Attachment ${id} was not uploaded by you for this room`);
    }
    if (record.state !== 'pending') throw conflict(`Attachment ${id} has already been sent`);
    const size = sizes[i];
    if (size === undefined) throw conflict(`Attachment ${id} has not been uploaded yet`);
    if (encrypted && !record.is_encrypted) {
      throw validationError(
        `attachment_ids: ${id} is not encrypted; an encrypted message carries only encrypted attachments`,
      );
    }
    return attachmentRef(record, size);
  });
}

export const attachmentRef = (record: AttachmentRecord, storedBytes: number): AttachmentRef => ({
  id: record.id,
  content_type: record.content_type,
  size_bytes: storedBytes,
  file_name: record.file_name,
  is_encrypted: record.is_encrypted,
  created_at: record.created_at,
});

/**
 * GET /attachments/:id. 404 unless the caller uploaded the file and has not
 * sent it yet, or can see a message that carries it: a member of its room,
 * the message after their clear marker and the room's, not deleted. Each page
 * of carriers costs one BatchGet of their rooms, the caller's member items and
 * the messages, so a deletion or a clear shows at once.
 */
export async function attachmentDownload(caller: Caller, attachmentId: string) {
  const record = await getAttachment(attachmentId);
  if (!record) throw notFound('Attachment');
  const visible =
    record.state === 'pending'
      ? record.uploader_id === caller.userId
      : record.bundle !== null && (await seesBundle(caller.userId, record));
  if (!visible) throw notFound('Attachment');
  const { url, expiresInSeconds } = await downloadUrl(
    record,
    record.file_name,
    record.content_type,
    LIMITS.downloadUrlSeconds,
  );
  return {
    url,
    expires_at: new Date(nowMs() + expiresInSeconds * 1000).toISOString(),
    content_type: record.content_type,
    size_bytes: record.size_bytes,
    file_name: record.file_name,
  };
}

/** Pages through the messages carrying the file until one the user can see (at most 10 pages). */
async function seesBundle(userId: string, record: AttachmentRecord): Promise<boolean> {
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < 10; page++) {
    const { carriers, next } = await listCarriers(
      record.bundle!,
      LIMITS.attachmentCarriersPage,
      start,
    );
    const rooms = [...new Set(carriers.map((c) => c.room_id))];
    const items = await batchGet([
      ...rooms.map(roomKey),
      ...rooms.map((r) => memberKey(userId, r)),
      ...carriers.map((c) => messageKey(c.room_id, c.seq)),
    ]);
    const byEntity = (entity: string) => items.filter((i) => i.entity === entity);
    const roomsById = new Map(byEntity('room').map((i) => [i.id as string, roomFromItem(i)]));
    const members = new Map(
      byEntity('member').map((i) => [i.room_id as string, memberFromItem(i)]),
    );
    const messages = byEntity('message').map(messageFromItem);
    const seen = messages.some((m) => {
      const room = roomsById.get(m.room_id);
      const member = members.get(m.room_id);
      return (
        room !== undefined &&
        member !== undefined &&
        isMember(room, userId) &&
        !m.is_deleted &&
        seesMessage(member, room, m.seq) &&
        m.attachments.some((a) => a.id === record.id)
      );
    });
    if (seen) return true;
    if (!next) return false;
    start = next;
  }
  return false;
}

/** Body of an attachments-queue message: what to do with files in the bucket. */
export type AttachmentJob =
  /** A message now carries the file: retag it so the lifecycle rule keeps it. */
  | { op: 'keep'; room_id: string; attachment_id: string }
  /** A message stopped carrying a bundle: if none does any more, its files go. */
  | { op: 'release'; bundle: string; attachment_ids: string[] };

const attachmentsQueue = () => requireEnv(ENV.attachmentsQueueUrl);

/** The stream saw a file claimed by a send. */
export const fileSent = (roomId: string, attachmentId: string) =>
  enqueue(attachmentsQueue(), [{ op: 'keep', room_id: roomId, attachment_id: attachmentId }]);

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

/** The attachments queue's consumer. */
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
