import pLimit from 'p-limit';
import type { Caller } from '#platform/auth.ts';
import { notFound, validationError } from '#platform/errors.ts';
import { nowIso } from '#platform/time.ts';
import {
  clearManualUnread,
  getMembers,
  listAllMembers,
  markReadUpTo,
  markUnread,
} from '#store/members.ts';
import { parseMessageId } from '#store/messages.ts';
import { getRoomHeads } from '#store/room-head.ts';
import { getRooms } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireMember, requireMembership } from './membership.ts';
import type { MemberState, RoomHead } from './model.ts';
import { isHidden, isMarkedUnread, lastReadMessageId, ownReadSeq, unreadCount } from './unread.ts';

/** GET /unread-count?room_id=: one room's count, from its counters. */
export async function getRoomUnreadCount(caller: Caller, roomId: string) {
  const { room, member, head } = await requireMembership(roomId, caller.userId);
  return {
    room_id: roomId,
    unread_count: unreadCount(member, room, head),
    last_read_message_id: lastReadMessageId(member, head),
  };
}

/**
 * GET /unread-count: sequence arithmetic over the user's member items (one
 * Query), their rooms' heads and their rooms' clear markers (BatchGets), never
 * by counting messages. The total is the sum of the very counts listed, so the
 * two cannot disagree.
 */
export async function getAllUnreadCounts(caller: Caller) {
  const members = await listAllMembers(caller.userId);
  const ids = members.map((m) => m.room_id);
  const [heads, roomRecords] = await Promise.all([getRoomHeads(ids), getRooms(ids)]);
  const rooms = members.flatMap((m) => {
    const head = heads.get(m.room_id)!;
    const room = roomRecords.get(m.room_id);
    if (!room || isHidden(m, head)) return [];
    return [
      {
        room_id: m.room_id,
        unread_count: unreadCount(m, room, head),
        last_read_message_id: lastReadMessageId(m, head),
        last_message_timestamp: head.last_message?.created_at ?? null,
      },
    ];
  });
  return { total_unread: rooms.reduce((sum, r) => sum + r.unread_count, 0), rooms };
}

/** The seq a read reaches: a given message of this room, or the latest. */
function readTarget(head: RoomHead, messageId: string | null | undefined) {
  if (!messageId) return { seq: head.seq, id: head.last_message?.id ?? null };
  const where = parseMessageId(messageId);
  if (!where || where.roomId !== head.room_id)
    throw validationError('last_read_message_id must be a message of this room');
  if (where.seq > head.seq) throw notFound('Message');
  return { seq: where.seq, id: messageId };
}

async function readUpTo(
  member: MemberState,
  head: RoomHead,
  target: { seq: number; id: string | null },
  at: string,
) {
  const advanced =
    target.seq > ownReadSeq(member, head)
      ? await markReadUpTo(member.user_id, member.room_id, target.seq, target.id, at)
      : undefined;
  const state =
    advanced ??
    (isMarkedUnread(member, head)
      ? await clearManualUnread(member.user_id, member.room_id, at)
      : undefined);
  return state ?? member;
}

/** PUT /rooms/:id/read-status: read up to a message or the latest, or mark unread by hand. */
export async function setReadStatus(
  caller: Caller,
  roomId: string,
  input: { is_read: boolean; last_read_message_id?: string | null | undefined },
) {
  const { room, member, head } = await requireMembership(roomId, caller.userId);
  const at = nowIso();
  const state = input.is_read
    ? await readUpTo(member, head, readTarget(head, input.last_read_message_id), at)
    : ((await markUnread(caller.userId, roomId, head.seq)) ?? member);
  const count = unreadCount(state, room, head);
  await fanOut([caller.userId], events.unreadCountUpdate(roomId, count));
  return {
    room_id: roomId,
    unread_count: count,
    last_read_message_id: lastReadMessageId(state, head),
    read_at: at,
  };
}

/** PUT /read-status: several rooms read at once. Every room is checked before anything is written. */
export async function markRoomsRead(caller: Caller, roomIds: readonly string[]) {
  const ids = [...new Set(roomIds)];
  const [rooms, members, heads] = await Promise.all([
    getRooms(ids),
    getMembers(caller.userId, ids),
    getRoomHeads(ids),
  ]);
  for (const id of ids) {
    const member = members.get(id);
    const gone = member !== undefined && isHidden(member, heads.get(id)!);
    requireMember(caller.userId, rooms.get(id), member, { gone, which: id });
  }
  const at = nowIso();
  const limit = pLimit(16);
  const results = await Promise.all(
    ids.map((id) =>
      limit(async () => {
        const head = heads.get(id)!;
        const state = await readUpTo(members.get(id)!, head, readTarget(head, null), at);
        return { room_id: id, unread_count: unreadCount(state, rooms.get(id)!, head) };
      }),
    ),
  );
  await fanOut(
    [caller.userId],
    results.map((r) => events.unreadCountUpdate(r.room_id, r.unread_count)),
  );
  return { rooms_updated: results.length, rooms: results, read_at: at };
}
