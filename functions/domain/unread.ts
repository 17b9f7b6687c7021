import { messageId } from '#store/messages.ts';
import type { MemberState, RoomHead, RoomRecord } from './model.ts';

type ReadState = Pick<
  MemberState,
  'user_id' | 'read_seq' | 'cleared_seq' | 'manual_unread' | 'manual_unread_seq'
>;

/**
 * The member's read position: what they read, or sent. A send in a direct room
 * records the sender's number on the head (head.sent_seqs) instead of writing
 * their member item, so the two are read together; in a group the send moves
 * read_seq itself.
 */
export const ownReadSeq = (
  member: Pick<MemberState, 'user_id' | 'read_seq'>,
  head: Pick<RoomHead, 'sent_seqs'>,
) => Math.max(member.read_seq, head.sent_seqs[member.user_id] ?? 0);

/** The last message the member read (or sent): the id of ownReadSeq. */
export function lastReadMessageId(
  member: Pick<MemberState, 'user_id' | 'read_seq' | 'last_read_message_id'>,
  head: Pick<RoomHead, 'room_id' | 'sent_seqs'>,
): string | null {
  const sent = head.sent_seqs[member.user_id] ?? 0;
  return sent > member.read_seq ? messageId(head.room_id, sent) : member.last_read_message_id;
}

/** A manual "unread" mark holds until the room is read or the member sends after it. */
export const isMarkedUnread = (member: ReadState, head: Pick<RoomHead, 'sent_seqs'>) =>
  member.manual_unread && (head.sent_seqs[member.user_id] ?? 0) <= member.manual_unread_seq;

/**
 * Unread count, derived from sequence numbers instead of counting messages:
 * the messages from others after the user's read marker and clear markers,
 * less the deleted ones.
 *
 * `top` is the room head's seq, read when the count is asked for; nothing is
 * written per recipient when a message is sent. Why it is exact:
 * - every number in (read, top] is a stored message, a deleted message or the
 *   tombstone of a send that failed after taking its number; deletions and
 *   tombstones are both in the head's `deleted_seqs`, so top − read − |deleted in
 *   (read, top]| counts exactly the stored, visible messages;
 * - the user's own messages never fall in (read, top]: sending moves the
 *   sender's read position to the message's seq (ownReadSeq), and read
 *   positions only move forward (conditional max, or the head's own ADD);
 * - clear markers only rise, and a read marker past `top` (a read racing a send)
 *   is floored at 0.
 * The head keeps the newest LIMITS.deletedSeqsKept deleted seqs: the count is
 * exact unless more messages than that were deleted since the user last read.
 */
export function unreadCount(
  member: ReadState,
  room: Pick<RoomRecord, 'cleared_seq'>,
  head: Pick<RoomHead, 'seq' | 'deleted_seqs' | 'sent_seqs'>,
): number {
  const read = readFloor(member, room, head);
  const top = head.seq;
  const deleted = head.deleted_seqs.filter((seq) => seq > read && seq <= top).length;
  const count = Math.max(0, top - read - deleted);
  return isMarkedUnread(member, head) ? Math.max(1, count) : count;
}

/** Messages at or below this seq are read, sent or cleared for the member. */
export const readFloor = (
  member: Pick<MemberState, 'user_id' | 'read_seq' | 'cleared_seq'>,
  room: Pick<RoomRecord, 'cleared_seq'>,
  head: Pick<RoomHead, 'sent_seqs'>,
) => Math.max(ownReadSeq(member, head), member.cleared_seq, room.cleared_seq);

/**
 * Whether the member may see message `seq`: it is past their clear marker
 * (which joining sets to the room's seq then, and deleting a direct room to its
 * seq at that moment) and the room's.
 */
export const seesMessage = (
  member: Pick<MemberState, 'cleared_seq'>,
  room: Pick<RoomRecord, 'cleared_seq'>,
  seq: number,
) => seq > Math.max(member.cleared_seq, room.cleared_seq);

/**
 * A direct room the user deleted stays hidden until a message newer than the
 * deletion arrives; no write is needed to bring it back.
 */
export const isHidden = (
  member: Pick<MemberState, 'is_deleted' | 'cleared_seq'>,
  head: Pick<RoomHead, 'seq'>,
) => member.is_deleted && head.seq <= member.cleared_seq;
