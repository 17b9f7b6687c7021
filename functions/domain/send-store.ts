import { createHash } from 'node:crypto';
import type { Caller } from '#platform/auth.ts';
import { conflict, notFound, validationError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { nowIso } from '#platform/time.ts';
import { putTombstones, storeMessages } from '#store/append-message.ts';
import { getMember, markReadUpTo } from '#store/members.ts';
import {
  getMessage,
  getSendReceipt,
  messageId,
  moveSendReceipt,
  parseMessageId,
} from '#store/messages.ts';
import { markLastMessageTombstone, recordDeletedSeqs, takeSequence } from '#store/room-head.ts';
import { getRoom } from '#store/rooms.ts';
import { resolveAttachments } from './attachment-claims.ts';
import { requireUnblockedRoom } from './blocks.ts';
import { requireConversationPartner, requireInRoom } from './membership.ts';
import {
  type HeadSummary,
  isMember,
  type MemberState,
  type MessageRecord,
  newMessage,
  type ReplyQuote,
  type RoomRecord,
  replyQuote,
  type SendReceipt,
} from './model.ts';
import type { SendMessageInput } from './schemas.ts';
import { seesMessage } from './unread.ts';

/**
 * The stored part of a send: the checks, the number, the message and its
 * temp_id receipt. domain/messages.ts delivers what this stores.
 */

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
    input.mentions ?? [],
    input.file_url ?? null,
    input.media ?? null,
    input.is_encrypted,
    input.encryption_key_id ?? null,
    input.encrypted_content ?? null,
    input.attachment_ids ?? [],
  ];
  return createHash('sha256').update(canonicalJson(fields)).digest('base64url');
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
  if (input.reply_to_message_id && parseMessageId(input.reply_to_message_id)?.roomId !== roomId) {
    throw validationError('reply_to_message_id must be a message of this room');
  }
  // The original and the sender's clear marker are read beside the room (no extra round trip).
  const replying = input.reply_to_message_id
    ? Promise.all([getMessage(input.reply_to_message_id), getMember(caller.userId, roomId)])
    : undefined;
  replying?.catch(() => undefined);
  const [loaded, receipt] = await Promise.all([
    getRoom(roomId),
    input.temp_id ? getSendReceipt(caller.userId, roomId, input.temp_id) : undefined,
  ]);
  const room = requireSender(loaded, caller.userId);
  if (receipt) return replayed(caller, room, receipt, hash, input);
  requireConversationPartner(room);
  requireUnblockedRoom(room);
  const mentioned = input.mentions ?? [];
  if (mentioned.some((userId) => !isMember(room, userId)))
    throw validationError('mentions must name members of this room');
  const reply_to = replying ? quoteFor(room, ...(await replying)) : null;
  const attachments = await files;
  const at = nowIso();
  const readOnHead = room.type === 'direct';
  const seq = await takeSequence(
    roomId,
    headSummary(caller, input, at),
    at,
    readOnHead ? caller.userId : undefined,
  );
  const message = newMessage(
    { id: messageId(room.id, seq), room_id: room.id, seq },
    caller,
    { ...input, attachments, reply_to },
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
            created_at: at,
          },
          ttl: Math.floor(Date.parse(at) / 1000) + LIMITS.tempIdTtlSeconds,
        }
      : undefined,
  });
  // Sending marks the room read for the sender (a max: a slower, older send can't undo it):
  // in a direct room the number's own write did (head.sent_seqs), in a group their member
  // item is written. Both settle before anything is rethrown: no write is left running in
  // a frozen function.
  const [stored, marked] = await Promise.allSettled([
    storing.catch(async (error: unknown) => {
      await abandon([message]);
      throw error;
    }),
    readOnHead ? undefined : markReadUpTo(caller.userId, roomId, seq, message.id, at),
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
    return replayed(caller, room, winner, hash, input);
  }
  return { room, message, duplicate: false };
}

/**
 * The quote of the message a send replies to: one of this room that the sender
 * can see (after their clear markers, not deleted), else 400 (CONTRACT §10).
 */
