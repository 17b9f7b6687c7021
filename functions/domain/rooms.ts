import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { conflict, forbidden, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { nowIso } from '#platform/time.ts';
import { openCursor, sealCursor } from '#store/cursor.ts';
import { getMember, listAllMembers, restoreHiddenRoom } from '#store/members.ts';
import { getRoomHeads } from '#store/room-head.ts';
import {
  addMembers as storeAddMembers,
  createRoom as storeCreateRoom,
  removeMember as storeRemoveMember,
} from '#store/room-membership.ts';
import { getDirectRoomId, getRooms } from '#store/rooms.ts';
import { announce } from './announce.ts';
import { blockItemsBetween, requireNoBlockBetween, requireNotBlockedBy } from './blocks.ts';
import { events } from './events.ts';
import { requireMembership } from './membership.ts';
import {
  emptyHead,
  isAdmin,
  isMember,
  type MemberState,
  newMemberState,
  newRoom,
  type RoomHead,
  type RoomRecord,
} from './model.ts';
import { chargeAddedToGroup, chargeRoomCreation } from './rate-limits.ts';
import type { CreateRoomInput } from './schemas.ts';
import { requireConsentToBeAdded } from './settings.ts';
import { recordRoomEvent, recordUserEvent } from './sync-log.ts';
import { isHidden } from './unread.ts';
import { roomView } from './views.ts';

export async function createRoom(caller: Caller, input: CreateRoomInput) {
  const now = nowIso();
  if (input.type === 'direct') {
    const other = input.member_ids[0]!;
    if (other === caller.userId) throw validationError('A direct room needs another user');
    const existing = await getDirectRoomId(caller.userId, other);
    if (existing) return { created: false, room: await reopenDirect(existing, caller.userId) };
    await requireNoBlockBetween(caller.userId, other);
    await chargeRoomCreation(caller.userId);
    const room = newRoom(ulid(), 'direct', null, caller.userId, [caller.userId, other], now);
    const members = [caller.userId, other].map((u) => newMemberState(u, room.id, now));
    // A block made meanwhile fails the transaction too (blocks.ts: no room past a block).
    if (!(await storeCreateRoom(room, members, blockItemsBetween(caller.userId, other)))) {
      // Lost a race with the other user creating the same pair: answer with theirs.
      const winner = await getDirectRoomId(caller.userId, other);
      if (!winner) {
        await requireNoBlockBetween(caller.userId, other);
        throw conflict('The direct room is being created; try again');
      }
      return { created: false, room: await reopenDirect(winner, caller.userId) };
    }
    return { created: true, room: roomView(room, members[0]!, emptyHead(room.id)) };
  }
  const memberIds = [...new Set([caller.userId, ...input.member_ids])];
  if (memberIds.length > LIMITS.groupMembers) {
    throw validationError(`A group has at most ${LIMITS.groupMembers} members`);
  }
  // The creator's own bucket first: a creator over their cap spends nobody else's
  // tokens, and learning who refuses groups costs a room creation each time.
  await chargeRoomCreation(caller.userId);
  const invited = memberIds.filter((u) => u !== caller.userId);
  await admitToGroup(caller.userId, invited);
  const room = newRoom(ulid(), 'group', input.name, caller.userId, memberIds, now);
  const members = memberIds.map((u) => newMemberState(u, room.id, now));
  if (!(await storeCreateRoom(room, members)))
    throw conflict('The room could not be created; try again');
  // The people the creator put in hear of it live, as if added (docs/architecture.md "Membership events").
  if (invited.length > 0) {
    const added = events.roomMemberAdded(room.id, invited, caller.userId);
    await Promise.all([announce(memberIds, added), recordRoomEvent(room.id, added, now)]);
  }
  return { created: true, room: roomView(room, members[0]!, emptyHead(room.id)) };
}

/** Asking for a direct room the caller had deleted brings it back, with history still cleared. */
async function reopenDirect(roomId: string, userId: string) {
  const member = await getMember(userId, roomId);
  if (member?.is_deleted) await restoreHiddenRoom(member);
  return viewFor(roomId, userId);
}

async function viewFor(roomId: string, userId: string) {
  const { room, member, head } = await requireMembership(roomId, userId);
  return roomView(room, member, head);
}

export async function getRoomForCaller(caller: Caller, roomId: string) {
  return viewFor(roomId, caller.userId);
}

/** Where a room sorts in a list: newest activity first, room id breaking ties. */
const listPosition = (member: MemberState, head: RoomHead) =>
  `${head.last_activity ?? member.joined_at}#${member.room_id}`;

/**
 * The caller's rooms, newest activity first: one Query of their member items
 * and one BatchGet of those rooms' heads, sorted here (no per-message write
 * keeps an index in order), then one BatchGet of the page's rooms. The cost
 * grows with the user's rooms, never with messages. The cursor is the last
 * room's list position.
 */
export async function listRooms(
  caller: Caller,
  options: { archived: boolean; limit: number; cursor?: string | undefined },
) {
  const purpose = options.archived ? 'rooms:archived' : 'rooms:inbox';
  const position = options.cursor ? openCursor(purpose, caller.userId, options.cursor) : undefined;
  if (options.cursor && typeof position !== 'string') {
    throw validationError('Invalid query: cursor: is not a cursor of this list');
  }
  const after = typeof position === 'string' ? position : undefined;
  const members = (await listAllMembers(caller.userId)).filter(
    (m) => m.is_archived === options.archived,
  );
  const heads = await getRoomHeads(members.map((m) => m.room_id));
  const ordered = members
    .flatMap((member) => {
      const head = heads.get(member.room_id)!;
      return isHidden(member, head) ? [] : [{ member, head, at: listPosition(member, head) }];
    })
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .filter((entry) => after === undefined || entry.at < after);
  const page = ordered.slice(0, options.limit);
  const rooms = await getRooms(page.map((e) => e.member.room_id));
  const views = page.flatMap(({ member, head }) => {
    const room = rooms.get(member.room_id);
    return room && isMember(room, caller.userId) ? [roomView(room, member, head)] : [];
  });
  const last = page.at(-1);
  return {
    rooms: views,
    next_cursor:
      ordered.length > options.limit && last ? sealCursor(purpose, caller.userId, last.at) : null,
  };
}

export async function addMembers(caller: Caller, roomId: string, userIds: string[]) {
  const { room, head } = await requireMembership(roomId, caller.userId);
  requireGroupAdmin(room, caller.userId);
  const newcomers = [...new Set(userIds)].filter((u) => !isMember(room, u));
  if (newcomers.length === 0) return viewFor(roomId, caller.userId);
  if (Object.keys(room.members).length + newcomers.length > LIMITS.groupMembers) {
    throw validationError(`A group has at most ${LIMITS.groupMembers} members`);
  }
  await admitToGroup(caller.userId, newcomers);
  const now = nowIso();
  const states = newcomers.map((u) => newMemberState(u, roomId, now, head.seq));
  if (!(await storeAddMembers(roomId, caller.userId, states, LIMITS.groupMembers))) {
    throw conflict('The room changed while adding members; try again');
  }
  const added = events.roomMemberAdded(roomId, newcomers, caller.userId);
  await Promise.all([
    announce([...Object.keys(room.members), ...newcomers], added),
    recordRoomEvent(roomId, added, now),
  ]);
  return viewFor(roomId, caller.userId);
}

export async function removeMember(caller: Caller, roomId: string, userId: string) {
  const { room } = await requireMembership(roomId, caller.userId);
  requireGroupAdmin(room, caller.userId);
  if (userId === caller.userId) {
    throw conflict('To leave a room, use DELETE /api/chat/rooms/{room_id}');
  }
  if (!isMember(room, userId)) throw notFound('Member');
  const at = nowIso();
  if (!(await storeRemoveMember(roomId, caller.userId, userId, at))) {
    throw conflict('The room changed while removing the member; try again');
  }
  // The remaining members and the one removed (room.members still holds them all);
  // sync finds it in the room's log, and the removed one (no longer a member) in theirs.
  const removed = events.roomMemberRemoved(roomId, userId, caller.userId);
  await Promise.all([
    announce(Object.keys(room.members), removed),
    recordRoomEvent(roomId, removed, at),
    recordUserEvent(userId, removed, at),
  ]);
  return viewFor(roomId, caller.userId);
}

/**
 * Before anyone is put into a group by someone else: their consent (403 for a
 * "nobody") and no block of theirs against the adder (403 BLOCKED), read side
 * by side before any token is taken, then their own `addedToGroup` bucket
 * (429). All run before anything is stored.
 */
async function admitToGroup(adder: string, targets: readonly string[]) {
  await Promise.all([requireConsentToBeAdded(targets), requireNotBlockedBy(adder, targets)]);
  await chargeAddedToGroup(targets);
}

function requireGroupAdmin(room: RoomRecord, userId: string) {
  if (room.type !== 'group') throw conflict('Members of a direct room cannot change');
  if (!isAdmin(room, userId)) throw forbidden('Only an admin can change members');
}
