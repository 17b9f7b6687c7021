import type { Caller } from '#platform/auth.ts';
import { conflict, validationError } from '#platform/errors.ts';
import { getAttachments } from '#store/attachments.ts';
import { storedObject } from '#store/file-requests.ts';
import type { AttachmentRecord, AttachmentRef } from './model.ts';

/**
 * The send path's part of attachments (CONTRACT §8), apart from the rest of
 * domain/attachments.ts so a send's bundle carries no S3 client: it needs
 * one HEAD per file (store/file-heads.ts) and the table.
 */

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
  const [records, stored] = await Promise.all([
    getAttachments(ids),
    Promise.all(ids.map((id) => storedObject({ room_id: roomId, id }))),
  ]);
  return ids.map((id, i) => {
    const record = records.get(id);
    if (!record || record.uploader_id !== caller.userId || record.room_id !== roomId) {
      throw conflict(`Attachment ${id} was not uploaded by you for this room`);
    }
    if (record.state !== 'pending') throw conflict(`Attachment ${id} has already been sent`);
    const object = stored[i];
    if (object === undefined) throw conflict(`Attachment ${id} has not been uploaded yet`);
    if (encrypted && !record.is_encrypted) {
      throw validationError(
        `attachment_ids: ${id} is not encrypted; an encrypted message carries only encrypted attachments`,
      );
    }
    return { ...attachmentRef(record, object.size), etag: object.etag };
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
