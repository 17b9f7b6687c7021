import pLimit from 'p-limit';
import { advanceRoomActivity } from '#store/members.ts';
import type { RoomRecord } from './model.ts';

/**
 * A room's sequence moved forward: every member's item moves to that seq and to
 * the top of their list. Each update is a conditional max, so replays and any
 * order of delivery converge on the same state.
 */
export async function propagateRoomActivity(room: RoomRecord): Promise<void> {
  const at = room.last_message?.created_at ?? room.updated_at;
  const limit = pLimit(16);
  await Promise.all(
    Object.keys(room.members).map((userId) =>
      limit(() => advanceRoomActivity(userId, room.id, room.seq, at)),
    ),
  );
}
