import type { Caller } from '#platform/auth.ts';
import { notFound } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { nowMs } from '#platform/time.ts';
import { getAttachment, listCarriers } from '#store/attachments.ts';
import { batchGet } from '#store/batch.ts';
import { downloadUrl } from '#store/file-requests.ts';
import { memberFromItem, memberKey } from '#store/members.ts';
import { messageFromItem, messageKey } from '#store/messages.ts';
import { roomFromItem, roomKey } from '#store/rooms.ts';
import { type AttachmentRecord, isMember } from './model.ts';
import { seesMessage } from './unread.ts';

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
    // Consistent: a delete, a clear or a removal answers 404 at once, and a file
    // just sent is there for the recipient who fetches it on arrival.
    const items = await batchGet(
      [
        ...rooms.map(roomKey),
        ...rooms.map((r) => memberKey(userId, r)),
        ...carriers.map((c) => messageKey(c.room_id, c.seq)),
      ],
      { consistent: true },
    );
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
