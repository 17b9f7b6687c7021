import { sendToConnection } from '#domain/delivery.ts';
import { events } from '#domain/events.ts';
import { sendMessage } from '#domain/messages.ts';
import { wsSendMessage } from '#domain/schemas.ts';
import { recordSend } from '#platform/metrics.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction(
  'send-message',
  wsSendMessage,
  async ({ caller, connectionId, body }) => {
    const result = await sendMessage(caller, body.room_id, body);
    recordSend(result);
    await sendToConnection(
      connectionId,
      events.messageConfirmed({
        temp_id: body.temp_id ?? null,
        message_id: result.message.id,
        delivered_to_count: result.delivered_to_count,
        queued_for_count: result.queued_for_count,
        timestamp: result.message.created_at,
      }),
    );
  },
);
