import type { Caller } from '#platform/auth.ts';
import { LIMITS } from '#platform/limits.ts';
import { nowIso } from '#platform/time.ts';
import { markReadUpTo } from '#store/members.ts';
import { getMessagesBySeq, parseMessageId } from '#store/messages.ts';
import { recordSeen, seenSeqs } from '#store/seen.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireMembership } from './membership.ts';
import { seesMessage, unreadCount } from './unread.ts';

/**
 * mark-messages-seen: records receipts, advances the read marker, tells each
 * sender which of their messages were seen, and gives the caller's devices the
 * new unread count. Ids that are not messages of this room are ignored: they
 * are never trusted to name a room or a sender. So are messages the caller
 * cannot see (from before they joined, or at or below a clear marker): an
 * error would confirm that such a message exists, a receipt would tell its
 * sender of a reader who never saw it.
 */
export async function markMessagesSeen(
  caller: Caller,
  roomId: string,
  messageIds: readonly string[],
) {
  const { room, member, head } = await requireMembership(roomId, caller.userId);
  const seqs = [
    ...new Set(
      messageIds.flatMap((id) => {
        const where = parseMessageId(id);
        return where &&
          where.roomId === roomId &&
          where.seq <= head.seq &&
          seesMessage(member, room, where.seq)
          ? [where.seq]
          : [];
      }),
    ),
  ];
  // Receipts already stored are neither written nor told again: a client that
  // sends the same ids over and over costs reads, not writes and events.
  const [found, alreadySeen] = await Promise.all([
    getMessagesBySeq(roomId, seqs),
    seenSeqs(roomId, seqs, caller.userId),
  ]);
  const messages = found
    .filter((m) => !m.is_deleted && m.sender_id !== caller.userId)
    .sort((a, b) => a.seq - b.seq);
  const newlySeen = messages.filter((m) => !alreadySeen.has(m.seq));
  const seenAt = nowIso();
  let state = member;
  if (messages.length > 0) {
    const newest = messages.reduce((a, b) => (b.seq > a.seq ? b : a));
    const [, advanced] = await Promise.all([
      recordSeen(
        roomId,
        newlySeen.map((m) => m.seq),
        caller.userId,
        seenAt,
        LIMITS.seenReceiptTtlSeconds,
      ),
      markReadUpTo(caller.userId, roomId, newest.seq, newest.id, seenAt),
    ]);
    state = advanced ?? {
      ...member,
      read_seq: Math.max(member.read_seq, newest.seq),
      manual_unread: false,
    };
  }
  const bySender = new Map<string, string[]>();
  for (const m of newlySeen)
    bySender.set(m.sender_id, [...(bySender.get(m.sender_id) ?? []), m.id]);
  const seenBy = { user_id: caller.userId, user_name: caller.name, seen_at: seenAt };
  const unread = unreadCount(state, room, head);
  await Promise.all([
    ...[...bySender].map(([sender, ids]) =>
      fanOut([sender], events.messagesSeen(roomId, ids, seenBy)),
    ),
    fanOut([caller.userId], events.unreadCountUpdate(roomId, unread)),
  ]);
  return { room_id: roomId, seen_message_ids: messages.map((m) => m.id), unread_count: unread };
}
