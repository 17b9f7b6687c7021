import { sendMessage } from '#domain/messages.ts';
import { responseRef } from '#domain/response-ref.ts';
import { roomParams, sendMessageBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';
import { recordSend } from '#platform/metrics.ts';

/** POST /api/chat/rooms/{room_id}/messages: the same effects as the WebSocket send-message. */
export const handler = httpRoute(
  { params: roomParams, body: sendMessageBody, response: responseRef('sentMessage') },
  async ({ caller, params, body }) => {
    const result = await sendMessage(caller, params.room_id, body);
    recordSend(result);
    return {
      status: result.duplicate ? 200 : 201,
      message: result.duplicate ? 'Message already sent' : 'Message sent',
      data: {
        ...result.message,
        delivered_to_count: result.delivered_to_count,
        queued_for_count: result.queued_for_count,
      },
    };
  },
);
