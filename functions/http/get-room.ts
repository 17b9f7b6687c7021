import { responseRef } from '#domain/response-ref.ts';
import { getRoomForCaller } from '#domain/rooms.ts';
import { roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/rooms/{room_id} */
export const handler = httpRoute(
  { params: roomParams, response: responseRef('room') },
  async ({ caller, params }) => ({
    data: await getRoomForCaller(caller, params.room_id),
  }),
);
