import type { PendingMessage } from '#model';
import { batchWrite, type Key } from './batch.ts';
import { putIf, updateIf } from './conditional.ts';
import { userPk } from './keys.ts';
import { parseMessageId, sortableSeq } from './messages.ts';
import { queryPage } from './query.ts';

/**
 * Pending delivery: pk USER#<user_id>, sk PENDING#R#<room_id>#<seq, zero-padded>.
 * The sort key keeps each room's pending messages in the room's own order, its
 * seq, across every page a flush reads: not by time, which is not a room's
 * order (a send stamps its time before it takes its number, so concurrent
 * sends can land a millisecond apart the other way round), and with the seq
 * padded, so 10 sorts after 9. The same message always maps to the same key,
 * so a redelivered queue message adds nothing.
 *
 * Items written before this shape, PENDING#<created_at>#<message_id>, live
 * until their TTL (14 days): they sort first (a digit before "R"), are read
 * in time order and are deleted by the key they were read under.
 */
const PREFIX = 'PENDING#';
const ROOM_PREFIX = `${PREFIX}R#`;
export const PENDING_TTL_SECONDS = 14 * 24 * 3600;

/** A pending message as listed, with the sort key it is stored under (either shape). */
export interface ListedPending extends PendingMessage {
  sk: string;
}

export const pendingKey = (
  userId: string,
  message: Pick<PendingMessage, 'created_at' | 'id'>,
): Key => {
  const parsed = parseMessageId(message.id);
  return {
    pk: userPk(userId),
    sk: parsed
      ? `${ROOM_PREFIX}${parsed.roomId}#${sortableSeq(parsed.seq)}`
      : // Every message id parses; this only keeps the key total.
        `${PREFIX}${message.created_at}#${message.id}`,
  };
};

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

/**
 * One page of pending messages, up to `limit`: room by room in key order, each
 * room's in seq order, and the page in send order (inSendOrder). Expired ones
 * (TTL lag) are left out.
 */
export async function listPending(
  userId: string,
  limit: number,
  now: number,
): Promise<ListedPending[]> {
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
  return inSendOrder(
    items.map((item) => ({ ...(item.message as PendingMessage), sk: item.sk as string })),
  );
}

/**
 * A page in send order: by time across rooms, and each room's messages in seq
 * order in the places that room's messages hold (times within a room can be a
 * millisecond out of seq order, or equal).
 */
function inSendOrder(messages: ListedPending[]): ListedPending[] {
  const seq = (m: PendingMessage) => parseMessageId(m.id)?.seq ?? 0;
  const byTime = [...messages].sort((a, b) =>
    a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0,
  );
  const byRoom = new Map<string, ListedPending[]>();
  for (const m of byTime) byRoom.set(m.room_id, [...(byRoom.get(m.room_id) ?? []), m]);
  for (const list of byRoom.values()) list.sort((a, b) => seq(a) - seq(b));
  const taken = new Map<string, number>();
  return byTime.map((m) => {
    const i = taken.get(m.room_id) ?? 0;
    taken.set(m.room_id, i + 1);
    return byRoom.get(m.room_id)![i]!;
  });
}

/** Deletes pending messages: by the key each was listed under, else by the current shape. */
export async function deletePending(
  userId: string,
  messages: readonly (PendingMessage & { sk?: string })[],
): Promise<void> {
  await batchWrite(
    messages.map((m) => ({
      DeleteRequest: { Key: m.sk ? { pk: userPk(userId), sk: m.sk } : pendingKey(userId, m) },
    })),
  );
}

/**
 * One flush at a time per user: pk USER#<user_id>, sk FLUSHING, a lease held by
 * one flush until `until` (ms). Without it, a user who connects while their
 * backlog is still being queued gets each pending message from every flush
 * that runs at once (the $connect flush and one per offline-delivery record
 * that finds them online): the load bench counted 1,134 extra frames for 20
 * reconnects. A flush that finds the lease held marks the user `wanted`
 * instead; the holder cannot let go while `wanted` is set, so it flushes again,
 * and a message stored while it flushed is not left behind. Only UpdateItem, so
 * the item stays (empty) until its TTL.
 */
export const FLUSH_SK = 'FLUSHING';
/** The lease item outlives its 30 s lease by this much only (it is never deleted: UpdateItem only). */
const FLUSH_ITEM_TTL_SECONDS = 24 * 3600;
/** Longer than any flush runs; a holder that crashed is replaced after it. */
export const FLUSH_LEASE_MS = 30_000;
const flushKey = (userId: string): Key => ({ pk: userPk(userId), sk: FLUSH_SK });

/** Takes (or renews) the user's flush lease; false when another flush holds it. */
export async function claimFlush(userId: string, owner: string, now: number): Promise<boolean> {
  const taken = await updateIf({
    Key: flushKey(userId),
    UpdateExpression: 'SET #owner = :owner, #until = :until, #ttl = :ttl REMOVE #wanted',
    // Its own owner may take it again: a long flush renews it page by page.
    ConditionExpression: 'attribute_not_exists(#owner) OR #until < :now OR #owner = :owner',
    ExpressionAttributeNames: {
      '#owner': 'owner',
      '#until': 'until',
      '#ttl': 'ttl',
      '#wanted': 'wanted',
    },
    ExpressionAttributeValues: {
      ':owner': owner,
      ':until': now + FLUSH_LEASE_MS,
      ':now': now,
      ':ttl': Math.floor(now / 1000) + FLUSH_ITEM_TTL_SECONDS,
    },
  });
  return taken !== undefined;
}

/**
 * Asks the lease's holder to flush once more; false when nobody holds it (the
 * caller then takes it itself).
 */
export async function wantFlush(userId: string, now: number): Promise<boolean> {
  const marked = await updateIf({
    Key: flushKey(userId),
    UpdateExpression: 'SET #wanted = :yes',
    ConditionExpression: 'attribute_exists(#owner) AND #until >= :now',
    ExpressionAttributeNames: { '#owner': 'owner', '#until': 'until', '#wanted': 'wanted' },
    ExpressionAttributeValues: { ':yes': true, ':now': now },
  });
  return marked !== undefined;
}

/**
 * Lets the lease go: 'released'; 'again' when another flush asked for one more
 * pass meanwhile (the ask is taken, the lease kept); 'lost' when it was no
 * longer this owner's. `force` lets go whatever was asked (a blocked flush:
 * its retry, or the next connection, takes over).
 */
export async function releaseFlush(
  userId: string,
  owner: string,
  force = false,
): Promise<'released' | 'again' | 'lost'> {
  const names = { '#owner': 'owner', '#until': 'until', '#wanted': 'wanted' };
  const released = await updateIf({
    Key: flushKey(userId),
    UpdateExpression: 'REMOVE #owner, #until, #wanted',
    ConditionExpression: force
      ? '#owner = :owner'
      : '#owner = :owner AND attribute_not_exists(#wanted)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':owner': owner },
  });
  if (released !== undefined) return 'released';
  if (force) return 'lost';
  const asked = await updateIf({
    Key: flushKey(userId),
    UpdateExpression: 'REMOVE #wanted',
    ConditionExpression: '#owner = :owner AND attribute_exists(#wanted)',
    ExpressionAttributeNames: { '#owner': 'owner', '#wanted': 'wanted' },
    ExpressionAttributeValues: { ':owner': owner },
  });
  return asked !== undefined ? 'again' : 'lost';
}
