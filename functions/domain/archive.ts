import type { Caller } from '#platform/auth.ts';
import { notFound } from '#platform/errors.ts';
import { nowIso } from '#platform/time.ts';
import { setArchived } from '#store/members.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireMembership } from './membership.ts';
import { recordUserEvent } from './sync-log.ts';

/** Per-user archive: the room moves lists for this user only; all their devices hear of it. */
export async function archiveRoom(caller: Caller, roomId: string, isArchived: boolean) {
  await requireMembership(roomId, caller.userId);
  const state = await setArchived(caller.userId, roomId, isArchived, nowIso());
  if (!state) throw notFound('Room');
  const archived = events.roomArchived(roomId, state.is_archived, state.archived_at);
  await Promise.all([
    fanOut([caller.userId], archived),
    recordUserEvent(caller.userId, archived, state.archived_at ?? nowIso()),
  ]);
  return { room_id: roomId, is_archived: state.is_archived, archived_at: state.archived_at };
}
