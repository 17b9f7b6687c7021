import { listMessages } from '#domain/messages.ts';
import { responseRef } from '#domain/response-ref.ts';
import { listMessagesQuery, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/rooms/{room_id}/messages?limit=&before= (newest first) */
export const handler = httpRoute(
  { params: roomParams, query: listMessagesQuery, response: responseRef('messagePage') },
  async ({ caller, params, query }) => ({
    data: await listMessages(caller, params.room_id, query),
  }),
);
