import type { Caller } from '#platform/auth.ts';
import { forbidden, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import type { ServerEvent } from '#platform/post-to-connection.ts';
import { nowIso } from '#platform/time.ts';
import { getConnections } from '#store/connections.ts';
import { getRoomMemberStates } from '#store/members.ts';
import {
  getMessage,
  markMessageDeleted,
  parseMessageId,
  listMessages as storeListMessages,
} from '#store/messages.ts';
import { recordDeletedSeqs } from '#store/room-head.ts';
import { fanOutMessage } from './big-room.ts';
import { postToUsers, sendersConnections } from './delivery.ts';
import { events } from './events.ts';
import { requireMembership } from './membership.ts';
import type { MessageRecord, RoomRecord } from './model.ts';
import { queueForOffline } from './offline-delivery.ts';
import { deletedOriginals } from './replies.ts';
import type { SendMessageInput } from './schemas.ts';
import { storeSend } from './send-store.ts';
import { recordRoomEvent } from './sync-log.ts';
import { seesMessage } from './unread.ts';
import { type MessageView, messageView } from './views.ts';

export interface SendResult {
  message: MessageView;
  delivered_to_count: number;
  queued_for_count: number;
  /** True when the temp_id had already been used: the first message is confirmed again. */
  duplicate: boolean;
}

/**
 * Stores a message, then delivers it. Sequential round trips before the
 * fan-out: (1) the room and the temp_id receipt, in parallel; (2) the room
 * head's increment of `seq`, which hands concurrent senders distinct numbers
 * without conflicts or retries (and, in a direct room, moves the sender's read
 * position); (3) the receipt, then the message (send-store.ts), beside a
 * group sender's read marker. No write touches the room item, so a
 * send's write units don't grow with the room. Offline members are queued by
 * the table stream from the stored message itself (streams/room-activity.ts),
 * so a stored message always reaches every member or the DLQ.
 */
export async function sendMessage(
  caller: Caller,
  roomId: string,
  input: SendMessageInput,
): Promise<SendResult> {
  const stored = await storeSend(caller, roomId, input);
  return deliver(stored.room, stored.message, stored.duplicate);
}

/**
 * Small rooms are fanned out here, to the members' live connections. Big rooms
 * (over LIMITS.inlineFanOutMembers others) are handed to the fan-out queue in
 * chunks, so the confirmation doesn't wait on a thousand posts.
 */
export async function deliverMessage(room: RoomRecord, message: MessageRecord) {
  const view = messageView(message);
  const others = Object.keys(room.members).filter((u) => u !== message.sender_id);
  const result =
    others.length > LIMITS.inlineFanOutMembers
      ? // The message is stored: if the fan-out queue refuses the chunks, post from here instead.
        await fanOutMessage(others, message).catch((error: unknown) => {
          logger.warn('Fan-out queue refused; posting inline', { error: error as Error });
          return postToOlder(others, message, view);
        })
      : await postToOlder(others, message, view);
  // Members with no connection are queued by the stream's outbox from the stored
  // message (streams/room-activity.ts), once. Those this fan-out missed still
  // look online to the outbox, so they are queued here, as the big-room consumer
  // does; the message is stored either way, so a queue failure is logged, not
  // answered (sync and the client's resend cover it).
  if (result.missed.size > 0)
    await queueForOffline(result.missed, view).catch((error: unknown) =>
      logger.warn('Queueing unreachable members failed', { error: error as Error }),
    );
  return result;
}

/**
 * Posts to the members' connections opened before the message; those opened
 * around it are the stream's (delivery.ts RECENT_CONNECT_MS), and a member
 * with one counts as reached, never as missed.
 */
async function postToOlder(others: readonly string[], message: MessageRecord, view: MessageView) {
  const { older, opening } = sendersConnections(await getConnections(others), message.created_at);
  const result = await postToUsers(others, older, events.newChatMessage(view));
  for (const userId of opening) {
    result.unreachable.delete(userId);
    result.missed.delete(userId);
    result.deliveredTo.add(userId);
  }
  return result;
}

async function deliver(
  room: RoomRecord,
  message: MessageRecord,
  duplicate: boolean,
): Promise<SendResult> {
  const result = await deliverMessage(room, message);
  return {
    message: messageView(message),
    delivered_to_count: result.deliveredTo.size,
    queued_for_count: result.unreachable.size,
    duplicate,
  };
}

export async function listMessages(
  caller: Caller,
  roomId: string,
  options: { limit: number; before?: string | undefined },
) {
  const { room, member, head } = await requireMembership(roomId, caller.userId);
  const floor = Math.max(member.cleared_seq, room.cleared_seq);
  let beforeSeq = head.seq + 1;
  if (options.before) {
    const where = parseMessageId(options.before);
    if (!where || where.roomId !== roomId)
      throw validationError('before must be a message of this room');
    beforeSeq = where.seq;
  }
  const page = await storeListMessages(roomId, floor, beforeSeq, options.limit);
  const gone = await deletedOriginals(page.messages);
  const views = page.messages.map((m) => messageView(m, gone));
  return { messages: views, next_cursor: page.more ? (views.at(-1)?.id ?? null) : null };
}

export async function deleteMessage(caller: Caller, id: string) {
  const where = parseMessageId(id);
  if (!where) throw notFound('Message');
  // One round trip: a missing message answers 404 before membership is judged.
  const [message, membership] = await Promise.all([
    getMessage(id),
    requireMembership(where.roomId, caller.userId).then(
      (m) => ({ ok: m }),
      (error: unknown) => ({ error }),
    ),
  ]);
  if (!message) throw notFound('Message');
  // Not a member 403; a direct room the caller deleted 404 (CONTRACT §3).
  if ('error' in membership) throw membership.error;
  const { room, member } = membership.ok;
  // A message the caller cannot see (from before they joined, at or below a clear
  // marker: clear for me, a direct room they deleted, even once it is back) is 404,
  // as listing and forwarding have it, whoever sent it.
  if (!seesMessage(member, room, message.seq)) throw notFound('Message');
  if (message.sender_id !== caller.userId) throw forbidden('Only the sender can delete a message');
  if (message.is_tombstone) throw notFound('Message');
  return deleteForEveryone(room, message);
}

/**
 * Deletes a message for everyone: by its sender (DELETE /messages/:id), or by a
 * moderator acting on a report (`removed_by: "moderator"` on the event). Again
 * on a deleted message, it tells the members again and changes nothing else.
 */
export async function deleteForEveryone(
  room: RoomRecord,
  message: MessageRecord,
  removedBy?: 'moderator',
) {
  const deletedAt = nowIso();
  if (!message.is_deleted) {
    const deleted = await markMessageDeleted(message, deletedAt);
    if (!deleted) throw notFound('Message');
  }
  // Unread counts skip it from now on (the stream repeats this, in case we stop here).
  await recordDeletedSeqs(room.id, [message.seq], LIMITS.deletedSeqsKept);
  const deleted = events.messageDeleted(room.id, message.id, removedBy);
  await Promise.all([
    announceDeletion(room, message, deleted),
    recordRoomEvent(room.id, deleted, deletedAt),
  ]);
  return { message_id: message.id, room_id: room.id, deleted_at: deletedAt };
}

/**
 * `message-deleted` reaches only the members who could see the message: not one
 * who joined after it, nor one whose clear marker (clear for me, a deleted
 * direct room) covers it; sync leaves it out for them too (sync.ts). Member
 * states are read only for members with a live connection (one BatchGet).
 */
async function announceDeletion(room: RoomRecord, message: MessageRecord, frame: ServerEvent) {
  const connections = await getConnections(Object.keys(room.members));
  const online = [...connections].filter(([, conns]) => conns.length > 0).map(([u]) => u);
  if (online.length === 0) return;
  const states = await getRoomMemberStates(room.id, online);
  const seers = online.filter((u) => {
    const state = states.get(u);
    return state !== undefined && seesMessage(state, room, message.seq);
  });
  await postToUsers(seers, new Map(seers.map((u) => [u, connections.get(u)!])), frame);
}
