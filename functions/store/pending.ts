import type { PendingMessage } from '#model';
import { batchWrite, type Key } from './batch.ts';
import { putIf } from './conditional.ts';
import { userPk } from './keys.ts';
import { parseMessageId } from './messages.ts';
import { queryPage } from './query.ts';

/**
 * Pending delivery: pk USER#<user_id>, sk PENDING#<created_at>#<message_id>. The
 * sort key keeps a user's pending messages in send order; the same message always
 * maps to the same key, so a redelivered queue message adds nothing.
 */
const PREFIX = 'PENDING#';
export const PENDING_TTL_SECONDS = 14 * 24 * 3600;

export const pendingKey = (
  userId: string,
  message: Pick<PendingMessage, 'created_at' | 'id'>,
): Key => ({
  pk: userPk(userId),
  sk: `${PREFIX}${message.created_at}#${message.id}`,
});

/** Stores a pending message; false when it was already there. */
export async function putPending(
  userId: string,
  message: PendingMessage,
  now: number,
): Promise<boolean> {
  return putIf({
    Item: {
      ...pendingKey(userId, message),
      entity: 'pending',
      message: { id: message.id, room_id: message.room_id, created_at: message.created_at },
      ttl: Math.floor(now / 1000) + PENDING_TTL_SECONDS,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
}

/** The oldest pending messages first; expired ones (TTL lag) are left out. */
export async function listPending(
  userId: string,
  limit: number,
  now: number,
): Promise<PendingMessage[]> {
  // One page: up to `limit` read, fewer when some of them had expired.
  const { items } = await queryPage({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    FilterExpression: '#ttl > :now',
    ExpressionAttributeNames: { '#ttl': 'ttl' },
    ExpressionAttributeValues: {
      ':pk': userPk(userId),
      ':prefix': PREFIX,
      ':now': Math.floor(now / 1000),
    },
    Limit: limit,
    ConsistentRead: true,
  });
  return inRoomOrder(items.map((item) => item.message as PendingMessage));
}

/**
 * The page with each room's messages in seq order, in the places that room's
 * messages hold. The sort key orders by time, which is not always a room's
 * order: a send stamps its time before it takes its number (concurrent sends
 * in one room can land a millisecond apart the other way round), and two in
 * the same millisecond sort by id as text ("r.10" before "r.9").
 */
function inRoomOrder(messages: PendingMessage[]): PendingMessage[] {
  const seq = (m: PendingMessage) => parseMessageId(m.id)?.seq ?? 0;
  const byRoom = new Map<string, PendingMessage[]>();
  for (const m of messages) byRoom.set(m.room_id, [...(byRoom.get(m.room_id) ?? []), m]);
  for (const list of byRoom.values()) list.sort((a, b) => seq(a) - seq(b));
  const taken = new Map<string, number>();
  return messages.map((m) => {
    const i = taken.get(m.room_id) ?? 0;
    taken.set(m.room_id, i + 1);
    return byRoom.get(m.room_id)![i]!;
  });
}

export async function deletePending(
  userId: string,
  messages: readonly PendingMessage[],
): Promise<void> {
  await batchWrite(messages.map((m) => ({ DeleteRequest: { Key: pendingKey(userId, m) } })));
}
