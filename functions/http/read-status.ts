import { setReadStatus } from '#domain/read-status.ts';
import { responseRef } from '#domain/response-ref.ts';
import { readStatusBody, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/rooms/{room_id}/read-status */
export const handler = httpRoute(
  { params: roomParams, body: readStatusBody, response: responseRef('readStatus') },
  async ({ caller, params, body }) => ({
    data: await setReadStatus(caller, params.room_id, body),
  }),
);
