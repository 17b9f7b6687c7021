import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HeadSummary, RoomHead } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { roomPk } from './keys.ts';
import { messageId } from './messages.ts';

/**
 * The room's hot items, apart from the room item and its member map:
 * - head, pk ROOM#<room_id> / sk HEAD: `seq` (taken with `SET seq =
 *   if_not_exists(seq, 0) + 1`, an atomic increment that never conflicts: concurrent senders each get the next number in one round
 *   trip), `last_activity` and `last_message`, and in a direct room each
 *   member's newest own seq (`sent#<user_id>`, two at most). It stays under
 *   1 KB, so a send writes 1 unit here whatever the room's size;
 * - deletions, pk ROOM#<room_id> / sk DELETED: the set of deleted and
 *   tombstoned seqs that unread counts skip, trimmed to the newest `keep`.
 *   Kept apart so the head a send rewrites stays small.
 */
export const roomHeadKey = (roomId: string): Key => ({ pk: roomPk(roomId), sk: 'HEAD' });
export const roomDeletionsKey = (roomId: string): Key => ({
  pk: roomPk(roomId),
  sk: 'DELETED',
});

/** The head attribute holding a direct room member's newest own seq (RoomHead.sent_seqs). */
const SENT_PREFIX = 'sent#';

/**
 * Takes the room's next sequence number and makes the message the room's
 * latest: both in one update, so `last_message` always belongs to `seq`.
 * With `sentBy` (direct rooms) the same update records the number as that
 * user's newest own one: their read position moves with no write of its own.
 * Both sides of the SET read the item before the update, so they agree.
 */
export async function takeSequence(
  roomId: string,
  summary: HeadSummary,
  at: string,
  sentBy?: string,
): Promise<number> {
  const next = 'if_not_exists(seq, :zero) + :n';
  const out = await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: roomHeadKey(roomId),
      UpdateExpression: `SET seq = ${next}, ${sentBy ? `#sent = ${next}, ` : ''}entity = :entity, room_id = :room, last_activity = :at, last_message = :summary`,
      ExpressionAttributeNames: sentBy ? { '#sent': `${SENT_PREFIX}${sentBy}` } : undefined,
      ExpressionAttributeValues: {
        ':zero': 0,
        ':n': 1,
        ':entity': 'room-head',
        ':room': roomId,
        ':at': at,
        ':summary': summary,
      },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(out.Attributes?.seq);
}

function sentSeqs(head: Item | undefined): Record<string, number> {
  const found: Record<string, number> = {};
  for (const [name, value] of Object.entries(head ?? {})) {
    if (name.startsWith(SENT_PREFIX)) found[name.slice(SENT_PREFIX.length)] = Number(value);
  }
  return found;
}

function headFromItems(roomId: string, head: Item | undefined, deletions: Item | undefined) {
  const seq = Number(head?.seq ?? 0);
  const summary = head?.last_message as HeadSummary | undefined;
  // A tombstoned last message is no message to show.
  const shown = summary && seq > 0 && !summary.is_tombstone;
  const result: RoomHead = {
    room_id: roomId,
    seq,
    last_activity: (head?.last_activity as string | undefined) ?? null,
    last_message: shown
      ? {
          id: messageId(roomId, seq),
          sender_id: summary.sender_id,
          content: summary.content,
          message_type: summary.message_type,
          is_encrypted: summary.is_encrypted,
          created_at: summary.created_at,
        }
      : null,
    deleted_seqs: [...((deletions?.seqs as Set<number> | undefined) ?? [])].map(Number),
    last_event_at: (head?.last_event_at as string | undefined) ?? null,
    sent_seqs: sentSeqs(head),
  };
  return result;
}

export async function getRoomHead(roomId: string): Promise<RoomHead> {
  const heads = await getRoomHeads([roomId]);
  return heads.get(roomId)!;
}

/** Heads of many rooms: one BatchGet per 50 rooms (two small items each). */
export async function getRoomHeads(roomIds: readonly string[]): Promise<Map<string, RoomHead>> {
  const items = await batchGet(roomIds.flatMap((id) => [roomHeadKey(id), roomDeletionsKey(id)]));
  const keyOf = (key: Key) => `${key.pk}|${key.sk}`;
  const byKey = new Map(items.map((item) => [keyOf(item as Key), item]));
  return new Map(
    roomIds.map((id) => [
      id,
      headFromItems(id, byKey.get(keyOf(roomHeadKey(id))), byKey.get(keyOf(roomDeletionsKey(id)))),
    ]),
  );
}

/** The head alone, read strongly (the send path's view of `seq`). */
export async function getRoomSeq(roomId: string): Promise<number> {
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: roomHeadKey(roomId),
      ProjectionExpression: 'seq',
      ConsistentRead: true,
    }),
  );
  return Number(out.Item?.seq ?? 0);
}

/**
 * Remembers deleted (or tombstoned) seqs. A set add is idempotent, so the
 * stream may repeat it. When the set is over `keep`, its oldest entries go in a
 * second write (DynamoDB refuses ADD and DELETE on one attribute at once).
 */
export async function recordDeletedSeqs(
  roomId: string,
  seqs: readonly number[],
  keep: number,
): Promise<void> {
  if (seqs.length === 0) return;
  const after = await updateIf({
    Key: roomDeletionsKey(roomId),
    UpdateExpression: 'ADD seqs :s SET entity = :entity, room_id = :room',
    ExpressionAttributeValues: {
      ':s': new Set(seqs),
      ':entity': 'room-deletions',
      ':room': roomId,
    },
    ReturnValues: 'ALL_NEW',
  });
  const all = [...((after?.seqs as Set<number> | undefined) ?? [])].map(Number);
  if (all.length <= keep) return;
  const oldest = all.sort((a, b) => a - b).slice(0, all.length - keep);
  await updateIf({
    Key: roomDeletionsKey(roomId),
    UpdateExpression: 'DELETE seqs :old',
    ExpressionAttributeValues: { ':old': new Set(oldest) },
  });
}

/** A tombstone at the head's seq: mark the summary so the room shows no such last message. */
export async function markLastMessageTombstone(roomId: string, seq: number): Promise<void> {
  await updateIf({
    Key: roomHeadKey(roomId),
    UpdateExpression: 'SET last_message.is_tombstone = :yes',
    ConditionExpression: 'seq = :seq AND attribute_exists(last_message)',
    ExpressionAttributeValues: { ':yes': true, ':seq': seq },
  });
}
