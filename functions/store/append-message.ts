import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { attachmentBundle, type MessageRecord, type SendReceipt, tombstone } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import { sleep } from '#platform/time.ts';
import { carrierItems, claimItems } from './attachments.ts';
import { putIf } from './conditional.ts';
import { messageId, messageKey, messageToItem, sendReceiptItem } from './messages.ts';

export type StoreOutcome =
  | { kind: 'stored' }
  /** The sender's (room, temp_id) receipt was written by a concurrent send. */
  | { kind: 'duplicate' }
  /** The message being forwarded is gone or deleted. */
  | { kind: 'source-gone' }
  /** A file the send names was claimed by another send first. */
  | { kind: 'attachment-taken'; attachmentId: string };

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

export interface StoreOptions {
  /**
   * The send receipt rides in the message's own transaction, so "stored" and
   * "remembered" never disagree: a retry always finds the message it made. (Not
   * Powertools idempotency: that adds its own writes and round trips around the
   * handler; here it costs nothing extra.)
   */
  receipt?: { receipt: SendReceipt; ttl: number } | undefined;
  /** Forwarding: the source message's forwarded_count moves with the copies. */
  forwardedFrom?: MessageRecord | undefined;
}

/** Transactions that touch one item at once conflict rather than wait: retry these few times. */
const CONFLICT_RETRIES = 5;

/**
 * Writes messages whose sequence numbers are already taken. One message without
 * a receipt is a plain conditional put (1 write unit); otherwise one
 * all-or-nothing transaction with the receipt and the forward source. Nothing
 * here touches the room or its head, so concurrent senders never conflict.
 */
export async function storeMessages(
  messages: readonly MessageRecord[],
  options: StoreOptions = {},
): Promise<StoreOutcome> {
  const table = tableName();
  const carriesFiles = messages.some((m) => m.attachments.length > 0);
  if (messages.length === 1 && !options.receipt && !options.forwardedFrom && !carriesFiles) {
    await ddb()
      .send(
        new PutCommand({
          TableName: table,
          Item: messageToItem(messages[0]!),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      .catch((error: unknown) => {
        throw new StoreError('Storing the message failed', error);
      });
    return { kind: 'stored' };
  }
  const items: TransactItem[] = messages.map((message) => ({
    Put: {
      TableName: table,
      Item: messageToItem(message),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  }));
  const extra: ('receipt' | 'source')[] = [];
  if (options.receipt) {
    extra.push('receipt');
    items.push({
      Put: {
        TableName: table,
        Item: sendReceiptItem(options.receipt.receipt, options.receipt.ttl),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  // A send claims its files; a forward's copies carry the source's (CONTRACT §8).
  const claims = options.forwardedFrom
    ? []
    : messages.flatMap((m) => (m.attachments.length ? claimItems(m, attachmentBundle(m)) : []));
  const claimedFiles = messages.flatMap((m) => (options.forwardedFrom ? [] : m.attachments));
  const carriers =
    options.forwardedFrom && options.forwardedFrom.attachments.length > 0
      ? carrierItems(messages, attachmentBundle(options.forwardedFrom))
      : [];
  if (options.forwardedFrom) {
    extra.push('source');
    items.push({
      Update: {
        TableName: table,
        Key: messageKey(options.forwardedFrom.room_id, options.forwardedFrom.seq),
        UpdateExpression: 'ADD forwarded_count :n',
        ConditionExpression: 'attribute_exists(pk) AND is_deleted = :no',
        ExpressionAttributeValues: { ':n': messages.length, ':no': false },
      },
    });
  }
  const claimsAt = items.length;
  items.push(...(claims as TransactItem[]), ...(carriers as TransactItem[]));
  for (let attempt = 0; ; attempt++) {
    try {
      await ddb().send(new TransactWriteCommand({ TransactItems: items }));
      return { kind: 'stored' };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException))
        throw new StoreError('Storing the message failed', error);
      const reasons = error.CancellationReasons ?? [];
      for (const [i, kind] of extra.entries()) {
        if (reasons[messages.length + i]?.Code !== 'ConditionalCheckFailed') continue;
        return kind === 'receipt' ? { kind: 'duplicate' } : { kind: 'source-gone' };
      }
      // Claims come first among the extra items, one per file in order, then the carriers.
      const taken = claimedFiles.findIndex(
        (_, i) => reasons[claimsAt + i]?.Code === 'ConditionalCheckFailed',
      );
      if (taken >= 0) return { kind: 'attachment-taken', attachmentId: claimedFiles[taken]!.id };
      const conflicted = reasons.some((r) => r.Code === 'TransactionConflict');
      if (!conflicted || attempt >= CONFLICT_RETRIES)
        throw new StoreError('Storing the message was cancelled', error);
      await sleep(10 * 2 ** attempt * Math.random());
    }
  }
}

/**
 * Fills the numbers of a send that failed after taking them, so unread counts
 * and the message list see no gap. Conditional: if the message was stored after
 * all (an ambiguous timeout), it stays. Returns the seqs actually tombstoned.
 */
export async function putTombstones(
  messages: readonly Pick<MessageRecord, 'room_id' | 'seq' | 'sender_id' | 'created_at'>[],
): Promise<Pick<MessageRecord, 'room_id' | 'seq'>[]> {
  const written = await Promise.all(
    messages.map(async (m) => {
      const stone = tombstone(
        { id: messageId(m.room_id, m.seq), room_id: m.room_id, seq: m.seq },
        m,
      );
      const put = await putIf({
        Item: messageToItem(stone),
        ConditionExpression: 'attribute_not_exists(pk)',
      });
      return put ? [m] : [];
    }),
  );
  return written.flat();
}
