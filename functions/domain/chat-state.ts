import type { Caller } from '#platform/auth.ts';
import { conflict, forbidden, notFound } from '#platform/errors.ts';
import { nowIso, nowMs } from '#platform/time.ts';
import { clearForMember, hideRoom, setMute } from '#store/members.ts';
import { deleteLastMember, leaveGroup } from '#store/room-membership.ts';
import { clearRoomForEveryone } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireMembership } from './membership.ts';
import { isAdmin, type RoomRecord } from './model.ts';
import { recordRoomEvent, recordUserEvent } from './sync-log.ts';
import { isMutedNow, membersByJoinOrder } from './views.ts';

/**
 * DELETE /rooms/:id (docs/openapi.json). A direct room is hidden for the caller
 * with their history cleared; a group is left, with admin hand-over, and removed
 * when its last member leaves. The caller's devices get `room-deleted`; on a
 * group, every member (the leaver too) gets `room-member-removed`.
 */
export async function deleteChat(caller: Caller, roomId: string) {
  const { room, head } = await requireMembership(roomId, caller.userId);
  const at = nowIso();
  if (room.type === 'direct') {
    if (!(await hideRoom(caller.userId, roomId, head.seq, at))) throw notFound('Room');
  } else {
    await leave(room, caller.userId, at);
  }
  const deleted = events.roomDeleted(roomId, caller.userId, at);
  const left = events.roomMemberRemoved(roomId, caller.userId, caller.userId);
  await Promise.all([
    fanOut([caller.userId], deleted),
    recordUserEvent(caller.userId, deleted, at),
    // Leaving a group: everyone who was in it, the leaver included, hears who left.
    room.type === 'group' && fanOut(Object.keys(room.members), left),
    // Sync hears it the same way: the leaver's other devices from their own log
    // (they no longer read the room's), the rest from the room's.
    room.type === 'group' && recordUserEvent(caller.userId, left, at),
    // A room its last member left is gone (purged): nothing is logged into it.
    room.type === 'group' &&
      Object.keys(room.members).length > 1 &&
      recordRoomEvent(roomId, left, at),
  ]);
  return { room_id: roomId, deleted_at: at };
}

/**
 * `userId` leaves the group `room` as read: the only admin hands over to the
 * longest-standing remaining member, the last member removes the room; one
 * transaction either way (409 when the room changed meanwhile). Also the
 * account erase's way out of a group (account-erase.ts).
 */
export async function leave(room: RoomRecord, userId: string, at: string) {
  const remaining = membersByJoinOrder(room.members).filter((u) => u !== userId);
  if (remaining.length === 0) {
    if (!(await deleteLastMember(room.id, userId))) throw conflict('The room changed; try again');
    return;
  }
  const otherAdmins = Object.keys(room.admins).filter((u) => u !== userId);
  const successor = otherAdmins.length === 0 ? remaining[0] : undefined;
  if (!(await leaveGroup(room.id, userId, successor, at)))
    throw conflict('The room changed; try again');
}

/**
 * DELETE /rooms/:id/messages (note 2). For the caller: their clear marker moves
 * to the latest message. For everyone (admins and the creator): the room's
 * marker moves, readers hide the messages at once, the stream reclaims storage,
 * and every member hears `room-messages-cleared`.
 */
export async function clearChat(caller: Caller, roomId: string, forEveryone: boolean) {
  const { room, head } = await requireMembership(roomId, caller.userId);
  const at = nowIso();
  if (forEveryone) {
    if (!isAdmin(room, caller.userId) && room.created_by !== caller.userId) {
      throw forbidden('Only an admin or the creator can clear a room for everyone');
    }
    if (head.seq > room.cleared_seq) await clearRoomForEveryone(roomId, head.seq, at);
    const cleared = events.roomMessagesCleared(roomId, caller.userId, at);
    await Promise.all([
      fanOut(Object.keys(room.members), cleared),
      recordRoomEvent(roomId, cleared, at),
    ]);
  } else if (!(await clearForMember(caller.userId, roomId, head.seq, at))) {
    throw notFound('Room');
  } else {
    // The caller's other devices catch up on their own clear through sync.
    await recordUserEvent(caller.userId, events.roomMessagesCleared(roomId, caller.userId, at), at);
  }
  return { room_id: roomId, cleared_at: at, for_everyone: forEveryone };
}

/** PUT /rooms/:id/mute: no push while muted; a mute with `muted_until` ends by itself. */
export async function muteRoom(
  caller: Caller,
  roomId: string,
  isMuted: boolean,
  mutedUntil: string | null,
) {
  await requireMembership(roomId, caller.userId);
  const state = await setMute(caller.userId, roomId, isMuted, mutedUntil);
  if (!state) throw notFound('Room');
  return {
    room_id: roomId,
    is_muted: isMutedNow(state, nowMs()),
    muted_until: state.muted_until,
  };
}
