import { listAllMembers } from '#store/members.ts';
import { getRooms } from '#store/rooms.ts';
import { isMember } from './model.ts';

/** Everyone who shares at least one room with the user (not the user): one Query, one BatchGet. */
export async function roomPeers(userId: string): Promise<string[]> {
  const rooms = await getRooms((await listAllMembers(userId)).map((m) => m.room_id));
  const peers = new Set<string>();
  for (const room of rooms.values()) {
    if (!isMember(room, userId)) continue;
    for (const member of Object.keys(room.members)) peers.add(member);
  }
  peers.delete(userId);
  return [...peers];
}
