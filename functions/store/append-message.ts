import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { MessageRecord, MessageSummary, RoomRecord } from '#domain/model.ts';
import { ddb, tableName } from '#platform/clients.ts';
import { LIMITS } from '#platform/limits.ts';
import { activitySortKey, memberKey } from './members.ts';
import { messageToItem, sendReceiptKey } from './messages.ts';
import { roomFromItem, roomKey } from './rooms.ts';

export type AppendOutcome =
  | { kind: 'stored' }
  /** The room's sequence moved on (a concurrent send): retry with this room. */
  | { kind: 'stale'; room: RoomRecord | undefined }
  /** The sender's temp_id was taken by a concurrent send. */
  | { kind: 'duplicate' }
  /** Two transactions touched the same item at once; retry after a pause. */
  | { kind: 'conflict' };

/**
 * Writes a message as one transaction, so its sequence number is never lost:
 * - the room's seq moves from `message.seq - 1` to `message.seq` (an optimistic
 *   check that also re-checks membership), with last_message and updated_at;
 * - the sender's member item is marked read up to the message (sending marks the
 *   room read for the sender) and moves to the top of their list;
 * - the message item, created only if absent;
 * - the (sender, temp_id) receipt, created only if absent: the idempotency key.
 */
export async function appendMessage(
  message: MessageRecord,
  summary: MessageSummary,
  tempId: string | undefined,
): Promise<AppendOutcome> {
  const table = tableName();
  const now = message.created_at;
  const items = [
    {
      Update: {
        TableName: table,
        Key: roomKey(message.room_id),
        UpdateExpression: 'SET seq = :seq, last_message = :summary, updated_at = :now',
        ConditionExpression: 'attribute_exists(members.#sender) AND seq = :prev',
        ExpressionAttributeNames: { '#sender': message.sender_id },
        ExpressionAttributeValues: {
          ':seq': message.seq,
          ':prev': message.seq - 1,
          ':summary': summary,
          ':now': now,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    },
    {
      Update: {
        TableName: table,
        Key: memberKey(message.sender_id, message.room_id),
        UpdateExpression:
          'SET read_seq = :seq, room_seq = :seq, last_read_message_id = :id, last_read_at = :now, last_activity = :now, gsi1sk = :sk',
        ExpressionAttributeValues: {
          ':seq': message.seq,
          ':id': message.id,
          ':now': now,
          ':sk': activitySortKey(now, message.room_id),
        },
      },
    },
    {
      Put: {
        TableName: table,
        Item: messageToItem(message),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
  ];
  if (tempId) {
    items.push({
      Put: {
        TableName: table,
        Item: {
          ...sendReceiptKey(message.sender_id, tempId),
          entity: 'send-receipt',
          message_id: message.id,
          room_id: message.room_id,
          ttl: Math.floor(Date.parse(now) / 1000) + LIMITS.tempIdTtlSeconds,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  try {
    await ddb().send(new TransactWriteCommand({ TransactItems: items }));
    return { kind: 'stored' };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const reasons = error.CancellationReasons ?? [];
    if (reasons[3]?.Code === 'ConditionalCheckFailed') return { kind: 'duplicate' };
    const roomReason = reasons[0];
    if (roomReason?.Code === 'ConditionalCheckFailed') {
      return {
        kind: 'stale',
        room: roomReason.Item ? roomFromItem(unmarshall(roomReason.Item)) : undefined,
      };
    }
    if (reasons.some((r) => r.Code === 'TransactionConflict')) return { kind: 'conflict' };
    throw error;
  }
}
