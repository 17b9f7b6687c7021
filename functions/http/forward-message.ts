import { forwardMessage } from '#domain/forwarding.ts';
import { responseRef } from '#domain/response-ref.ts';
import { forwardBody, messageParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/messages/{message_id}/forward */
export const handler = httpRoute(
  {
    params: messageParams,
    body: forwardBody,
    response: responseRef('forwardResult'),
    // One message stored per target room.
    cost: (body) => body.target_room_ids.length,
  },
  async ({ caller, params, body }) => ({
    message: 'Message forwarded successfully',
    data: await forwardMessage(caller, params.message_id, body.target_room_ids),
  }),
);
