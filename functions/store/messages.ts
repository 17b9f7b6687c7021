import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageRecord, SendReceipt } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { roomPk, userPk } from './keys.ts';
import { queryAll, queryPage } from './query.ts';

/**
 * Message item: pk ROOM#<room_id>, sk MSG#<seq, zero-padded>. Messages sort by
 * their room sequence (taken from the room head before the message is written;
 * a send that fails after taking its number leaves a tombstone there, so there
 * are no silent gaps). The public id is `<room_id>.<seq>`: it locates the item
 * with one GetItem and no index.
 */
const SEQ_WIDTH = 12;

export const messageId = (roomId: string, seq: number) => `${roomId}.${seq}`;

export function parseMessageId(id: string): { roomId: string; seq: number } | undefined {
  const match = /^([0-9A-Za-z_-]{1,64})\.([1-9][0-9]{0,11})$/.exec(id);
  if (!match) return undefined;
  return { roomId: match[1]!, seq: Number(match[2]) };
}

/** A seq as sort keys hold it: zero-padded, so keys sort in seq order (seen receipts use it too). */
export const sortableSeq = (seq: number) => String(seq).padStart(SEQ_WIDTH, '0');

/** Every message's sort key begins with it (a room's messages are `begins_with`). */
export const MESSAGE_PREFIX = 'MSG#';
export const messageSortKey = (seq: number) => `${MESSAGE_PREFIX}${sortableSeq(seq)}`;

/** The sort keys of a room's messages up to `seq` (BETWEEN bounds). */
export const messageSortKeysUpTo = (seq: number) => ({
  from: MESSAGE_PREFIX,
  to: messageSortKey(seq),
});

export const messageKey = (roomId: string, seq: number): Key => ({
  pk: roomPk(roomId),
  sk: messageSortKey(seq),
});

/**
 * Send receipt: pk USER#<user_id>, sk TEMP#<room_id>#<temp_id>. Makes a send
 * idempotent per (sender, room, temp_id); it keeps a hash of the request so a
 * replay of another message under the same temp_id is refused, not confirmed.
 */
export const sendReceiptKey = (userId: string, roomId: string, tempId: string): Key => ({
  pk: userPk(userId),
  sk: `TEMP#${roomId}#${tempId}`,
});

export function sendReceiptItem(receipt: SendReceipt, ttl: number): Item {
  return {
    ...sendReceiptKey(receipt.user_id, receipt.room_id, receipt.temp_id),
    entity: 'send-receipt',
    ...receipt,
    ttl,
  };
}

export function messageToItem(message: MessageRecord): Item {
  return { ...messageKey(message.room_id, message.seq), entity: 'message', ...message };
}

export function messageFromItem(item: Item): MessageRecord {
  return {
    id: item.id as string,
    room_id: item.room_id as string,
    seq: Number(item.seq),
    sender_id: item.sender_id as string,
    sender_name: (item.sender_name as string | undefined) ?? (item.sender_id as string),
    content: (item.content as string | undefined) ?? '',
    message_type: (item.message_type as string | undefined) ?? 'text',
    file_url: (item.file_url as string | null | undefined) ?? null,
    media: item.media ?? null,
    reply_to_message_id: (item.reply_to_message_id as string | null | undefined) ?? null,
    reply_to: (item.reply_to as MessageRecord['reply_to'] | undefined) ?? null,
    mentions: (item.mentions as string[] | undefined) ?? [],
    forwarded_from: (item.forwarded_from as string | null | undefined) ?? null,
    metadata: (item.metadata as MessageRecord['metadata'] | undefined) ?? null,
    forwarded_count: Number(item.forwarded_count ?? 0),
    is_encrypted: item.is_encrypted === true,
    encryption_key_id: (item.encryption_key_id as string | null | undefined) ?? null,
    encrypted_content: (item.encrypted_content as string | null | undefined) ?? null,
    is_deleted: item.is_deleted === true,
    ...(item.is_tombstone === true ? { is_tombstone: true } : {}),
    attachments: (item.attachments as MessageRecord['attachments'] | undefined) ?? [],
    created_at: item.created_at as string,
  };
}

