import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { AttachmentRecord, MessageRecord } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import { batchGet, batchWrite, type Item, type Key } from './batch.ts';
import { putIf } from './conditional.ts';
import { sortableSeq } from './messages.ts';
import { queryPage } from './query.ts';

/**
 * Attachment items (docs/table-design.md):
 * - the file: pk ATT#<attachment_id>, sk META. `pending` with a TTL from its
 *   upload slot until a send claims it, then `sent` with no TTL;
 * - a carrier: pk FILES#<bundle>, sk IN#<room_id>#<seq>, one per message that
 *   carries the bundle's files (the first message and each forwarded copy).
 *   A download checks the caller can see one of them; the bytes go when the
 *   last one does. Keyed by bundle, not by file, so a forward writes one item
 *   per copy whatever the number of files.
 */
const attachmentKey = (attachmentId: string): Key => ({ pk: `ATT#${attachmentId}`, sk: 'META' });
const bundlePk = (bundle: string) => `FILES#${bundle}`;
const carrierKey = (bundle: string, roomId: string, seq: number): Key => ({
  pk: bundlePk(bundle),
  sk: `IN#${roomId}#${sortableSeq(seq)}`,
});

export function attachmentFromItem(item: Item): AttachmentRecord {
  return {
    id: item.id as string,
    room_id: item.room_id as string,
    uploader_id: item.uploader_id as string,
    state: item.state === 'sent' ? 'sent' : 'pending',
    bundle: (item.bundle as string | null | undefined) ?? null,
    content_type: item.content_type as string,
    ...(typeof item.etag === 'string' ? { etag: item.etag } : {}),
    size_bytes: Number(item.size_bytes),
    file_name: (item.file_name as string | null | undefined) ?? null,
    is_encrypted: item.is_encrypted === true,
    created_at: item.created_at as string,
  };
}

/** Records an upload slot (pending, gone after `ttl` unless a send claims it). */
export async function putUploadSlot(record: AttachmentRecord, ttl: number): Promise<void> {
  const put = await putIf({
    Item: { ...attachmentKey(record.id), entity: 'attachment', ...record, ttl },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
  if (!put) throw new StoreError(`Attachment id ${record.id} is taken`);
}

export async function getAttachment(id: string): Promise<AttachmentRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: attachmentKey(id), ConsistentRead: true }),
  );
  return out.Item ? attachmentFromItem(out.Item) : undefined;
}

export async function getAttachments(
  ids: readonly string[],
): Promise<Map<string, AttachmentRecord>> {
  const items = await batchGet(ids.map(attachmentKey));
  return new Map(items.map((item) => [item.id as string, attachmentFromItem(item)]));
}

type TransactItem = Record<string, unknown>;

/**
 * Transaction items that claim a send's files for `message`: each must still
 * be pending, the sender's, and uploaded for this room (so of two sends naming
 * one file, one wins); it becomes sent, with the size storage holds, and the
 * message becomes the bundle's first carrier.
 */
export function claimItems(message: MessageRecord, bundle: string): TransactItem[] {
  const table = tableName();
  const claims: TransactItem[] = message.attachments.map((file) => ({
    Update: {
      TableName: table,
      Key: attachmentKey(file.id),
      UpdateExpression:
        'SET #state = :sent, size_bytes = :size, bundle = :bundle, etag = :etag REMOVE #ttl',
      // A slot past its TTL is gone even if DynamoDB has not deleted the item yet.
      ConditionExpression:
        '#state = :pending AND uploader_id = :sender AND room_id = :room AND #ttl > :now',
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':sent': 'sent',
        ':pending': 'pending',
        ':size': file.size_bytes,
        ':bundle': bundle,
        ':etag': file.etag ?? '',
        ':sender': message.sender_id,
        ':room': message.room_id,
        ':now': Math.floor(Date.now() / 1000),
      },
    },
  }));
  return [...claims, ...carrierItems([message], bundle)];
}

/** A carrier per message (a send's message, or each forwarded copy). */
export function carrierItems(messages: readonly MessageRecord[], bundle: string): TransactItem[] {
  return messages.map((m) => ({
    Put: {
      TableName: tableName(),
      Item: {
        ...carrierKey(bundle, m.room_id, m.seq),
        entity: 'attachment-carrier',
        room_id: m.room_id,
        seq: m.seq,
      },
    },
  }));
}

export interface Carrier {
  room_id: string;
  seq: number;
}

/** One page of the messages that carry a bundle. */
export async function listCarriers(
  bundle: string,
  limit: number,
  startKey?: Record<string, unknown>,
): Promise<{ carriers: Carrier[]; next: Record<string, unknown> | undefined }> {
  const { items, next } = await queryPage<Item>(
    {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': bundlePk(bundle) },
      ProjectionExpression: 'room_id, seq',
      // Read after the send's own write: a recipient fetches the file as soon as it arrives.
      ConsistentRead: true,
      Limit: limit,
    },
    startKey,
  );
  return {
    carriers: items.map((i) => ({ room_id: i.room_id as string, seq: Number(i.seq) })),
    next,
  };
}

/** A message no longer carries its bundle (deleted for everyone, cleared, or removed). */
export async function deleteCarrier(bundle: string, roomId: string, seq: number): Promise<void> {
  await ddb().send(
    new DeleteCommand({ TableName: tableName(), Key: carrierKey(bundle, roomId, seq) }),
  );
}

/** Whether any message still carries the bundle (one strongly consistent read). */
export async function bundleCarried(bundle: string): Promise<boolean> {
  const { items } = await queryPage({
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': bundlePk(bundle) },
    ProjectionExpression: 'pk',
    ConsistentRead: true,
    Limit: 1,
  });
  return items.length > 0;
}

/** Forgets files whose bytes are gone. */
export async function deleteAttachments(ids: readonly string[]): Promise<void> {
  await batchWrite(ids.map((id) => ({ DeleteRequest: { Key: attachmentKey(id) } })));
}
