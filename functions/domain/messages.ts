import { createHash } from 'node:crypto';
import type { Caller } from '#platform/auth.ts';
import { conflict, forbidden, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import type { ServerEvent } from '#platform/post-to-connection.ts';
import { nowIso } from '#platform/time.ts';
import { putTombstones, storeMessages } from '#store/append-message.ts';
import { getConnections } from '#store/connections.ts';
import { getRoomMemberStates, markReadUpTo } from '#store/members.ts';
import {
  getMessage,
  getSendReceipt,
  markMessageDeleted,
  messageId,
  parseMessageId,
  listMessages as storeListMessages,
} from '#store/messages.ts';
import { markLastMessageTombstone, recordDeletedSeqs, takeSequence } from '#store/room-head.ts';
import { getRoom } from '#store/rooms.ts';
import { resolveAttachments } from './attachment-claims.ts';
import { fanOutMessage } from './big-room.ts';
import { requireUnblockedRoom } from './blocks.ts';
import { fanOut, postToUsers } from './delivery.ts';
import { events } from './events.ts';
import { requireConversationPartner, requireInRoom, requireMembership } from './membership.ts';
import {
  type HeadSummary,
  type MessageRecord,
  newMessage,
  type RoomRecord,
  type SendReceipt,
} from './model.ts';
import { queueForOffline } from './offline-delivery.ts';
import type { SendMessageInput } from './schemas.ts';
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

const requireSender = (room: RoomRecord | undefined, userId: string) => requireInRoom(userId, room);

/**
 * JSON with every object's keys sorted, recursively: `media` is the client's
 * object, and a resend may serialize its keys in another order.
 */
export function canonicalJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v === null || typeof v !== 'object') return v;
    const object = v as Record<string, unknown>;
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(
      Object.keys(object)
        .sort()
        .map((k) => [k, sorted(object[k])]),
    );
  };
  return JSON.stringify(sorted(value));
}

/** What makes two sends "the same request" for a temp_id: every field that shapes the message. */
export function requestHash(roomId: string, input: SendMessageInput): string {
  const fields = [
    roomId,
    input.content,
    input.message_type,
    input.reply_to_message_id ?? null,
    input.file_url ?? null,
    input.media ?? null,
    input.is_encrypted,
    input.encryption_key_id ?? null,
    input.encrypted_content ?? null,
    input.attachment_ids ?? [],
  ];
  return createHash('sha256').update(canonicalJson(fields)).digest('base64url');
}

/**
 * Stores a message, then delivers it. Sequential round trips before the
 * fan-out: (1) the room and the temp_id receipt, in parallel; (2) the room
 * head's `ADD seq 1`, which hands concurrent senders distinct numbers without
 * conflicts or retries; (3) the message with its receipt (one transaction), in
 * parallel with the sender's read marker. No write touches the room item, so a
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

export interface StoredSend {
  room: RoomRecord;
  message: MessageRecord;
  /** The temp_id had been used by the same request: this is the first message, stored before. */
  duplicate: boolean;
}

