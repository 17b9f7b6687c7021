import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PresenceRecord } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import type { Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { shardOf } from './connections.ts';
import { userPk } from './keys.ts';
import { queryPage } from './query.ts';

/**
 * Presence item: pk USER#<user_id>, sk PRESENCE, with status and last_seen.
 * While an offline transition is pending it carries gsi1 keys
 * PRESENCE_DUE#<shard> / <offline_due_at>, so the sweeper finds users due to go
 * offline with a Query per shard (spread so no one index partition runs hot).
 */
export const presenceKey = (userId: string): Key => ({ pk: userPk(userId), sk: 'PRESENCE' });
export const DUE_SHARDS = 8;
const duePartition = (shard: number) => `PRESENCE_DUE#${shard}`;
const duePartitionOf = (userId: string) => duePartition(shardOf(userId, DUE_SHARDS));

/** Marks the user online and cancels any pending offline; returns the previous status. */
export async function markOnline(
  userId: string,
  at: string,
): Promise<'online' | 'offline' | undefined> {
  const out = await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: presenceKey(userId),
      UpdateExpression:
        'SET #status = :online, last_seen = :at, user_id = :user, entity = :entity REMOVE offline_due_at, gsi1pk, gsi1sk',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':online': 'online',
        ':at': at,
        ':user': userId,
        ':entity': 'presence',
      },
      ReturnValues: 'UPDATED_OLD',
    }),
  );
  return out.Attributes?.status as 'online' | 'offline' | undefined;
}

/** Starts the grace period: the user goes offline at `dueAt` unless they reconnect. */
export async function scheduleOffline(
  userId: string,
  dueAt: string,
  lastSeen: string,
): Promise<boolean> {
  const done = await updateIf({
    Key: presenceKey(userId),
    UpdateExpression: 'SET offline_due_at = :due, gsi1pk = :pk, gsi1sk = :due, last_seen = :seen',
    ConditionExpression: '#status = :online',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':due': dueAt,
      ':pk': duePartitionOf(userId),
      ':online': 'online',
      ':seen': lastSeen,
    },
  });
  return done !== undefined;
}

/**
 * Completes the transition if it is still the one scheduled for `dueAt` (a
 * reconnect removed it; a later disconnect replaced it). Returns the record when
 * this call made the user offline, so exactly one caller broadcasts.
 */
export async function completeOffline(
  userId: string,
  dueAt: string,
): Promise<PresenceRecord | undefined> {
  const after = await updateIf({
    Key: presenceKey(userId),
    UpdateExpression: 'SET #status = :offline REMOVE offline_due_at, gsi1pk, gsi1sk',
    ConditionExpression: 'offline_due_at = :due AND #status = :online',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':offline': 'offline', ':online': 'online', ':due': dueAt },
    ReturnValues: 'ALL_NEW',
  });
  return after as PresenceRecord | undefined;
}

export async function getPresence(userId: string): Promise<PresenceRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: presenceKey(userId), ConsistentRead: true }),
  );
  return out.Item as PresenceRecord | undefined;
}

/** Users of one shard whose grace period has ended, oldest first. */
export async function findDueOffline(
  shard: number,
  now: string,
  limit = 500,
): Promise<PresenceRecord[]> {
  const { items } = await queryPage({
    IndexName: 'gsi1',
    KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :now',
    ExpressionAttributeValues: { ':pk': duePartition(shard), ':now': now },
    Limit: limit,
  });
  // The index holds the keys and the owner: the due time is its sort key.
  return items.map((item) => ({
    user_id: item.user_id as string,
    status: 'online' as const,
    last_seen: item.gsi1sk as string,
    offline_due_at: item.gsi1sk as string,
  }));
}
