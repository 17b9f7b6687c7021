import { responseRef } from '#domain/response-ref.ts';
import { addMembers } from '#domain/rooms.ts';
import { addMembersBody, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/rooms/{room_id}/members (admins only) */
export const handler = httpRoute(
  {
    params: roomParams,
    body: addMembersBody,
    response: responseRef('room'),
    // One member item written per user added (the `members` bucket counts users).
    cost: (body) => body.user_ids.length,
  },
  async ({ caller, params, body }) => ({
    message: 'Members added',
    data: await addMembers(caller, params.room_id, body.user_ids),
  }),
);
