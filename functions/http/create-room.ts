import { responseRef } from '#domain/response-ref.ts';
import { createRoom } from '#domain/rooms.ts';
import { createRoomBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/rooms: 201 when created, 200 when the direct room already existed. */
export const handler = httpRoute(
  { body: createRoomBody, response: responseRef('room') },
  async ({ caller, body }) => {
    const { created, room } = await createRoom(caller, body);
    return {
      status: created ? 201 : 200,
      message: created ? 'Room created' : 'Room already exists',
      data: room,
    };
  },
);
