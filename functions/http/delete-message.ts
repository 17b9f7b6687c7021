import { deleteMessage } from '#domain/messages.ts';
import { responseRef } from '#domain/response-ref.ts';
import { messageParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/messages/{message_id}: the sender deletes it for everyone. */
export const handler = httpRoute(
  { params: messageParams, response: responseRef('deletedMessage') },
  async ({ caller, params }) => ({
    message: 'Message deleted',
    data: await deleteMessage(caller, params.message_id),
  }),
);
