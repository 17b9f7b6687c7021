import type { PendingMessage } from '#model';
import { batchWrite, type Key } from './batch.ts';
import { putIf } from './conditional.ts';
import { userPk } from './keys.ts';
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
  return items.map((item) => item.message as PendingMessage);
}

export async function deletePending(
  userId: string,
  messages: readonly PendingMessage[],
): Promise<void> {
  await batchWrite(messages.map((m) => ({ DeleteRequest: { Key: pendingKey(userId, m) } })));
}