/** The stored part of a send (what the hot-room benchmark times): no fan-out. */
export async function storeSend(
  caller: Caller,
  roomId: string,
  input: SendMessageInput,
): Promise<StoredSend> {
  const hash = requestHash(roomId, input);
  // The files are checked beside the room and receipt reads (no extra round trip);
  // their answer is awaited only once the sender is known to be a member.
  const files = resolveAttachments(caller, roomId, input.attachment_ids ?? [], input.is_encrypted);
  files.catch(() => undefined);
  const [loaded, receipt] = await Promise.all([
    getRoom(roomId),
    input.temp_id ? getSendReceipt(caller.userId, roomId, input.temp_id) : undefined,
  ]);
  const room = requireSender(loaded, caller.userId);
  if (receipt) return { room, message: await replayed(caller, receipt, hash), duplicate: true };
  requireConversationPartner(room);
  requireUnblockedRoom(room);
  if (input.reply_to_message_id && parseMessageId(input.reply_to_message_id)?.roomId !== roomId) {
    throw validationError('reply_to_message_id must be a message of this room');
  }
  const attachments = await files;
  const at = nowIso();
  const seq = await takeSequence(roomId, headSummary(caller, input, at), at);
  const message = newMessage(
    { id: messageId(room.id, seq), room_id: room.id, seq },
    caller,
    { ...input, attachments },
    at,
  );
  const storing = storeMessages([message], {
    receipt: input.temp_id
      ? {
          receipt: {
            user_id: caller.userId,
            room_id: roomId,
            temp_id: input.temp_id,
            message_id: message.id,
            request_hash: hash,
          },
          ttl: Math.floor(Date.parse(at) / 1000) + LIMITS.tempIdTtlSeconds,
        }
      : undefined,
  });
  // Sending marks the room read for the sender (a max: a slower, older send can't undo it).
  // Both settle before anything is rethrown: no write is left running in a frozen function.
  const [stored, marked] = await Promise.allSettled([
    storing.catch(async (error: unknown) => {
      await abandon([message]);
      throw error;
    }),
    markReadUpTo(caller.userId, roomId, seq, message.id, at),
  ]);
  if (stored.status === 'rejected') throw stored.reason;
  if (marked.status === 'rejected') throw marked.reason;
  const outcome = stored.value;
  if (outcome.kind === 'attachment-taken') {
    await abandon([message]);
    throw conflict(`Attachment ${outcome.attachmentId} has already been sent`);
  }
  if (outcome.kind === 'duplicate') {
    // A concurrent send with the same temp_id won: this number becomes a tombstone.
    await abandon([message]);
    const winner = await getSendReceipt(caller.userId, roomId, input.temp_id!);
    if (!winner) throw conflict('The temp_id is being used by another send; try again');
    return { room, message: await replayed(caller, winner, hash), duplicate: true };
  }
  return { room, message, duplicate: false };
}

/**
 * A send that took numbers and then failed leaves tombstones, so counts and
 * lists see no gap. If even that fails, the error still reaches the caller.
 */
export async function abandon(
  messages: readonly Pick<MessageRecord, 'room_id' | 'seq' | 'sender_id' | 'created_at'>[],
): Promise<void> {
  const stones = await putTombstones(messages);
  await Promise.all(
    stones.map(async (m) => {
      await recordDeletedSeqs(m.room_id, [m.seq], LIMITS.deletedSeqsKept);
      await markLastMessageTombstone(m.room_id, m.seq);
    }),
  );
}

export function headSummary(
  caller: Caller,
  input: Pick<SendMessageInput, 'content' | 'message_type' | 'is_encrypted'>,
  at: string,
): HeadSummary {
  return {
    sender_id: caller.userId,
    // Encrypted content is opaque to the server and never copied into summaries.
    content: input.is_encrypted ? '' : input.content.slice(0, 200),
    message_type: input.message_type,
    is_encrypted: input.is_encrypted,
    created_at: at,
  };
}

/**
 * A retried temp_id. The same request gets the same message again, and its
 * fan-out again (a sender that crashed between storing and delivering loses
 * nothing; clients de-duplicate by id). Another request under a used temp_id is
 * refused: confirming it would deliver the wrong message.
 */
async function replayed(
  caller: Caller,
  receipt: SendReceipt,
  hash: string,
): Promise<MessageRecord> {
  if (receipt.request_hash !== hash) {
    throw conflict('temp_id was already used for a different message in this room');
  }
  const message = await getMessage(receipt.message_id);
  if (!message || message.sender_id !== caller.userId || message.is_tombstone) {
    throw notFound('Message');
  }
  return message;
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
          return fanOut(others, events.newChatMessage(view));
        })
      : await fanOut(others, events.newChatMessage(view));
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
  const views = page.messages.map(messageView);
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
