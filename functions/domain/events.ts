import type { ServerEvent } from '#platform/post-to-connection.ts';
import type { MessageView } from './views.ts';

/** Server → client events of CONTRACT §6, built in one place. */
export const events = {
  newChatMessage: (message: MessageView): ServerEvent => ({
    event: 'new-chat-message',
    data: { message },
  }),
  messageConfirmed: (data: {
    temp_id: string | null;
    message_id: string;
    delivered_to_count: number;
    queued_for_count: number;
    timestamp: string;
  }): ServerEvent => ({ event: 'message-confirmed', data }),
  messageDeleted: (roomId: string, messageId: string): ServerEvent => ({
    event: 'message-deleted',
    data: { room_id: roomId, message_id: messageId },
  }),
  pong: (): ServerEvent => ({ event: 'pong', data: { server_time: new Date().toISOString() } }),
  error: (data: {
    code: string;
    message: string;
    action: string;
    temp_id?: string;
  }): ServerEvent => ({
    event: 'error',
    data,
  }),
};