export async function getMessage(
  id: string,
  options: { consistent?: boolean } = {},
): Promise<MessageRecord | undefined> {
  const where = parseMessageId(id);
  if (!where) return undefined;
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: messageKey(where.roomId, where.seq),
      ConsistentRead: options.consistent,
    }),
  );
  return out.Item ? messageFromItem(out.Item) : undefined;
}

/** The messages of one room with these seqs (missing ones are simply absent). */
export async function getMessagesBySeq(
  roomId: string,
  seqs: readonly number[],
): Promise<MessageRecord[]> {
  const items = await batchGet(seqs.map((seq) => messageKey(roomId, seq)));
  return items.map(messageFromItem);
}

/** Messages by id, across rooms (ids that name no message are simply absent). */
export async function getMessagesByIds(ids: readonly string[]): Promise<MessageRecord[]> {
  const keys = ids.flatMap((id) => {
    const where = parseMessageId(id);
    return where ? [messageKey(where.roomId, where.seq)] : [];
  });
  return (await batchGet(keys)).map(messageFromItem);
}

export async function getSendReceipt(
  userId: string,
  roomId: string,
  tempId: string,
): Promise<SendReceipt | undefined> {
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: sendReceiptKey(userId, roomId, tempId),
      ConsistentRead: true,
    }),
  );
  if (!out.Item) return undefined;
  return {
    user_id: userId,
    room_id: roomId,
    temp_id: tempId,
    message_id: out.Item.message_id as string,
    request_hash: (out.Item.request_hash as string | undefined) ?? '',
    created_at: out.Item.created_at as string | undefined,
  };
}

/**
 * Points a receipt at the message that replaces a send that never stored its
 * own (its number became a tombstone): only if it still names `fromId`, so of
 * two retries repairing at once, one wins.
 */
export async function moveSendReceipt(
  receipt: SendReceipt,
  fromId: string,
  to: { message_id: string; created_at: string },
): Promise<boolean> {
  const moved = await updateIf({
    Key: sendReceiptKey(receipt.user_id, receipt.room_id, receipt.temp_id),
    UpdateExpression: 'SET message_id = :to, created_at = :at',
    ConditionExpression: 'message_id = :from',
    ExpressionAttributeValues: { ':to': to.message_id, ':at': to.created_at, ':from': fromId },
  });
  return moved !== undefined;
}

/**
 * A page of visible messages, newest first, with seq in (afterSeq, beforeSeq).
 * Deleted messages are filtered server-side; the loop tops the page up because
 * DynamoDB applies Limit before the filter.
 */
export async function listMessages(
  roomId: string,
  afterSeq: number,
  beforeSeq: number,
  limit: number,
): Promise<{ messages: MessageRecord[]; more: boolean }> {
  if (beforeSeq - afterSeq <= 1) return { messages: [], more: false };
  const items = await queryAll(
    {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      FilterExpression: 'is_deleted = :no',
      ExpressionAttributeValues: {
        ':pk': roomPk(roomId),
        ':from': messageSortKey(afterSeq + 1),
        ':to': messageSortKey(beforeSeq - 1),
        ':no': false,
      },
      ScanIndexForward: false,
    },
    // One more than asked for tells whether there is more.
    { pageLimit: (found) => limit + 1 - found.length, until: (found) => found.length > limit },
  );
  return { messages: items.slice(0, limit).map(messageFromItem), more: items.length > limit };
}

/** Marks a message deleted for everyone and drops its payload. Only its sender may. */
export async function markMessageDeleted(
  message: MessageRecord,
  at: string,
): Promise<MessageRecord | undefined> {
  const after = await updateIf({
    Key: messageKey(message.room_id, message.seq),
    UpdateExpression:
      'SET is_deleted = :yes, deleted_at = :at, content = :empty REMOVE encrypted_content, file_url, media, attachments',
    ConditionExpression: 'attribute_exists(pk) AND sender_id = :sender',
    ExpressionAttributeValues: {
      ':yes': true,
      ':at': at,
      ':empty': '',
      ':sender': message.sender_id,
    },
    ReturnValues: 'ALL_NEW',
  });
  return after ? messageFromItem(after) : undefined;
}

