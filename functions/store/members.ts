import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MemberState } from '#domain/model.ts';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

/**
 * Member item: pk USER#<user_id>, sk ROOM#<room_id>. One per (user, room): the
 * user's read marker, activity and preferences. Its gsi1 keys place the room in
 * the user's inbox or archive list, newest activity first; a room hidden from
 * the user carries no gsi1 keys and so is in no list.
 */
export const memberKey = (userId: string, roomId: string): Key => ({
  pk: `USER#${userId}`,
  sk: `ROOM#${roomId}`,
});

export const listPartition = (userId: string, archived: boolean) =>
  `USER#${userId}#${archived ? 'ARCHIVED' : 'INBOX'}`;

/** ISO timestamps sort lexically; the room id breaks ties and keeps keys unique. */
export const activitySortKey = (lastActivity: string, roomId: string) =>
  `${lastActivity}#${roomId}`;

export function newMemberState(userId: string, roomId: string, joinedAt: string, readSeq = 0) {
  const state: MemberState = {
    user_id: userId,
    room_id: roomId,
    joined_at: joinedAt,
    read_seq: readSeq,
    room_seq: readSeq,
    last_activity: joinedAt,
    last_read_message_id: null,
    last_read_at: null,
    is_archived: false,
    archived_at: null,
    is_muted: false,
    muted_until: null,
  };
  return state;
}

export function memberToItem(state: MemberState): Item {
  return {
    ...memberKey(state.user_id, state.room_id),
    entity: 'member',
    ...state,
    gsi1pk: listPartition(state.user_id, state.is_archived),
    gsi1sk: activitySortKey(state.last_activity, state.room_id),
  };
}

export function memberFromItem(item: Item): MemberState {
  return {
    user_id: item.user_id as string,
    room_id: item.room_id as string,
    joined_at: item.joined_at as string,
    read_seq: Number(item.read_seq ?? 0),
    room_seq: Number(item.room_seq ?? 0),
    last_activity: item.last_activity as string,
    last_read_message_id: (item.last_read_message_id as string | null | undefined) ?? null,
    last_read_at: (item.last_read_at as string | null | undefined) ?? null,
    is_archived: item.is_archived === true,
    archived_at: (item.archived_at as string | null | undefined) ?? null,
    is_muted: item.is_muted === true,
    muted_until: (item.muted_until as string | null | undefined) ?? null,
  };
}

export async function getMember(userId: string, roomId: string): Promise<MemberState | undefined> {
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: memberKey(userId, roomId),
      ConsistentRead: true,
    }),
  );
  return out.Item ? memberFromItem(out.Item) : undefined;
}

export async function getMembers(userId: string, roomIds: readonly string[]) {
  const items = await batchGet(roomIds.map((roomId) => memberKey(userId, roomId)));
  return new Map(items.map((item) => [item.room_id as string, memberFromItem(item)]));
}

/** One Query on gsi1: a page of the user's rooms, newest activity first. */
export async function listMemberRooms(
  userId: string,
  archived: boolean,
  limit: number,
  cursor: string | undefined,
): Promise<{ members: MemberState[]; nextCursor: string | null }> {
  const partition = listPartition(userId, archived);
  const out = await ddb().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, { gsi1pk: partition }),
    }),
  );
  return {
    members: (out.Items ?? []).map(memberFromItem),
    nextCursor: encodeCursor(out.LastEvaluatedKey),
  };
}

/**
 * Moves a member's view of the room forward to message `seq`. A max, not an
 * increment: it only applies when `seq` is newer than what the item holds, so a
 * replayed or reordered stream record changes nothing.
 */
export async function advanceRoomActivity(
  userId: string,
  roomId: string,
  seq: number,
  at: string,
): Promise<boolean> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: memberKey(userId, roomId),
        UpdateExpression: 'SET room_seq = :seq, last_activity = :at, gsi1sk = :sk',
        ConditionExpression: 'attribute_exists(pk) AND room_seq < :seq',
        ExpressionAttributeValues: { ':seq': seq, ':at': at, ':sk': activitySortKey(at, roomId) },
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

/**
 * Moves the read marker forward to `seq` (never back) and clears a manual
 * unread mark. Returns the member state after the write, or undefined when the
 * marker was already at or past `seq`.
 */
export async function markReadUpTo(
  userId: string,
  roomId: string,
  seq: number,
  messageId: string,
  at: string,
): Promise<MemberState | undefined> {
  try {
    const out = await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: memberKey(userId, roomId),
        UpdateExpression:
          'SET read_seq = :seq, last_read_message_id = :id, last_read_at = :at, manual_unread = :no',
        ConditionExpression: 'attribute_exists(pk) AND read_seq < :seq',
        ExpressionAttributeValues: { ':seq': seq, ':id': messageId, ':at': at, ':no': false },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes ? memberFromItem(out.Attributes) : undefined;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}

/** Archives or unarchives: the item moves between the inbox and archive lists. */
export async function setArchived(
  userId: string,
  roomId: string,
  archived: boolean,
  at: string,
): Promise<MemberState | undefined> {
  try {
    const out = await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: memberKey(userId, roomId),
        UpdateExpression: 'SET is_archived = :archived, archived_at = :at, gsi1pk = :list',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: {
          ':archived': archived,
          ':at': archived ? at : null,
          ':list': listPartition(userId, archived),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes ? memberFromItem(out.Attributes) : undefined;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}

/** Every room the user is in (all lists), paging through the user's partition. */
export async function listAllRoomIds(userId: string): Promise<string[]> {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':prefix': 'ROOM#' },
        ProjectionExpression: 'room_id',
        ExclusiveStartKey: start,
      }),
    );
    ids.push(...(out.Items ?? []).map((item) => item.room_id as string));
    start = out.LastEvaluatedKey;
  } while (start);
  return ids;
}
