import { listMessages } from '#domain/messages.ts';
import * as responses from '#domain/responses.ts';
import { listMessagesQuery, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/rooms/{room_id}/messages?limit=&before= (newest first) */
export const handler = httpRoute(
  { params: roomParams, query: listMessagesQuery, response: responses.messagePage },
  async ({ caller, params, query }) => ({
    data: await listMessages(caller, params.room_id, query),
  }),
);
