import { responseRef } from '#domain/response-ref.ts';
import { removeMember } from '#domain/rooms.ts';
import { memberParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/rooms/{room_id}/members/{user_id} (admins only) */
export const handler = httpRoute(
  { params: memberParams, response: responseRef('room') },
  async ({ caller, params }) => ({
    message: 'Member removed',
    data: await removeMember(caller, params.room_id, params.user_id),
  }),
);
