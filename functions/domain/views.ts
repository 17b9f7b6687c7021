import { nowMs } from '#platform/time.ts';
import type {
  AttachmentRef,
  MemberState,
  MessageRecord,
  ReportRecord,
  RoomHead,
  RoomRecord,
} from './model.ts';
import { isHidden, lastReadMessageId, unreadCount } from './unread.ts';

/**
 * The wire Message (docs/openapi.json): the record less internal fields.
 * `deletedOriginals`: ids of originals deleted since (domain/replies.ts); a
 * reply to one shows `is_deleted` and no preview.
 */
export function messageView(m: MessageRecord, deletedOriginals?: ReadonlySet<string>) {
  const quoteGone = m.reply_to !== null && (deletedOriginals?.has(m.reply_to.message_id) ?? false);
  return {
    id: m.id,
    room_id: m.room_id,
    sender_id: m.sender_id,
    sender_name: m.sender_name,
    content: m.content,
    message_type: m.message_type,
    file_url: m.file_url,
    media: m.media,
    reply_to_message_id: m.reply_to_message_id,
    reply_to: m.reply_to && {
      message_id: m.reply_to.message_id,
      sender_id: m.reply_to.sender_id,
      preview: quoteGone ? '' : m.reply_to.preview,
      is_deleted: quoteGone,
    },
    mentions: m.mentions,
    forwarded_from: m.forwarded_from,
    metadata: m.metadata,
    forwarded_count: m.forwarded_count,
    is_encrypted: m.is_encrypted,
    encryption_key_id: m.encryption_key_id,
    encrypted_content: m.encrypted_content,
    is_deleted: m.is_deleted,
    attachments: m.attachments.map(attachmentView),
    created_at: m.created_at,
  };
}

/** An attachment as the wire has it: the stored ETag stays inside. */
export const attachmentView = (a: AttachmentRef) => ({
  id: a.id,
  content_type: a.content_type,
  size_bytes: a.size_bytes,
  file_name: a.file_name,
  is_encrypted: a.is_encrypted,
  created_at: a.created_at,
});

/** A report as moderators list it (CONTRACT §9); a closed one says how it was resolved. */
export function reportView(r: ReportRecord) {
  return {
    report_id: r.report_id,
    status: r.status,
    reason: r.reason,
    note: r.note,
    reporter_id: r.reporter_id,
    user_id: r.user_id,
    created_at: r.created_at,
    evidence: r.evidence && {
      message_id: r.evidence.message_id,
      room_id: r.evidence.room_id,
      sender_id: r.evidence.sender_id,
      content: r.evidence.content,
      encrypted_content: r.evidence.encrypted_content,
      attachments: r.evidence.attachments.map(attachmentView),
      created_at: r.evidence.created_at,
    },
    resolution: r.resolution ?? null,
  };
}

export type MessageView = ReturnType<typeof messageView>;

/** Members in the order they joined (the order admin hand-over follows). */
export function membersByJoinOrder(members: Record<string, string>): string[] {
  return Object.entries(members)
    .sort(([ua, a], [ub, b]) => a.localeCompare(b) || ua.localeCompare(ub))
    .map(([id]) => id);
}

/** A mute with `muted_until` ends by itself: past that instant the room is not muted. */
export function isMutedNow(
  member: Pick<MemberState, 'is_muted' | 'muted_until'>,
  now: number,
): boolean {
  return member.is_muted && (member.muted_until === null || Date.parse(member.muted_until) > now);
}

/** The wire Room (docs/openapi.json), as `member` sees it. */
export function roomView(room: RoomRecord, member: MemberState, head: RoomHead) {
  return {
    id: room.id,
    type: room.type,
    name: room.name,
    members: membersByJoinOrder(room.members),
    admins: membersByJoinOrder(room.admins),
    created_by: room.created_by,
    created_at: room.created_at,
    updated_at:
      head.last_activity && head.last_activity > room.updated_at
        ? head.last_activity
        : room.updated_at,
    last_message: head.last_message,
    is_archived: member.is_archived,
    archived_at: member.archived_at,
    is_deleted: isHidden(member, head),
    is_muted: isMutedNow(member, nowMs()),
    muted_until: member.muted_until,
    unread_count: unreadCount(member, room, head),
    last_read_message_id: lastReadMessageId(member, head),
  };
}
