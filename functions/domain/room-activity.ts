import pLimit from 'p-limit';
import { ENV, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import {
  addDeletedSeq,
  advanceRoomActivity,
  getMember,
  raiseClearMarker,
  restoreHiddenRoom,
} from '#store/members.ts';
import { getRoom } from '#store/rooms.ts';
import type { TableChange } from '#store/stream-changes.ts';
import type { MessageRecord, RoomRecord } from './model.ts';

/** Body of a room-purge queue message: reclaim storage in the background. */
export interface PurgeRequest {
  room_id: string;
  /** null: the whole room is gone; a number: cleared for everyone up to it. */
  up_to_seq: number | null;
}

const perMember = <T>(userIds: string[], work: (userId: string) => Promise<T>) => {
  const limit = pLimit(16);
  return Promise.all(userIds.map((userId) => limit(() => work(userId))));
};

/**
 * The stream consumer's rules. Every member write is a conditional max or a set
 * add, so replays and any delivery order converge on the same state (the
 * argument is in unread.ts).
 */
export async function applyTableChange(change: TableChange): Promise<void> {
  switch (change.kind) {
    case 'room-advanced':
      return propagateActivity(change.room);
    case 'room-cleared':
      await perMember(Object.keys(change.room.members), (userId) =>
        raiseClearMarker(
          userId,
          change.room.id,
          change.room.cleared_seq,
          change.room.cleared_at ?? change.room.updated_at,
        ),
      );
      return purge({ room_id: change.room.id, up_to_seq: change.room.cleared_seq });
    case 'room-removed':
      return purge({ room_id: change.roomId, up_to_seq: null });
    case 'message-deleted':
      return rememberDeletion(change.message);
  }
}

/**
 * A new message: every other member's item moves to its seq and to the top of
 * their list (the sender's moved in the send transaction itself).
 */
async function propagateActivity(room: RoomRecord) {
  const at = room.last_message?.created_at ?? room.updated_at;
  const sender = room.last_message?.sender_id;
  const others = Object.keys(room.members).filter((u) => u !== sender);
  await perMember(others, async (userId) => {
    const state =
      (await advanceRoomActivity(userId, room.id, room.seq, at)) ??
      (await getMember(userId, room.id));
    // A deleted direct room comes back with the next message after the deletion.
    if (state?.is_deleted && room.seq > state.cleared_seq) await restoreHiddenRoom(state);
  });
}

/** A deleted message stops counting as unread for every member who had not read it yet. */
async function rememberDeletion(message: MessageRecord) {
  const room = await getRoom(message.room_id);
  if (!room) return;
  const others = Object.keys(room.members).filter((u) => u !== message.sender_id);
  await perMember(others, (userId) => addDeletedSeq(userId, room.id, message.seq));
}

async function purge(request: PurgeRequest) {
  await enqueue(requireEnv(ENV.purgeQueueUrl), [request]);
}
