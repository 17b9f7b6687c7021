import { LIMITS } from '#platform/limits.ts';
import type { ServerEvent } from '#platform/post-to-connection.ts';
import { logRoomEvent, logUserEvent } from '#store/event-log.ts';

/*
 * What sync (sync.ts) reads back besides messages: each event that is not a
 * message is recorded once where it happens. Kept apart from sync.ts so the
 * functions that record (delete, clear, archive...) load none of its reading.
 */

/** An event every member of the room heard. */
export const recordRoomEvent = (roomId: string, frame: ServerEvent, at: string) =>
  logRoomEvent(roomId, at, frame.event, frame.data, LIMITS.syncEventTtlSeconds);

/** An event only this user's devices heard. */
export const recordUserEvent = (userId: string, frame: ServerEvent, at: string) =>
  logUserEvent(userId, at, frame.event, frame.data, LIMITS.syncEventTtlSeconds);
