import type { ServerEvent } from '#platform/post-to-connection.ts';
import { nowIso } from '#platform/time.ts';
import type { MessageView } from './views.ts';

/** The protocol's server → client events (docs/asyncapi.json), built in one place. */
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
  messageDeleted: (roomId: string, messageId: string, removedBy?: 'moderator'): ServerEvent => ({
    event: 'message-deleted',
    data: {
      room_id: roomId,
      message_id: messageId,
      ...(removedBy ? { removed_by: removedBy } : {}),
    },
  }),
  userStatus: (userId: string, status: 'online' | 'offline', lastSeen: string): ServerEvent => ({
    event: 'chat-user-status-update',
    data: { user_id: userId, status, last_seen: lastSeen },
  }),
  messagesSeen: (
    roomId: string,
    messageIds: string[],
    seenBy: { user_id: string; user_name: string; seen_at: string },
  ): ServerEvent => ({
    event: 'messages-seen',
    data: { room_id: roomId, message_ids: messageIds, seen_by: seenBy },
  }),
  unreadCountUpdate: (roomId: string, unreadCount: number): ServerEvent => ({
    event: 'unread-count-update',
    data: { room_id: roomId, unread_count: unreadCount },
  }),
  roomArchived: (roomId: string, isArchived: boolean, archivedAt: string | null): ServerEvent => ({
    event: 'room-archived',
    data: { room_id: roomId, is_archived: isArchived, archived_at: archivedAt },
  }),
  roomDeleted: (roomId: string, deletedBy: string, deletedAt: string): ServerEvent => ({
    event: 'room-deleted',
    data: { room_id: roomId, deleted_by: deletedBy, deleted_at: deletedAt },
  }),
  roomMessagesCleared: (roomId: string, clearedBy: string, clearedAt: string): ServerEvent => ({
    event: 'room-messages-cleared',
    data: { room_id: roomId, cleared_by: clearedBy, cleared_at: clearedAt },
  }),
  encryptionKeyChanged: (data: {
    user_id: string;
    device_id: string;
    key_id: string;
    fingerprint: string;
  }): ServerEvent => ({ event: 'encryption-key-changed', data }),
  roomMemberAdded: (roomId: string, userIds: string[], addedBy: string): ServerEvent => ({
    event: 'room-member-added',
    data: { room_id: roomId, user_ids: userIds, added_by: addedBy },
  }),
  roomMemberRemoved: (roomId: string, userId: string, removedBy: string): ServerEvent => ({
    event: 'room-member-removed',
    data: { room_id: roomId, user_id: userId, removed_by: removedBy },
  }),
  /** The caller's own devices: their block list changed (CONTRACT §9). */
  userBlocked: (userId: string, blockedAt: string): ServerEvent => ({
    event: 'user-blocked',
    data: { user_id: userId, blocked_at: blockedAt },
  }),
  userUnblocked: (userId: string): ServerEvent => ({
    event: 'user-unblocked',
    data: { user_id: userId },
  }),
  userTyping: (
    roomId: string,
    typist: { user_id: string; user_name: string },
    isTyping: boolean,
  ): ServerEvent => ({
    event: 'user-typing',
    data: { room_id: roomId, ...typist, is_typing: isTyping },
  }),
  pong: (): ServerEvent => ({ event: 'pong', data: { server_time: nowIso() } }),
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
