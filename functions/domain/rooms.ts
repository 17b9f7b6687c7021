import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { conflict, forbidden, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { getMember, listMemberRooms, newMemberState, restoreHiddenRoom } from '#store/members.ts';
import {
  addMembers as storeAddMembers,
  createRoom as storeCreateRoom,
  removeMember as storeRemoveMember,
} from '#store/room-membership.ts';
import { getDirectRoomId, getRoom, getRooms } from '#store/rooms.ts';
import { isAdmin, isMember, type MemberState, type RoomRecord } from './model.ts';
import { chargeRoomCreation } from './rate-limits.ts';
import type { CreateRoomInput } from './schemas.ts';
import { roomView } from './views.ts';

export const nowIso = () => new Date().toISOString();

/**
 * Loads a room for a caller who must be a member. A room that does not exist
 * and a room the caller is not in answer differently (404 / 403), as CONTRACT §3.
 */
export async function requireMembership(
  roomId: string,
  userId: string,
): Promise<{ room: RoomRecord; member: MemberState }> {
  const [room, member] = await Promise.all([getRoom(roomId), getMember(userId, roomId)]);
  if (!room) throw notFound('Room');
  if (!isMember(room, userId) || !member) throw forbidden('You are not a member of this room');
  // A room the user deleted is gone for them (CONTRACT §3) until a new message brings it back.
  if (member.is_deleted) throw notFound('Room');
  return { room, member };
}

export async function createRoom(caller: Caller, input: CreateRoomInput) {
  const now = nowIso();
  if (input.type === 'direct') {
    const other = input.member_ids[0]!;
    if (other === caller.userId) throw validationError('A direct room needs another user');
    const existing = await getDirectRoomId(caller.userId, other);
    if (existing) return { created: false, room: await reopenDirect(existing, caller.userId) };
    await chargeRoomCreation(caller.userId);
    const room = newRoom('direct', null, caller.userId, [caller.userId, other], now);
    const members = [caller.userId, other].map((u) => newMemberState(u, room.id, now));
    if (!(await storeCreateRoom(room, members))) {
      // Lost a race with the other user creating the same pair: answer with theirs.
      const winner = await getDirectRoomId(caller.userId, other);
      if (!winner) throw conflict('The direct room is being created; try again');
      return { created: false, room: await reopenDirect(winner, caller.userId) };
    }
    return { created: true, room: roomView(room, members[0]!) };
  }
  const memberIds = [...new Set([caller.userId, ...input.member_ids])];
  if (memberIds.length > LIMITS.groupMembers) {
    throw validationError(`A group has at most ${LIMITS.groupMembers} members`);
  }
  await chargeRoomCreation(caller.userId);
  const room = newRoom('group', input.name, caller.userId, memberIds, now);
  const members = memberIds.map((u) => newMemberState(u, room.id, now));
  if (!(await storeCreateRoom(room, members)))
    throw conflict('The room could not be created; try again');
  return { created: true, room: roomView(room, members[0]!) };
}

function newRoom(
  type: RoomRecord['type'],
  name: string | null,
  creator: string,
  memberIds: string[],
  now: string,
): RoomRecord {
  return {
    id: ulid(),
    type,
    name,
    created_by: creator,
    created_at: now,
    updated_at: now,
    members: Object.fromEntries(memberIds.map((u) => [u, now])),
    admins: type === 'group' ? { [creator]: now } : {},
    seq: 0,
    last_message: null,
    cleared_seq: 0,
    cleared_at: null,
  };
}

/** Asking for a direct room the caller had deleted brings it back, with history still cleared. */
async function reopenDirect(roomId: string, userId: string) {
  const member = await getMember(userId, roomId);
  if (member?.is_deleted) await restoreHiddenRoom(member);
  return viewFor(roomId, userId);
}

async function viewFor(roomId: string, userId: string) {
  const { room, member } = await requireMembership(roomId, userId);
  return roomView(room, member);
}

export async function getRoomForCaller(caller: Caller, roomId: string) {
  return viewFor(roomId, caller.userId);
}

/** One Query for the page of member items, one BatchGet for their rooms. */
export async function listRooms(
  caller: Caller,
  options: { archived: boolean; limit: number; cursor?: string | undefined },
) {
  const page = await listMemberRooms(
    caller.userId,
    options.archived,
    options.limit,
    options.cursor,
  );
  const rooms = await getRooms(page.members.map((m) => m.room_id));
  const views = page.members.flatMap((member) => {
    const room = rooms.get(member.room_id);
    return room && isMember(room, caller.userId) ? [roomView(room, member)] : [];
  });
  return { rooms: views, next_cursor: page.nextCursor };
}

export async function addMembers(caller: Caller, roomId: string, userIds: string[]) {
  const { room } = await requireMembership(roomId, caller.userId);
  requireGroupAdmin(room, caller.userId);
  const newcomers = [...new Set(userIds)].filter((u) => !isMember(room, u));
  if (newcomers.length === 0) return viewFor(roomId, caller.userId);
  if (Object.keys(room.members).length + newcomers.length > LIMITS.groupMembers) {
    throw validationError(`A group has at most ${LIMITS.groupMembers} members`);
  }
  const now = nowIso();
  const states = newcomers.map((u) => newMemberState(u, roomId, now, room.seq));
  if (!(await storeAddMembers(roomId, caller.userId, states, LIMITS.groupMembers))) {
    throw conflict('The room changed while adding members; try again');
  }
  return viewFor(roomId, caller.userId);
}

export async function removeMember(caller: Caller, roomId: string, userId: string) {
  const { room } = await requireMembership(roomId, caller.userId);
  requireGroupAdmin(room, caller.userId);
  if (userId === caller.userId) {
    throw conflict('To leave a room, use DELETE /api/chat/rooms/{room_id}');
  }
  if (!isMember(room, userId)) throw notFound('Member');
  if (!(await storeRemoveMember(roomId, caller.userId, userId, nowIso()))) {
    throw conflict('The room changed while removing the member; try again');
  }
  return viewFor(roomId, caller.userId);
}

function requireGroupAdmin(room: RoomRecord, userId: string) {
  if (room.type !== 'group') throw conflict('Members of a direct room cannot change');
  if (!isAdmin(room, userId)) throw forbidden('Only an admin can change members');
}