/** A message's place in sync order, `<created_at>#<id>`, as event-log.ts keys events. */
export const messagePosition = (m: Pick<MessageRecord, 'created_at' | 'id'>) =>
  `${m.created_at}#${m.id}`;

export interface MessagesSince {
  /** Oldest first, tombstones and deleted ones included: the caller decides how they show. */
  messages: MessageRecord[];
  /**
   * Set when the read stopped short of `topSeq`: every message of the room left
   * out sorts after this position, so a page built on them must not reach past it.
   */
  upTo: string | undefined;
}

/** The newest messages read first: in a room that changed little, the whole read. */
const RECENT = 32;
/** Read at a time past the `want`-th message, until the clock skew is behind. */
const SKEW_READ = 25;

/**
 * One sync page's messages of a room: those after the sync position `after`
 * (`<created_at>#<id>`), seq in (afterSeq, topSeq], about `want` of them, read
 * from where `after` falls in the room: never its history, and never more than
 * a page of what came since (a page that re-read the whole backlog each time
 * made paging through it quadratic).
 *
 * Numbers are taken in time order give or take `skewMs` (a send stamps its time,
 * then takes its number), so below a message older than `after - skewMs` there
 * is nothing newer than `after`, and nothing after a message m sorts before
 * `m.created_at - skewMs`. Reads:
 * 1. the newest RECENT, newest first: if they reach back that far, they are all;
 * 2. else a binary search on seq, one Limit-1 Query per step, for the last
 *    message older than `after - skewMs`;
 * 3. then oldest first from there, `want` + 1 at a time, until `want` are past
 *    `after` and the last one read is `skewMs` newer than the `want`-th: the
 *    rest all sort after that one, which becomes `upTo`.
 */
export async function listMessagesSince(
  roomId: string,
  afterSeq: number,
  topSeq: number,
  after: string,
  want: number,
  skewMs: number,
): Promise<MessagesSince> {
  if (topSeq <= afterSeq) return { messages: [], upTo: undefined };
  const edge = new Date(Date.parse(after.slice(0, 24)) - skewMs).toISOString();
  const seqs = (from: number, to: number) => ({
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': roomPk(roomId),
      ':from': messageSortKey(from),
      ':to': messageSortKey(to),
    },
  });
  const isNew = (m: MessageRecord) => messagePosition(m) > after;

  const recent = await queryPage({
    ...seqs(afterSeq + 1, topSeq),
    ScanIndexForward: false,
    Limit: RECENT,
  });
  const newest = recent.items.map(messageFromItem);
  if (!recent.next || newest.some((m) => m.created_at < edge)) {
    return { messages: newest.filter(isNew).reverse(), upTo: undefined };
  }

  // lo: afterSeq, or a message older than the edge; hi: a seq known to be past it.
  let lo = afterSeq;
  let hi = newest.at(-1)!.seq;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const { items } = await queryPage({
      ...seqs(mid, hi - 1),
      ProjectionExpression: '#seq, #at',
      ExpressionAttributeNames: { '#seq': 'seq', '#at': 'created_at' },
      Limit: 1,
    });
    const probe = items[0];
    if (probe && (probe.created_at as string) < edge) lo = Number(probe.seq);
    else hi = mid;
  }

  const found: MessageRecord[] = [];
  let upTo: string | undefined;
  let upToMs = 0;
  let latestMs = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await queryPage(
      { ...seqs(lo + 1, topSeq), Limit: upTo ? SKEW_READ : want - found.length + 1 },
      start,
    );
    for (const m of page.items.map(messageFromItem)) {
      // A gap's tombstone is written well after its number was taken: its time says
      // nothing about how far the room's clock has moved.
      if (!m.is_tombstone) latestMs = Math.max(latestMs, Date.parse(m.created_at));
      if (!isNew(m)) continue;
      found.push(m);
      if (found.length === want) {
        upTo = messagePosition(m);
        upToMs = Date.parse(m.created_at);
      }
    }
    start = page.next;
  } while (start && !(upTo && latestMs - skewMs > upToMs));
  if (!start || !upTo) return { messages: found, upTo: undefined };
  const bound = upTo;
  return { messages: found.filter((m) => messagePosition(m) <= bound), upTo: bound };
}
