import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { MemberState } from '#domain/model.ts';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
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
    is_deleted: false,
    deleted_at: null,
    cleared_seq: readSeq,
    cleared_at: null,
    manual_unread: false,
    deleted_seqs: [],
  };
  return state;
}

export function memberToItem(state: MemberState): Item {
  // DynamoDB has no empty sets: an empty deleted_seqs is simply absent.
  const { deleted_seqs, ...rest } = state;
  return {
    ...memberKey(state.user_id, state.room_id),
    entity: 'member',
    ...rest,
    ...(deleted_seqs.length ? { deleted_seqs: new Set(deleted_seqs) } : {}),
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
    is_deleted: item.is_deleted === true,
    deleted_at: (item.deleted_at as string | null | undefined) ?? null,
    cleared_seq: Number(item.cleared_seq ?? 0),
    cleared_at: (item.cleared_at as string | null | undefined) ?? null,
    manual_unread: item.manual_unread === true,
    deleted_seqs: [...((item.deleted_seqs as Set<number> | undefined) ?? [])].map(Number),
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
export const advanceRoomActivity = (userId: string, roomId: string, seq: number, at: string) =>
  updateMember(
    userId,
    roomId,
    'SET room_seq = :seq, last_activity = :at, gsi1sk = :sk',
    { ':seq': seq, ':at': at, ':sk': activitySortKey(at, roomId) },
    'attribute_exists(pk) AND room_seq < :seq',
  );

/**
 * Moves the read marker forward to `seq` (never back) and clears a manual
 * unread mark. `stale` are deleted seqs now covered by the marker: they are
 * dropped from the set by value, so a concurrent deletion of a newer message is
 * never lost. Returns the state after the write, or undefined when the marker was
 * already at or past `seq`.
 */
export async function markReadUpTo(
  userId: string,
  roomId: string,
  seq: number,
  messageId: string | null,
  at: string,
  stale: readonly number[] = [],
): Promise<MemberState | undefined> {
  return updateMember(
    userId,
    roomId,
    `SET read_seq = :seq, last_read_message_id = :id, last_read_at = :at, manual_unread = :no${stale.length ? ' DELETE deleted_seqs :stale' : ''}`,
    {
      ':seq': seq,
      ':id': messageId,
      ':at': at,
      ':no': false,
      ...(stale.length ? { ':stale': new Set(stale) } : {}),
    },
    'attribute_exists(pk) AND read_seq < :seq',
  );
}

/** Sets fields on an existing member item; returns the new state (undefined: no such member). */
async function updateMember(
  userId: string,
  roomId: string,
  expression: string,
  values: Record<string, unknown>,
  condition = 'attribute_exists(pk)',
): Promise<MemberState | undefined> {
  const attributes = await updateIf({
    Key: memberKey(userId, roomId),
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
    ReturnValues: 'ALL_NEW',
  });
  return attributes ? memberFromItem(attributes) : undefined;
}

/** Read with nothing new to read: only the manual unread mark goes. */
export const clearManualUnread = (userId: string, roomId: string, at: string) =>
  updateMember(userId, roomId, 'SET manual_unread = :no, last_read_at = :at', {
    ':no': false,
    ':at': at,
  });

/** Manual "unread": the count shows at least 1 until the room is read. */
export const markUnread = (userId: string, roomId: string) =>
  updateMember(userId, roomId, 'SET manual_unread = :yes', { ':yes': true });

export const setMute = (userId: string, roomId: string, muted: boolean, until: string | null) =>
  updateMember(userId, roomId, 'SET is_muted = :muted, muted_until = :until', {
    ':muted': muted,
    ':until': muted ? until : null,
  });

/** Clear for me: messages up to `seq` disappear for this user and stop counting as unread. */
export const clearForMember = (userId: string, roomId: string, seq: number, at: string) =>
  updateMember(userId, roomId, 'SET cleared_seq = :seq, cleared_at = :at, manual_unread = :no', {
    ':seq': seq,
    ':at': at,
    ':no': false,
  });

/**
 * Hides a direct room for this user and clears their history as of `seq`. With
 * no gsi1 keys the item is in none of the user's lists.
 */
export const hideRoom = (userId: string, roomId: string, seq: number, at: string) =>
  updateMember(
    userId,
    roomId,
    'SET is_deleted = :yes, deleted_at = :at, cleared_seq = :seq, cleared_at = :at, manual_unread = :no REMOVE gsi1pk',
    { ':yes': true, ':at': at, ':seq': seq, ':no': false },
  );

/** Brings a hidden room back into the user's list it belongs to. */
export function restoreHiddenRoom(state: MemberState) {
  return updateMember(
    state.user_id,
    state.room_id,
    'SET is_deleted = :no, gsi1pk = :list REMOVE deleted_at',
    { ':no': false, ':yes': true, ':list': listPartition(state.user_id, state.is_archived) },
    'attribute_exists(pk) AND is_deleted = :yes',
  );
}

/** A message from someone else was deleted: remember its seq if it is still unread. */
export const addDeletedSeq = (userId: string, roomId: string, seq: number) =>
  updateMember(
    userId,
    roomId,
    'ADD deleted_seqs :seqs',
    { ':seqs': new Set([seq]), ':seq': seq },
    'attribute_exists(pk) AND read_seq < :seq AND cleared_seq < :seq',
  );

/** Clear for everyone reached this member: their clear marker rises to `seq` (a max). */
export const raiseClearMarker = (userId: string, roomId: string, seq: number, at: string) =>
  updateMember(
    userId,
    roomId,
    'SET cleared_seq = :seq, cleared_at = :at',
    { ':seq': seq, ':at': at },
    'attribute_exists(pk) AND cleared_seq < :seq',
  );

/** Archives or unarchives: the item moves between the inbox and archive lists. */
export async function setArchived(
  userId: string,
  roomId: string,
  archived: boolean,
  at: string,
): Promise<MemberState | undefined> {
  return updateMember(
    userId,
    roomId,
    'SET is_archived = :archived, archived_at = :at, gsi1pk = :list',
    {
      ':archived': archived,
      ':at': archived ? at : null,
      ':list': listPartition(userId, archived),
    },
  );
}

/**
 * Every member item of the user (every list, hidden ones too): one Query per
 * 1 MB page of the user's own partition, whatever the number of messages.
 */
export async function listAllMembers(userId: string): Promise<MemberState[]> {
  const members: MemberState[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':prefix': 'ROOM#' },
        ExclusiveStartKey: start,
      }),
    );
    members.push(...(out.Items ?? []).map(memberFromItem));
    start = out.LastEvaluatedKey;
  } while (start);
  return members;
}
