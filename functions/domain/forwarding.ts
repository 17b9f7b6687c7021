import type { Caller } from '#platform/auth.ts';
import { AppError, conflict, forbidden, notFound } from '#platform/errors.ts';
import { appendMessages } from '#store/append-message.ts';
import { sleep } from '#store/batch.ts';
import { getMembers } from '#store/members.ts';
import { getMessage, messageId } from '#store/messages.ts';
import { getRooms } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { type ForwardMetadata, isMember, type MessageRecord, type RoomRecord } from './model.ts';
import { queueForOffline } from './offline-queue.ts';
import { nowIso, requireMembership } from './rooms.ts';
import { messageSummary, messageView } from './views.ts';

const MAX_ATTEMPTS = 64;

/**
 * POST /messages/:id/forward (CONTRACT §5 note 5). Every check comes first; then
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
  if (source.is_deleted || source.seq <= Math.max(member.cleared_seq, sourceRoom.cleared_seq)) {
    throw notFound('Message');
  }
  if (carriesCiphertext(source)) {
    throw new AppError('UNPROCESSABLE', 'Encrypted messages cannot be forwarded by the server');
  }

  let rooms = await loadTargets(caller, targets);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const at = nowIso();
    const copies = targets.map((id) => copyOf(source, rooms.get(id)!, caller, at));
    const outcome = await appendMessages(
      copies.map((message) => ({ message, summary: messageSummary(message) })),
      { forwardedFrom: source },
    );
    if (outcome.kind === 'stored') return deliverCopies(source, copies, rooms);
    if (outcome.kind === 'source-gone') throw notFound('Message');
    if (outcome.kind === 'stale' && outcome.room) {
      if (!isMember(outcome.room, caller.userId))
        throw forbidden('You are not a member of every target room');
      rooms.set(outcome.roomId, outcome.room);
      continue;
    }
    await sleep(Math.random() * 20 * attempt);
    rooms = await loadTargets(caller, targets);
  }
  throw conflict('The target rooms are busy; try again');
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

/** Every target must exist and have the caller as a (not-deleted) member. */
async function loadTargets(caller: Caller, targets: string[]) {
  const [rooms, members] = await Promise.all([
    getRooms(targets),
    getMembers(caller.userId, targets),
  ]);
  for (const id of targets) {
    const room = rooms.get(id);
    const member = members.get(id);
    if (!room || member?.is_deleted) throw notFound(`Room ${id}`);
    if (!member || !isMember(room, caller.userId))
      throw forbidden(`You are not a member of room ${id}`);
  }
  return rooms;
}

/** A copy keeps pointing at the first original, and counts how many hops it has come. */
function copyOf(
  source: MessageRecord,
  room: RoomRecord,
  caller: Caller,
  at: string,
): MessageRecord {
  const original: ForwardMetadata = source.metadata?.forwarded_from ?? {
    message_id: source.id,
    original_sender: source.sender_id,
    original_room: source.room_id,
  };
  const seq = room.seq + 1;
  return {
    ...source,
    id: messageId(room.id, seq),
    room_id: room.id,
    seq,
    sender_id: caller.userId,
    sender_name: caller.name,
    reply_to_message_id: null,
    forwarded_from: source.id,
    metadata: {
      forwarded_from: original,
      forward_depth: (source.metadata?.forward_depth ?? 0) + 1,
    },
    forwarded_count: 0,
    is_deleted: false,
    created_at: at,
  };
}

async function deliverCopies(
  source: MessageRecord,
  copies: MessageRecord[],
  rooms: Map<string, RoomRecord>,
) {
  await Promise.all(
    copies.map(async (copy) => {
      const view = messageView(copy);
      const others = Object.keys(rooms.get(copy.room_id)!.members).filter(
        (u) => u !== copy.sender_id,
      );
      const result = await fanOut(others, events.newChatMessage(view));
      await queueForOffline(result.unreachable, view);
    }),
  );
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
