import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { attachmentBundle, type MessageRecord, type SendReceipt, tombstone } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import { sleep } from '#platform/time.ts';
import { carrierItems, claimItems } from './attachments.ts';
import { putIf } from './conditional.ts';
import { getMessage, messageId, messageKey, messageToItem, sendReceiptItem } from './messages.ts';

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
   * The send receipt: written before the message (storeWithReceipt), or in the
   * message's transaction when files or a forward move with it. (Not Powertools
   * idempotency: that adds its own writes and round trips around the handler.)
   */
  receipt?: { receipt: SendReceipt; ttl: number } | undefined;
  /** Forwarding: the source message's forwarded_count moves with the copies. */
  forwardedFrom?: MessageRecord | undefined;
}

/** Transactions that touch one item at once conflict rather than wait: retry these few times. */
const CONFLICT_RETRIES = 5;

/**
 * Writes messages whose sequence numbers are already taken. One message is a
 * plain conditional put (1 write unit), after its receipt's (storeWithReceipt);
 * files or a forward make one all-or-nothing transaction with the receipt, the
 * claims and the forward source. Nothing here touches the room or its head, so
 * concurrent senders never conflict.
 */
export async function storeMessages(
  messages: readonly MessageRecord[],
  options: StoreOptions = {},
): Promise<StoreOutcome> {
  const table = tableName();
  const carriesFiles = messages.some((m) => m.attachments.length > 0);
  if (messages.length === 1 && !options.forwardedFrom && !carriesFiles) {
    const message = messages[0]!;
    if (options.receipt) return storeWithReceipt(message, options.receipt);
    await putMessage(message);
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
 * A send with a temp_id and nothing else to move with it: two conditional puts,
 * 2 write units where a transaction of the same two costs 4 (DynamoDB bills
 * each transactional write twice). The receipt goes first: a crash between the
 * two leaves a receipt without its message, which the retry stores
 * (domain/send-store.ts repairSend), never a message without its receipt, which
 * a retry would store a second time. A failure of the message's put is thrown,
 * and the caller tombstones the number.
 */
async function storeWithReceipt(
  message: MessageRecord,
  receipt: NonNullable<StoreOptions['receipt']>,
): Promise<StoreOutcome> {
  const claimed = await putIf({
    Item: sendReceiptItem(receipt.receipt, receipt.ttl),
    ConditionExpression: 'attribute_not_exists(pk)',
  });
  if (!claimed) return { kind: 'duplicate' };
  await putMessage(message);
  return { kind: 'stored' };
}

/**
 * The conditional put of one message. Its number taken, only a retry repairing
 * this very send (a receipt already written, domain/send-store.ts) can have put
 * the same message there first: that counts as stored. Anything else there
 * (a tombstone) is a failure.
 */
async function putMessage(message: MessageRecord): Promise<void> {
  const put = await putIf({
    Item: messageToItem(message),
    ConditionExpression: 'attribute_not_exists(pk)',
  });
  if (put) return;
  const there = await getMessage(message.id, { consistent: true });
  const same =
    there?.id === message.id && there.sender_id === message.sender_id && !there.is_tombstone;
  if (!same) throw new StoreError('Storing the message failed: its number was filled');
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
