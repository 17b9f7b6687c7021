import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { RoomRecord } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { roomPk } from './keys.ts';

/** Room META item: pk ROOM#<room_id>, sk META. Holds membership and admins; the sequence lives on the room head (room-head.ts), so a send never rewrites this item. */
export const roomKey = (roomId: string): Key => ({ pk: roomPk(roomId), sk: 'META' });

/** Uniqueness lock for the one direct room of a pair: pk DIRECT#<a>#<b> (sorted ids). */
export const directPairKey = (a: string, b: string): Key => {
  const [x, y] = [a, b].sort();
  return { pk: `DIRECT#${x}#${y}`, sk: 'DIRECT' };
};

export function roomToItem(room: RoomRecord): Item {
  // blocked_by is a string set the block writes (ADD/DELETE); a new room has none.
  const { blocked_by: _blockedBy, ...stored } = room;
  return { ...roomKey(room.id), entity: 'room', ...stored };
}

export function roomFromItem(item: Item): RoomRecord {
  return {
    id: item.id as string,
    type: item.type as RoomRecord['type'],
    name: (item.name as string | null | undefined) ?? null,
    created_by: item.created_by as string,
    created_at: item.created_at as string,
    updated_at: item.updated_at as string,
    members: (item.members as Record<string, string> | undefined) ?? {},
    admins: (item.admins as Record<string, string> | undefined) ?? {},
    cleared_seq: Number(item.cleared_seq ?? 0),
    cleared_at: (item.cleared_at as string | null | undefined) ?? null,
    ...(item.blocked_by instanceof Set && item.blocked_by.size > 0
      ? { blocked_by: [...(item.blocked_by as Set<string>)].sort() }
      : {}),
  };
}

export async function getRoom(roomId: string): Promise<RoomRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: roomKey(roomId), ConsistentRead: true }),
  );
  return out.Item ? roomFromItem(out.Item) : undefined;
}

export async function getRooms(roomIds: readonly string[]): Promise<Map<string, RoomRecord>> {
  const items = await batchGet(roomIds.map(roomKey));
  return new Map(items.map((item) => [item.id as string, roomFromItem(item)]));
}

export async function getDirectRoomId(a: string, b: string): Promise<string | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: directPairKey(a, b), ConsistentRead: true }),
  );
  return out.Item?.room_id as string | undefined;
}

export function directPairItem(a: string, b: string, roomId: string): Item {
  return { ...directPairKey(a, b), entity: 'direct-pair', room_id: roomId };
}

/**
 * Clear for everyone up to `seq`: readers hide messages at or below the marker at
 * once; the stream then raises members' markers and reclaims the storage.
 */
export async function clearRoomForEveryone(
  roomId: string,
  seq: number,
  at: string,
): Promise<boolean> {
  const done = await updateIf({
    Key: roomKey(roomId),
    UpdateExpression: 'SET cleared_seq = :seq, cleared_at = :at, updated_at = :at',
    ConditionExpression:
      'attribute_exists(pk) AND (attribute_not_exists(cleared_seq) OR cleared_seq < :seq)',
    ExpressionAttributeValues: { ':seq': seq, ':at': at },
  });
  return done !== undefined;
}
