import type { MemberState, RoomHead, RoomRecord } from './model.ts';

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
 *   sender's read marker to the message's seq, and read markers only move
 *   forward (conditional max);
 * - clear markers only rise, and a read marker past `top` (a read racing a send)
 *   is floored at 0.
 * The head keeps the newest LIMITS.deletedSeqsKept deleted seqs: the count is
 * exact unless more messages than that were deleted since the user last read.
 */
export function unreadCount(
  member: Pick<MemberState, 'read_seq' | 'cleared_seq' | 'manual_unread'>,
  room: Pick<RoomRecord, 'cleared_seq'>,
  head: Pick<RoomHead, 'seq' | 'deleted_seqs'>,
): number {
  const read = readFloor(member, room);
  const top = head.seq;
  const deleted = head.deleted_seqs.filter((seq) => seq > read && seq <= top).length;
  const count = Math.max(0, top - read - deleted);
  return member.manual_unread ? Math.max(1, count) : count;
}

/** Messages at or below this seq are read or cleared for the member. */
export const readFloor = (
  member: Pick<MemberState, 'read_seq' | 'cleared_seq'>,
  room: Pick<RoomRecord, 'cleared_seq'>,
) => Math.max(member.read_seq, member.cleared_seq, room.cleared_seq);

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
