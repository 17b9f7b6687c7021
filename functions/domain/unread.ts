import type { MemberState, RoomRecord } from './model.ts';

/**
 * Unread count, derived from sequence numbers instead of counting messages
 * (CONTRACT §5 note 4): the messages from others after the user's read marker
 * and clear markers, less the deleted ones.
 *
 * Why it is exact under the stream's at-least-once, per-item-ordered delivery:
 * - seqs are allocated in the transaction that writes each message, so (read, top]
 *   holds exactly top − read messages — there are no gaps;
 * - the user's own messages never fall in (read, top]: sending moves the sender's
 *   read marker to the message's seq in that same transaction, and read markers
 *   only move forward (every write is a conditional max);
 * - `room_seq`, `read_seq` and the clear markers are maxima and `deleted_seqs` is
 *   a set: replaying or reordering any stream record leaves them unchanged;
 * - a deleted seq counts only inside (read, top], so a deletion that lands before
 *   the room_seq update for it, or after a read that covered it, is still right;
 * - a read that lands before the stream catches up gives top < read: the floor at
 *   0 covers it, and the later room_seq update only raises top to read.
 *
 * `room`, when given, is fresher than the member item (it is read consistently):
 * its seq and clear-for-everyone marker apply at once, before the stream runs.
 */
export function unreadCount(
  member: MemberState,
  room?: Pick<RoomRecord, 'seq' | 'cleared_seq'>,
): number {
  const read = Math.max(member.read_seq, member.cleared_seq, room?.cleared_seq ?? 0);
  const top = Math.max(member.room_seq, room?.seq ?? 0);
  const deleted = member.deleted_seqs.filter((seq) => seq > read && seq <= top).length;
  const count = Math.max(0, top - read - deleted);
  return member.manual_unread ? Math.max(1, count) : count;
}
