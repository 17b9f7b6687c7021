import { archiveRoom } from '#domain/archive.ts';
import { roomArchiveFrame } from '#domain/schemas.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction('room-archive', roomArchiveFrame, async ({ caller, body }) => {
  await archiveRoom(caller, body.room_id, body.is_archived);
});
