import type { Caller } from '#platform/auth.ts';
import { AppError, forbidden, notFound, validationError } from '#platform/errors.ts';
import { appendMessages } from '#store/append-message.ts';
import { sleep } from '#store/batch.ts';
import {
  getMessage,
  getSendReceipt,
  markMessageDeleted,
  messageId,
  parseMessageId,
  listMessages as storeListMessages,
} from '#store/messages.ts';
import { getRoom } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { isMember, type MessageRecord, type RoomRecord } from './model.ts';
import { queueForOffline } from './offline-queue.ts';
import { nowIso, requireMembership } from './rooms.ts';
import type { SendMessageInput } from './schemas.ts';
import { type MessageView, messageSummary, messageView } from './views.ts';

export interface SendResult {
  message: MessageView;
  delivered_to_count: number;
  queued_for_count: number;
  /** True when the temp_id had already been used: the first message is confirmed again. */
  duplicate: boolean;
}

/**
 * Concurrent sends to one room serialize on its seq: each round one commits and
 * the rest retry at once with the seq the cancellation reports, so the k-th of
 * k concurrent senders needs k attempts. The bound is far above any real room's
 * burst; the cost is one round trip per attempt.
 */
const MAX_APPEND_ATTEMPTS = 64;

function requireSender(room: RoomRecord | undefined, userId: string): RoomRecord {
  if (!room) throw notFound('Room');
  if (!isMember(room, userId)) throw forbidden('You are not a member of this room');
  return room;
}

/**
 * Stores a message, then delivers it. Round trips before the fan-out: one
 * parallel read (room + temp_id receipt), one transaction, one BatchGet of the
 * members' connections (inside fanOut).
 */
export async function sendMessage(
  caller: Caller,
  roomId: string,
  input: SendMessageInput,
): Promise<SendResult> {
  const [loaded, receipt] = await Promise.all([
    getRoom(roomId),
    input.temp_id ? getSendReceipt(caller.userId, input.temp_id) : undefined,
  ]);
  let room = requireSender(loaded, caller.userId);
  if (receipt) return redeliver(room, caller, receipt.message_id);
  if (input.reply_to_message_id && parseMessageId(input.reply_to_message_id)?.roomId !== roomId) {
    throw validationError('reply_to_message_id must be a message of this room');
  }

  for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
    const message = buildMessage(room, caller, input);
    const outcome = await appendMessages([{ message, summary: messageSummary(message) }], {
      tempId: input.temp_id,
    });
    switch (outcome.kind) {
      case 'stored':
        return deliver(room, message, false);
      case 'duplicate': {
        const winner = await getSendReceipt(caller.userId, input.temp_id!);
        if (winner) return redeliver(room, caller, winner.message_id);
        break;
      }
      case 'stale':
        room = requireSender(outcome.room, caller.userId);
        // A little jitter spreads a herd of retries over the next commits.
        await sleep(Math.random() * 3);
        continue;
      case 'conflict':
      case 'source-gone':
        break;
    }
    await sleep(Math.random() * 20 * attempt);
    room = requireSender(await getRoom(roomId), caller.userId);
  }
  throw new AppError('CONFLICT', 'The room is busy; try again');
}

function buildMessage(room: RoomRecord, caller: Caller, input: SendMessageInput): MessageRecord {
  const seq = room.seq + 1;
  return {
    id: messageId(room.id, seq),
    room_id: room.id,
    seq,
    sender_id: caller.userId,
    sender_name: caller.name,
    content: input.content,
    message_type: input.message_type,
    file_url: input.file_url ?? null,
    media: input.media ?? null,
    reply_to_message_id: input.reply_to_message_id ?? null,
    forwarded_from: null,
    metadata: null,
    forwarded_count: 0,
    is_encrypted: input.is_encrypted,
    encryption_key_id: input.encryption_key_id ?? null,
    encrypted_content: input.encrypted_content ?? null,
    is_deleted: false,
    created_at: nowIso(),
  };
}

/**
 * A retried temp_id: the same message again, and its fan-out again. A sender
 * that crashed between storing and delivering loses nothing this way; clients
 * de-duplicate by id.
 */
async function redeliver(room: RoomRecord, caller: Caller, id: string): Promise<SendResult> {
  const message = await getMessage(id);
  if (!message || message.sender_id !== caller.userId) throw notFound('Message');
  return deliver(room, message, true);
}

async function deliver(
  room: RoomRecord,
  message: MessageRecord,
  duplicate: boolean,
): Promise<SendResult> {
  const view = messageView(message);
  const others = Object.keys(room.members).filter((u) => u !== message.sender_id);
  const result = await fanOut(others, events.newChatMessage(view));
  // Members with no connection, or whose every post failed, get it on reconnect.
  await queueForOffline(result.unreachable, view);
  return {
    message: view,
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
  const { room, member } = await requireMembership(roomId, caller.userId);
  const floor = Math.max(member.cleared_seq, room.cleared_seq);
  let beforeSeq = room.seq + 1;
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
  const [message, room] = await Promise.all([getMessage(id), getRoom(where.roomId)]);
  if (!message || !room) throw notFound('Message');
  if (!isMember(room, caller.userId)) throw forbidden('You are not a member of this room');
  if (message.sender_id !== caller.userId) throw forbidden('Only the sender can delete a message');
  const deletedAt = nowIso();
  if (!message.is_deleted) {
    const deleted = await markMessageDeleted(message, deletedAt);
    if (!deleted) throw notFound('Message');
  }
  await fanOut(Object.keys(room.members), events.messageDeleted(room.id, id));
  return { message_id: id, room_id: room.id, deleted_at: deletedAt };
}
