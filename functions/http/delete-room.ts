import { deleteChat } from '#domain/chat-state.ts';
import { responseRef } from '#domain/response-ref.ts';
import { roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/rooms/{room_id}: hide a direct chat, or leave a group. */
export const handler = httpRoute(
  { params: roomParams, response: responseRef('deletedRoom') },
  async ({ caller, params }) => ({
    message: 'Chat deleted successfully',
    data: await deleteChat(caller, params.room_id),
  }),
);