function quoteFor(
  room: RoomRecord,
  original: MessageRecord | undefined,
  member: MemberState | undefined,
): ReplyQuote {
  const visible =
    original &&
    member &&
    !original.is_deleted &&
    !original.is_tombstone &&
    seesMessage(member, room, original.seq);
  if (!visible)
    throw validationError('reply_to_message_id must be a message of this room that you can see');
  return replyQuote(original);
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

/** How many times a retry repairs a send that other retries are repairing too, before 409. */
const REPAIR_ATTEMPTS = 3;

/**
 * A retried temp_id. The same request gets the same message again, and its
 * fan-out again (a sender that crashed between storing and delivering loses
 * nothing; clients de-duplicate by id). Another request under a used temp_id is
 * refused: confirming it would deliver the wrong message.
 *
 * A receipt whose message is not there belongs to a send that died between its
 * two writes (store/append-message.ts writes the receipt first) or failed and
 * left a tombstone: the retry stores the message now (repairSend).
 */
async function replayed(
  caller: Caller,
  room: RoomRecord,
  first: SendReceipt,
  hash: string,
  input: SendMessageInput,
): Promise<StoredSend> {
  let receipt: SendReceipt | undefined = first;
  for (let attempt = 0; receipt && attempt < REPAIR_ATTEMPTS; attempt++) {
    if (receipt.request_hash !== hash) {
      throw conflict('temp_id was already used for a different message in this room');
    }
    const message = await getMessage(receipt.message_id, { consistent: true });
    if (message && !message.is_tombstone) {
      if (message.sender_id !== caller.userId) throw notFound('Message');
      return { room, message, duplicate: true };
    }
    const repaired = await repairSend(caller, room, receipt, input, message);
    if (repaired) return { room, message: repaired, duplicate: true };
    // Another retry moved the receipt first: replay what it points to now.
    receipt = await getSendReceipt(caller.userId, room.id, receipt.temp_id);
  }
  throw conflict('The temp_id is being used by another send; try again');
}

/**
 * Stores the message of a receipt that has none. At the receipt's own number
 * while that is still empty and recent (the gap filler tombstones a number left
 * empty for LIMITS.gapCheckDelaySeconds; an older empty number was purged, and
 * stays so); otherwise under a new number, the receipt moved to it first, so a
 * crash here too leaves a receipt a later retry repairs, never a second
 * message. Answers undefined when another retry moved the receipt first.
 * Attachments never take this path: a send with files is one transaction.
 */
async function repairSend(
  caller: Caller,
  room: RoomRecord,
  receipt: SendReceipt,
  input: SendMessageInput,
  found: MessageRecord | undefined,
): Promise<MessageRecord | undefined> {
  const place = parseMessageId(receipt.message_id);
  if (!place) throw notFound('Message');
  const recent =
    receipt.created_at !== undefined &&
    Date.now() - Date.parse(receipt.created_at) < LIMITS.gapCheckDelaySeconds * 1000;
  if (!found && !recent) throw notFound('Message');
  const content = { ...input, attachments: [] };
  if (!found && receipt.created_at) {
    const message = newMessage(
      { id: receipt.message_id, room_id: room.id, seq: place.seq },
      caller,
      content,
      receipt.created_at,
    );
    const outcome = await storeMessages([message]).then(
      () => 'stored' as const,
      () => 'taken' as const,
    );
    if (outcome === 'stored') {
      await markReadUpTo(caller.userId, room.id, message.seq, message.id, message.created_at);
      return message;
    }
    // Filled meanwhile (a tombstone, or the original send's own copy): look again.
    const there = await getMessage(receipt.message_id, { consistent: true });
    if (there && !there.is_tombstone && there.sender_id === caller.userId) return there;
  }
  const at = nowIso();
  const seq = await takeSequence(room.id, headSummary(caller, input, at), at);
  const message = newMessage(
    { id: messageId(room.id, seq), room_id: room.id, seq },
    caller,
    content,
    at,
  );
  const moveAndStore = async () => {
    const moved = await moveSendReceipt(receipt, receipt.message_id, {
      message_id: message.id,
      created_at: at,
    });
    if (!moved) {
      await abandon([message]);
      return undefined;
    }
    await storeMessages([message]).catch(async (error: unknown) => {
      await abandon([message]);
      throw error;
    });
    return message;
  };
  // As in any send, the number taken marks the room read up to it, whatever becomes
  // of it (the sender's own tombstone stays out of their unread count).
  const [stored, marked] = await Promise.allSettled([
    moveAndStore(),
    markReadUpTo(caller.userId, room.id, seq, message.id, at),
  ]);
  if (stored.status === 'rejected') throw stored.reason;
  if (marked.status === 'rejected') throw marked.reason;
  return stored.value;
}
