import * as responses from '#domain/responses.ts';
import { getRoomForCaller } from '#domain/rooms.ts';
import { roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/rooms/{room_id} */
export const handler = httpRoute(
  { params: roomParams, response: responses.room },
  async ({ caller, params }) => ({
    data: await getRoomForCaller(caller, params.room_id),
  }),
);
