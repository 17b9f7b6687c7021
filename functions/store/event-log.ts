import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { LoggedEvent } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { updateIf } from './conditional.ts';
import { roomPk, userPk } from './keys.ts';
import { queryPage } from './query.ts';
import { roomHeadKey } from './room-head.ts';

/**
 * The change log sync reads besides the messages themselves (which are their
 * own log). Events that are not messages are rare, so they are written once
 * where they happen, never once per recipient:
 * - room events, pk ROOM#<room_id> / sk EVT#<at>#<ulid>: what every member
 *   hears (a deletion, a clear for everyone, members added or removed, a key
 *   change); the room head's `last_event_at` tells sync which rooms to read;
 * - user events, pk USER#<user_id> / sk EVT#<at>#<ulid>: what only that user's
 *   devices hear (archive, their own clear, a room deleted or left, being
 *   removed from a room).
 * Both expire with the sync window (TTL).
 */

const PREFIX = 'EVT#';

async function put(pk: string, at: string, event: string, data: unknown, ttlSeconds: number) {
  const key = `${at}#${ulid()}`;
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk,
        sk: `${PREFIX}${key}`,
        entity: 'event',
        at,
        event,
        data,
        ttl: Math.floor(Date.parse(at) / 1000) + ttlSeconds,
      },
    }),
  );
}

export async function logRoomEvent(
  roomId: string,
  at: string,
  event: string,
  data: unknown,
  ttlSeconds: number,
): Promise<void> {
  await Promise.all([
    put(roomPk(roomId), at, event, data, ttlSeconds),
    updateIf({
      Key: roomHeadKey(roomId),
      UpdateExpression: 'SET last_event_at = :at, room_id = :room, entity = :entity',
      ConditionExpression: 'attribute_not_exists(last_event_at) OR last_event_at < :at',
      ExpressionAttributeValues: { ':at': at, ':room': roomId, ':entity': 'room-head' },
    }),
  ]);
}

export const logUserEvent = (
  userId: string,
  at: string,
  event: string,
  data: unknown,
  ttlSeconds: number,
) => put(userPk(userId), at, event, data, ttlSeconds);

/** Events after `afterKey`, oldest first, at most `limit`; expired ones (TTL lag) left out. */
async function eventsAfter(pk: string, afterKey: string, limit: number, now: number) {
  // One page: BETWEEN includes `afterKey` itself, hence one more than `limit`.
  const { items } = await queryPage({
    // Bounded above: the user's partition holds other items past EVT#.
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :after AND :end',
    FilterExpression: '#ttl > :now',
    ExpressionAttributeNames: { '#ttl': 'ttl' },
    ExpressionAttributeValues: {
      ':pk': pk,
      ':after': `${PREFIX}${afterKey}`,
      ':end': `${PREFIX}\uffff`,
      ':now': Math.floor(now / 1000),
    },
    Limit: limit + 1,
  });
  return items
    .filter((item) => item.sk !== `${PREFIX}${afterKey}`)
    .slice(0, limit)
    .map(
      (item): LoggedEvent => ({
        key: (item.sk as string).slice(PREFIX.length),
        at: item.at as string,
        event: item.event as string,
        data: item.data as Record<string, unknown>,
      }),
    );
}

export const roomEventsAfter = (roomId: string, afterKey: string, limit: number, now: number) =>
  eventsAfter(roomPk(roomId), afterKey, limit, now);
export const userEventsAfter = (userId: string, afterKey: string, limit: number, now: number) =>
  eventsAfter(userPk(userId), afterKey, limit, now);
