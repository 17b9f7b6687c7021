import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { MemberState } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { ROOM_PREFIX, roomPk, userPk } from './keys.ts';
import { queryAll } from './query.ts';

/**
 * Member item: pk USER#<user_id>, sk ROOM#<room_id>. One per (user, room): the
 * user's read and clear markers and preferences. Nothing here changes when
 * someone sends a message: room lists and unread counts combine these items with
 * the rooms' heads when they are read.
 */
export const memberKey = (userId: string, roomId: string): Key => ({
  pk: userPk(userId),
  sk: roomPk(roomId),
});

export function memberToItem(state: MemberState): Item {
  return { ...memberKey(state.user_id, state.room_id), entity: 'member', ...state };
}

export function memberFromItem(item: Item): MemberState {
  return {
    user_id: item.user_id as string,
    room_id: item.room_id as string,
    joined_at: item.joined_at as string,
    read_seq: Number(item.read_seq ?? 0),
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
    manual_unread_seq: Number(item.manual_unread_seq ?? 0),
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

/** Several users' member items of one room (eventually consistent; absent ones are left out). */
export async function getRoomMemberStates(roomId: string, userIds: readonly string[]) {
  const items = await batchGet(userIds.map((userId) => memberKey(userId, roomId)));
  return new Map(items.map((item) => [item.user_id as string, memberFromItem(item)]));
}

/**
 * Moves the read marker forward to `seq` (never back) and clears a manual
 * unread mark. Returns the state after the write, or undefined when the marker
 * was already at or past `seq`.
 */
export async function markReadUpTo(
  userId: string,
  roomId: string,
  seq: number,
  messageId: string | null,
  at: string,
): Promise<MemberState | undefined> {
  return updateMember(
    userId,
    roomId,
    'SET read_seq = :seq, last_read_message_id = :id, last_read_at = :at, manual_unread = :no',
    { ':seq': seq, ':id': messageId, ':at': at, ':no': false },
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

/**
 * Manual "unread": the count shows at least 1 until the room is read, or the
 * user sends past `seq` (the room's seq now).
 */
export const markUnread = (userId: string, roomId: string, seq: number) =>
  updateMember(userId, roomId, 'SET manual_unread = :yes, manual_unread_seq = :seq', {
    ':yes': true,
    ':seq': seq,
  });

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
 * Hides a direct room for this user and clears their history as of `seq`; a
 * message newer than `seq` brings it back (unread.ts `isHidden`).
 */
export const hideRoom = (userId: string, roomId: string, seq: number, at: string) =>
  updateMember(
    userId,
    roomId,
    'SET is_deleted = :yes, deleted_at = :at, cleared_seq = :seq, cleared_at = :at, manual_unread = :no',
    { ':yes': true, ':at': at, ':seq': seq, ':no': false },
  );

/** Brings a hidden room back (asking for the direct room again). */
export const restoreHiddenRoom = (state: MemberState) =>
  updateMember(state.user_id, state.room_id, 'SET is_deleted = :no REMOVE deleted_at', {
    ':no': false,
  });

/** Archives or unarchives (room lists filter on it). */
export async function setArchived(
  userId: string,
  roomId: string,
  archived: boolean,
  at: string,
): Promise<MemberState | undefined> {
  return updateMember(userId, roomId, 'SET is_archived = :archived, archived_at = :at', {
    ':archived': archived,
    ':at': archived ? at : null,
  });
}

/**
 * Every member item of the user (every list, hidden ones too): one Query per
 * 1 MB page of the user's own partition, whatever the number of messages.
 */
export async function listAllMembers(userId: string): Promise<MemberState[]> {
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': userPk(userId), ':prefix': ROOM_PREFIX },
  });
  return items.map(memberFromItem);
}
