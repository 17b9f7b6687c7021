import { archiveRoom } from '#domain/archive.ts';
import { responseRef } from '#domain/response-ref.ts';
import { archiveBody, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/rooms/{room_id}/archive */
export const handler = httpRoute(
  { params: roomParams, body: archiveBody, response: responseRef('archiveState') },
  async ({ caller, params, body }) => ({
    message: body.is_archived ? 'Chat archived successfully' : 'Chat unarchived successfully',
    data: await archiveRoom(caller, params.room_id, body.is_archived),
  }),
);
