import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { MessageRecord, MessageSummary, RoomRecord } from '#domain/model.ts';
import { ddb, tableName } from '#platform/clients.ts';
import { LIMITS } from '#platform/limits.ts';
import { activitySortKey, memberKey } from './members.ts';
import { messageKey, messageToItem, sendReceiptKey } from './messages.ts';
import { roomFromItem, roomKey } from './rooms.ts';

export type AppendOutcome =
  | { kind: 'stored' }
  /** A room's sequence moved on (a concurrent send): retry with this room state. */
  | { kind: 'stale'; roomId: string; room: RoomRecord | undefined }
  /** The sender's temp_id was taken by a concurrent send. */
  | { kind: 'duplicate' }
  /** The message being forwarded is gone or deleted. */
  | { kind: 'source-gone' }
  /** Two transactions touched the same item at once; retry after a pause. */
  | { kind: 'conflict' };

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

/**
 * The three writes that store one message, so its sequence number is never lost:
 * - the room's seq moves from `message.seq - 1` to `message.seq` (an optimistic
 *   check that also re-checks membership), with last_message and updated_at;
 * - the sender's member item is marked read up to the message (sending marks the
 *   room read for the sender) and moves to the top of their list;
 * - the message item, created only if absent.
 */
function messageWrites(message: MessageRecord, summary: MessageSummary): TransactItem[] {
  const table = tableName();
  const now = message.created_at;
  return [
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
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    {
      Update: {
        TableName: table,
        Key: memberKey(message.sender_id, message.room_id),
        UpdateExpression:
          'SET read_seq = :seq, room_seq = :seq, last_read_message_id = :id, last_read_at = :now, last_activity = :now, gsi1sk = :sk, manual_unread = :no',
        ExpressionAttributeValues: {
          ':seq': message.seq,
          ':id': message.id,
          ':now': now,
          ':no': false,
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
}

export interface AppendOptions {
  /**
   * The sender's temp_id: its receipt is created only if absent (the idempotency
   * key). Not Powertools idempotency: the receipt rides in the message's own
   * transaction, so "stored" and "remembered" can never disagree, at no extra
   * round trip; the utility would add its own writes around the handler.
   */
  tempId?: string | undefined;
  /** Forwarding: the source message's forwarded_count moves with the copies. */
  forwardedFrom?: MessageRecord | undefined;
}

/** Stores one or more messages (forwarding writes up to 10) as one all-or-nothing transaction. */
export async function appendMessages(
  messages: readonly { message: MessageRecord; summary: MessageSummary }[],
  options: AppendOptions = {},
): Promise<AppendOutcome> {
  const table = tableName();
  const items = messages.flatMap((m) => messageWrites(m.message, m.summary));
  const extra: ('receipt' | 'source')[] = [];
  const first = messages[0]!.message;
  if (options.tempId) {
    extra.push('receipt');
    items.push({
      Put: {
        TableName: table,
        Item: {
          ...sendReceiptKey(first.sender_id, options.tempId),
          entity: 'send-receipt',
          message_id: first.id,
          room_id: first.room_id,
          ttl: Math.floor(Date.parse(first.created_at) / 1000) + LIMITS.tempIdTtlSeconds,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  if (options.forwardedFrom) {
    extra.push('source');
    items.push({
      Update: {
        TableName: table,
        Key: messageKey(options.forwardedFrom.room_id, options.forwardedFrom.seq),
        UpdateExpression: 'ADD forwarded_count :one',
        ConditionExpression: 'attribute_exists(pk) AND is_deleted = :no',
        ExpressionAttributeValues: { ':one': messages.length, ':no': false },
      },
    });
  }
  try {
    await ddb().send(new TransactWriteCommand({ TransactItems: items }));
    return { kind: 'stored' };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const reasons = error.CancellationReasons ?? [];
    const base = messages.length * 3;
    for (const [i, kind] of extra.entries()) {
      if (reasons[base + i]?.Code !== 'ConditionalCheckFailed') continue;
      return kind === 'receipt' ? { kind: 'duplicate' } : { kind: 'source-gone' };
    }
    for (const [i, m] of messages.entries()) {
      const reason = reasons[i * 3];
      if (reason?.Code === 'ConditionalCheckFailed') {
        const room = reason.Item ? roomFromItem(unmarshall(reason.Item)) : undefined;
        return { kind: 'stale', roomId: m.message.room_id, room };
      }
    }
    if (reasons.some((r) => r.Code === 'TransactionConflict')) return { kind: 'conflict' };
    throw error;
  }
}
