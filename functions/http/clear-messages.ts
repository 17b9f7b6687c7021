import { clearChat } from '#domain/chat-state.ts';
import { responseRef } from '#domain/response-ref.ts';
import { clearMessagesQuery, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/rooms/{room_id}/messages?for_everyone= */
export const handler = httpRoute(
  { params: roomParams, query: clearMessagesQuery, response: responseRef('clearedRoom') },
  async ({ caller, params, query }) => ({
    message: 'Chat cleared successfully',
    data: await clearChat(caller, params.room_id, query.for_everyone),
  }),
);
