import { forbidden, notFound } from '#platform/errors.ts';
import { getMember, getMembers, getRoomMemberStates } from '#store/members.ts';
import { getRoomHead, getRoomHeads } from '#store/room-head.ts';
import { getRoom, getRooms } from '#store/rooms.ts';
import { isMember, type MemberState, type RoomHead, type RoomRecord } from './model.ts';
import { isHidden } from './unread.ts';

/**
 * The membership checks, written once (the HTTP API, docs/openapi.json: a room
 * that does not exist answers 404, a room the caller is not in 403). `which`
 * names the room in a batch answer ("r_1"); alone it is "this room".
 */
export function requireInRoom(
  userId: string,
  room: RoomRecord | undefined,
  which?: string,
): RoomRecord {
  if (!room) throw notFound(which ? `Room ${which}` : 'Room');
  if (!isMember(room, userId)) throw notMember(which);
  return room;
}

/**
 * As requireInRoom, with the caller's member state, which must exist (removal
 * deletes it with the room's list entry). `gone`: the room is gone for the caller
 * (deleted by them, until a newer message): 404, as if it did not exist.
 */
export function requireMember(
  userId: string,
  room: RoomRecord | undefined,
  member: MemberState | undefined,
  { gone = false, which }: { gone?: boolean; which?: string } = {},
): { room: RoomRecord; member: MemberState } {
  if (room && member && gone) throw notFound(which ? `Room ${which}` : 'Room');
  const inRoom = requireInRoom(userId, room, which);
  if (!member) throw notMember(which);
  return { room: inRoom, member };
}

/**
 * Loads a room, the caller's member state and the room's head for a caller who
 * must be a member, and applies requireMember: a room the caller deleted is gone
 * for them (404, as if it did not exist) until a new message brings it back.
 */
export async function requireMembership(
  roomId: string,
  userId: string,
): Promise<{ room: RoomRecord; member: MemberState; head: RoomHead }> {
  const [room, member, head] = await Promise.all([
    getRoom(roomId),
    getMember(userId, roomId),
    getRoomHead(roomId),
  ]);
  const gone = member !== undefined && isHidden(member, head);
  return { ...requireMember(userId, room, member, { gone }), head };
}

/**
 * requireMembership for several rooms at once (forward targets): each must
 * exist, have the caller as a member, and not be gone for them (isHidden, as
 * for one room, the room list and get-room: a direct room the caller deleted
 * is back once a newer message arrived). Errors name the room. One round trip
 * reads the rooms and the caller's member states; a second, only when the
 * caller deleted some of the rooms, reads those rooms' heads (one BatchGet).
 */
export async function requireMemberships(
  userId: string,
  roomIds: readonly string[],
): Promise<Map<string, RoomRecord>> {
  const [rooms, members] = await Promise.all([getRooms(roomIds), getMembers(userId, roomIds)]);
  const deleted = roomIds.filter((id) => members.get(id)?.is_deleted);
  const heads = deleted.length > 0 ? await getRoomHeads(deleted) : new Map<string, RoomHead>();
  for (const id of roomIds) {
    const member = members.get(id);
    const head = heads.get(id);
    const gone = member !== undefined && head !== undefined && isHidden(member, head);
    requireMember(userId, rooms.get(id), member, { gone, which: id });
  }
  return rooms;
}

/**
 * For an action that reaches the other members (typing): the caller must be in
 * the room and still have it, as requireMembership decides; answers the other
 * members who still have it. A direct room one side deleted is hidden for them
 * until a newer message (isHidden), so while it is, neither side reaches the
 * other; deleting a group is leaving it, so a group hides nothing. Past the room
 * this reads, for a direct room only, its two member states (one BatchGet) and,
 * when one of them deleted it, its head.
 */
export async function requireInRoomWithPeers(
  roomId: string,
  userId: string,
): Promise<{ room: RoomRecord; peers: string[] }> {
  const room = requireInRoom(userId, await getRoom(roomId));
  const others = Object.keys(room.members).filter((u) => u !== userId);
  if (room.type !== 'direct') return { room, peers: others };
  const states = await getRoomMemberStates(roomId, [userId, ...others]);
  const head = [...states.values()].some((m) => m.is_deleted)
    ? await getRoomHead(roomId)
    : undefined;
  // A state not read (eventually consistent) hides nothing: room.members decided membership.
  const hidden = (u: string) => {
    const state = states.get(u);
    return head !== undefined && state !== undefined && isHidden(state, head);
  };
  if (hidden(userId)) throw notFound('Room');
  return { room, peers: others.filter((u) => !hidden(u)) };
}

/**
 * A direct room whose other member erased their account (DELETE /api/chat/me,
 * account-erase.ts) stays for the one left, history and all, but takes no more
 * messages: 403. The erase takes the erased user off the room's `members`, so a
 * direct room with one member is one whose other member is gone; the send
 * reads the room anyway, so this costs nothing.
 */
export function requireConversationPartner(room: RoomRecord): void {
  if (room.type === 'direct' && Object.keys(room.members).length < 2) {
    throw forbidden('The other member of this conversation deleted their account');
  }
}

const notMember = (which?: string) =>
  forbidden(which ? `You are not a member of room ${which}` : 'You are not a member of this room');
