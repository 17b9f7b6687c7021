import * as responses from '#domain/responses.ts';
import { removeMember } from '#domain/rooms.ts';
import { memberParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/rooms/{room_id}/members/{user_id} (admins only) */
export const handler = httpRoute(
  { params: memberParams, response: responses.room },
  async ({ caller, params }) => ({
    message: 'Member removed',
    data: await removeMember(caller, params.room_id, params.user_id),
  }),
);
