import type { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { MemberState, RoomRecord } from '#model';
import { tableName } from '#platform/clients.ts';
import { chunk, type Item, type Key } from './batch.ts';
import { transactIf } from './conditional.ts';
import { memberKey, memberToItem } from './members.ts';
import { directPairItem, roomKey, roomToItem } from './rooms.ts';

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

const put = (item: Item, condition = 'attribute_not_exists(pk)'): TransactItem => ({
  Put: { TableName: tableName(), Item: item, ConditionExpression: condition },
});

/**
 * Creates a room with its member items. The first transaction holds the room,
 * the direct-pair lock (if any) and up to 98 members, so a small room is all or
 * nothing; members past that (big groups) follow in further transactions of
 * idempotent puts. Returns false when the direct pair already has a room, or
 * an item of `mustBeAbsent` exists.
 */
export async function createRoom(
  room: RoomRecord,
  members: MemberState[],
  mustBeAbsent: readonly Key[] = [],
): Promise<boolean> {
  const head: TransactItem[] = [put(roomToItem(room))];
  if (room.type === 'direct') {
    const [a, b] = Object.keys(room.members);
    head.push(put(directPairItem(a!, b!, room.id)));
  }
  // Items whose existence forbids the room (a block between a direct room's two users).
  for (const Key of mustBeAbsent) {
    head.push({
      ConditionCheck: {
        TableName: tableName(),
        Key,
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  const firstBatch = members.slice(0, 100 - head.length);
  if (!(await transactIf([...head, ...firstBatch.map((m) => put(memberToItem(m)))]))) return false;
  for (const part of chunk(members.slice(firstBatch.length), 100)) {
    // The room exists already; these member items are plain, repeatable puts.
    await transactIf(part.map((m) => ({ Put: { TableName: tableName(), Item: memberToItem(m) } })));
  }
  return true;
}

/**
 * Adds members: the room map and each member item move together. The condition
 * re-checks that the caller is still an admin and the size cap still holds.
 */
export async function addMembers(
  roomId: string,
  adminId: string,
  newcomers: MemberState[],
  maxMembers: number,
): Promise<boolean> {
  const names: Record<string, string> = { '#admin': adminId };
  const values: Record<string, unknown> = {
    ':max': maxMembers - newcomers.length,
    ':now': newcomers[0]?.joined_at,
  };
  const sets = newcomers.map((m, i) => {
    names[`#u${i}`] = m.user_id;
    values[`:j${i}`] = m.joined_at;
    return `members.#u${i} = :j${i}`;
  });
  return transactIf([
    {
      Update: {
        TableName: tableName(),
        Key: roomKey(roomId),
        UpdateExpression: `SET ${sets.join(', ')}, updated_at = :now`,
        ConditionExpression: 'attribute_exists(admins.#admin) AND size(members) <= :max',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    },
    ...newcomers.map((m) => put(memberToItem(m))),
  ]);
}

/** Removes a member (and any admin role): room map and member item together. */
export async function removeMember(
  roomId: string,
  adminId: string,
  userId: string,
  at: string,
): Promise<boolean> {
  return transactIf([
    {
      Update: {
        TableName: tableName(),
        Key: roomKey(roomId),
        UpdateExpression: 'REMOVE members.#user, admins.#user SET updated_at = :now',
        ConditionExpression: 'attribute_exists(admins.#admin) AND attribute_exists(members.#user)',
        ExpressionAttributeNames: { '#admin': adminId, '#user': userId },
        ExpressionAttributeValues: { ':now': at },
      },
    },
    { Delete: { TableName: tableName(), Key: memberKey(userId, roomId) } },
  ]);
}

/**
 * The caller leaves a group. When they were its only admin, `successor` (the
 * longest-standing remaining member) becomes admin in the same transaction. The
 * condition re-checks both, so a concurrent change makes this fail instead of
 * leaving a group without an admin.
 */
export async function leaveGroup(
  roomId: string,
  userId: string,
  successor: string | undefined,
  at: string,
): Promise<boolean> {
  const names: Record<string, string> = { '#user': userId };
  const values: Record<string, unknown> = { ':now': at };
  let expression = 'REMOVE members.#user, admins.#user SET updated_at = :now';
  let condition = 'attribute_exists(members.#user)';
  if (successor) {
    names['#next'] = successor;
    expression += ', admins.#next = :now';
    condition += ' AND attribute_exists(members.#next)';
  }
  return transactIf([
    {
      Update: {
        TableName: tableName(),
        Key: roomKey(roomId),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    },
    { Delete: { TableName: tableName(), Key: memberKey(userId, roomId) } },
  ]);
}

/**
 * The last member leaves: the room item and their member item go at once, so
 * readers see the room as gone; the stream then purges its messages in the
 * background (a big room cannot be deleted inside a request).
 */
export async function deleteLastMember(roomId: string, userId: string): Promise<boolean> {
  return transactIf([
    {
      Delete: {
        TableName: tableName(),
        Key: roomKey(roomId),
        ConditionExpression: 'attribute_exists(members.#user) AND size(members) = :one',
        ExpressionAttributeNames: { '#user': userId },
        ExpressionAttributeValues: { ':one': 1 },
      },
    },
    { Delete: { TableName: tableName(), Key: memberKey(userId, roomId) } },
  ]);
}
