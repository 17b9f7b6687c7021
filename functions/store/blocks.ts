import type { BlockEntry } from '#model';
import { tableName } from '#platform/clients.ts';
import { batchGet, type Key } from './batch.ts';
import { transactIf } from './conditional.ts';
import { userIdOfPk, userPk } from './keys.ts';
import { queryAll } from './query.ts';
import { directPairKey, roomKey } from './rooms.ts';

/**
 * Blocks (docs/table-design.md), one pair of items per block, each in one
 * user's partition:
 * - `USER#<blocker> / BLOCK#<blocked>`: the blocker's list;
 * - `USER#<blocked> / BLOCKEDBY#<blocker>`: so the blocked user's presence and
 *   typing skip the blocker with the same one Query of their own partition.
 * A direct room between the two also carries the block (`blocked_by`, a string
 * set on the room item), written in the same transaction: the send path reads
 * the room anyway, so it checks a block for nothing.
 */
const BLOCK = 'BLOCK#';
const BLOCKED_BY = 'BLOCKEDBY#';
const blockKey = (blocker: string, blocked: string): Key => ({
  pk: userPk(blocker),
  sk: `${BLOCK}${blocked}`,
});
const blockedByKey = (blocked: string, blocker: string): Key => ({
  pk: userPk(blocked),
  sk: `${BLOCKED_BY}${blocker}`,
});

/**
 * The other side of a block item in `userId`'s partition (`BLOCK#b` has
 * `USER#b / BLOCKEDBY#<userId>`, and the reverse); undefined for any other item.
 */
export function blockMirrorKey(userId: string, sk: string): Key | undefined {
  if (sk.startsWith(BLOCK)) return blockedByKey(sk.slice(BLOCK.length), userId);
  if (sk.startsWith(BLOCKED_BY)) return blockKey(sk.slice(BLOCKED_BY.length), userId);
  return undefined;
}

/**
 * The pair's direct room in a block's transaction: its `blocked_by` gains or
 * loses the blocker; with no room yet, a check that none appears meanwhile
 * (a room made between the read and this write fails it, and the block retries).
 */
function roomSide(
  blocker: string,
  blocked: string,
  directRoomId: string | undefined,
  op: 'ADD' | 'DELETE',
) {
  const table = tableName();
  return directRoomId
    ? {
        Update: {
          TableName: table,
          Key: roomKey(directRoomId),
          UpdateExpression: `${op} blocked_by :me`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':me': new Set([blocker]) },
        },
      }
    : {
        ConditionCheck: {
          TableName: table,
          Key: directPairKey(blocker, blocked),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      };
}

/**
 * Blocks `blocked` for `blocker` (idempotent: a standing block keeps its time).
 * False when the pair's direct room changed meanwhile (created, or removed):
 * the caller reads it again and retries.
 */
export async function putBlock(
  blocker: string,
  blocked: string,
  at: string,
  directRoomId: string | undefined,
): Promise<boolean> {
  const table = tableName();
  // A standing block keeps the time it began: if_not_exists, not a plain put.
  const side = (key: Key, entity: string, userId: string) => ({
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression:
        'SET entity = :e, user_id = :u, blocked_at = if_not_exists(blocked_at, :at)',
      ExpressionAttributeValues: { ':e': entity, ':u': userId, ':at': at },
    },
  });
  return transactIf([
    side(blockKey(blocker, blocked), 'block', blocked),
    side(blockedByKey(blocked, blocker), 'blocked-by', blocker),
    roomSide(blocker, blocked, directRoomId, 'ADD'),
  ]);
}

/** Lifts a block (idempotent). False when the pair's direct room changed meanwhile. */
export async function deleteBlock(
  blocker: string,
  blocked: string,
  directRoomId: string | undefined,
): Promise<boolean> {
  const table = tableName();
  return transactIf([
    { Delete: { TableName: table, Key: blockKey(blocker, blocked) } },
    { Delete: { TableName: table, Key: blockedByKey(blocked, blocker) } },
    roomSide(blocker, blocked, directRoomId, 'DELETE'),
  ]);
}

/** The users `userId` blocks, oldest block first. */
export async function listBlocks(userId: string): Promise<BlockEntry[]> {
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :block)',
    ExpressionAttributeValues: { ':pk': userPk(userId), ':block': BLOCK },
    ConsistentRead: true,
  });
  return items
    .map((i) => ({ user_id: i.user_id as string, blocked_at: i.blocked_at as string }))
    .sort((a, b) => a.blocked_at.localeCompare(b.blocked_at) || a.user_id.localeCompare(b.user_id));
}

/**
 * Everyone a block stands between `userId` and, either way: one Query of the
 * user's own partition (`BLOCK#` and `BLOCKEDBY#` share the prefix `BLOCK`).
 */
export async function blockedEitherWay(userId: string): Promise<Set<string>> {
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': userPk(userId), ':prefix': 'BLOCK' },
    ProjectionExpression: 'user_id',
  });
  return new Set(items.map((i) => i.user_id as string));
}

/**
 * Of `others`, those who block `userId` (adding them to a group is refused):
 * one BatchGet of `USER#<other> / BLOCK#<userId>`.
 */
export async function whoBlocks(userId: string, others: readonly string[]): Promise<string[]> {
  if (others.length === 0) return [];
  const items = await batchGet(
    others.map((o) => blockKey(o, userId)),
    { consistent: true },
  );
  const found = new Set(items.map((i) => userIdOfPk(i.pk as string)));
  return others.filter((o) => found.has(o));
}

/** The items a block between the two users would be, either way. */
export const blockKeysBetween = (a: string, b: string): Key[] => [blockKey(a, b), blockKey(b, a)];

/** Whether a block stands between the two users, either way (one BatchGet of two keys). */
export async function blockBetween(a: string, b: string): Promise<boolean> {
  return (await batchGet(blockKeysBetween(a, b), { consistent: true })).length > 0;
}
