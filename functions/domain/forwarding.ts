import type { Caller } from '#platform/auth.ts';
import { AppError, notFound } from '#platform/errors.ts';
import { nowIso } from '#platform/time.ts';
import { storeMessages } from '#store/append-message.ts';
import { markReadUpTo } from '#store/members.ts';
import { getMessage, messageId } from '#store/messages.ts';
import { takeSequence } from '#store/room-head.ts';
import { requireUnblockedRoom } from './blocks.ts';
import { requireConversationPartner, requireMembership, requireMemberships } from './membership.ts';
import { deliverMessage } from './messages.ts';
import { forwardedCopy, type MessageRecord, type RoomRecord } from './model.ts';
import { abandon, headSummary } from './send-store.ts';
import { seesMessage } from './unread.ts';

/**
 * POST /messages/:id/forward (docs/openapi.json). Every check comes first; then
 * all copies and the source's forwarded_count are written in one transaction,
 * all or nothing; then each target room hears `new-chat-message` and offline
 * members are queued, as for any message.
 */
export async function forwardMessage(
  caller: Caller,
  sourceId: string,
  targetIds: readonly string[],
) {
  const targets = [...new Set(targetIds)];
  if (targets.length !== targetIds.length) {
    throw new AppError('VALIDATION_ERROR', 'target_room_ids must be distinct');
  }
  const source = await getMessage(sourceId);
  if (!source) throw notFound('Message');
  const { room: sourceRoom, member } = await requireMembership(source.room_id, caller.userId);
  if (source.is_deleted || !seesMessage(member, sourceRoom, source.seq)) {
    throw notFound('Message');
  }
  if (carriesCiphertext(source)) {
    throw new AppError('UNPROCESSABLE', 'Encrypted messages cannot be forwarded by the server');
  }

  // Every target must exist, have the caller as a member and not be gone for them.
  const rooms = await requireMemberships(caller.userId, targets);
  for (const room of rooms.values()) {
    requireConversationPartner(room);
    requireUnblockedRoom(room);
  }
  const at = nowIso();
  // Each target room hands out its own next number (one `ADD` each, in parallel). Forwarding
  // into a room marks it read for the forwarder, as sending does: a direct room's ADD does it
  // (head.sent_seqs), a group's member item is written.
  const onHead = (id: string) => rooms.get(id)?.type === 'direct';
  const copies = await Promise.all(
    targets.map(async (id) => {
      const seq = await takeSequence(
        id,
        headSummary(caller, source, at),
        at,
        onHead(id) ? caller.userId : undefined,
      );
      return forwardedCopy(source, { id: messageId(id, seq), room_id: id, seq }, caller, at);
    }),
  );
  const [outcome] = await Promise.all([
    storeMessages(copies, { forwardedFrom: source }).catch(async (error: unknown) => {
      await abandon(copies);
      throw error;
    }),
    ...copies
      .filter((c) => !onHead(c.room_id))
      .map((c) => markReadUpTo(caller.userId, c.room_id, c.seq, c.id, at)),
  ]);
  if (outcome.kind !== 'stored') {
    await abandon(copies);
    throw notFound('Message');
  }
  return deliverCopies(source, copies, rooms);
}

/**
 * Any sign of ciphertext refuses the forward, whatever the flag says: a message
 * stored before the send rules tied encrypted_content to is_encrypted may carry
 * it unflagged, and a copy must never spread ciphertext to other rooms.
 */
const carriesCiphertext = (message: MessageRecord) =>
  message.is_encrypted ||
  (message.encrypted_content !== null && message.encrypted_content !== undefined) ||
  (message.encryption_key_id !== null && message.encryption_key_id !== undefined);

async function deliverCopies(
  source: MessageRecord,
  copies: MessageRecord[],
  rooms: Map<string, RoomRecord>,
) {
  await Promise.all(copies.map((copy) => deliverMessage(rooms.get(copy.room_id)!, copy)));
  return {
    original_message_id: source.id,
    forwarded_to: copies.map((c) => c.room_id),
    forwarded_messages: copies.map((c) => ({
      id: c.id,
      room_id: c.room_id,
      content: c.content,
      forwarded_from: c.forwarded_from,
      metadata: c.metadata,
      created_at: c.created_at,
    })),
  };
}
