import { muteRoom } from '#domain/chat-state.ts';
import { responseRef } from '#domain/response-ref.ts';
import { muteBody, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/rooms/{room_id}/mute */
export const handler = httpRoute(
  { params: roomParams, body: muteBody, response: responseRef('muteState') },
  async ({ caller, params, body }) => ({
    message: body.is_muted ? 'Chat muted' : 'Chat unmuted',
    data: await muteRoom(caller, params.room_id, body.is_muted, body.muted_until ?? null),
  }),
);
