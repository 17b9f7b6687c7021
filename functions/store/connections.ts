import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Key } from './batch.ts';

/**
 * A user's live WebSocket connections, one item per user: pk USER#<user_id>, sk
 * CONNS, with a map connection id → {connected_at, last_seen}. A fan-out reads
 * every member's map with BatchGet (100 users a call), never one call per member.
 */
export const connectionsKey = (userId: string): Key => ({ pk: `USER#${userId}`, sk: 'CONNS' });

/** API Gateway closes every WebSocket after 2 h; older entries are stale whatever the map says. */
export const CONNECTION_MAX_AGE_MS = 2 * 3600 * 1000;

export interface ConnectionInfo {
  connected_at: string;
  last_seen: string;
}

export async function addConnection(
  userId: string,
  connectionId: string,
  at: string,
): Promise<void> {
  const info: ConnectionInfo = { connected_at: at, last_seen: at };
  const ttl = Math.floor((Date.parse(at) + CONNECTION_MAX_AGE_MS) / 1000);
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: connectionsKey(userId),
        UpdateExpression: 'SET conns.#id = :info, #ttl = :ttl',
        ConditionExpression: 'attribute_exists(conns)',
        ExpressionAttributeNames: { '#id': connectionId, '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':info': info, ':ttl': ttl },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    // First connection: the map does not exist yet, and a nested SET needs its parent.
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: connectionsKey(userId),
        UpdateExpression: 'SET conns = if_not_exists(conns, :empty), entity = :entity, #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':empty': {}, ':entity': 'connections', ':ttl': ttl },
      }),
    );
    await addConnection(userId, connectionId, at);
  }
}

export async function removeConnection(userId: string, connectionId: string): Promise<void> {
  await ddb()
    .send(
      new UpdateCommand({
        TableName: tableName(),
        Key: connectionsKey(userId),
        UpdateExpression: 'REMOVE conns.#id',
        ConditionExpression: 'attribute_exists(conns)',
        ExpressionAttributeNames: { '#id': connectionId },
      }),
    )
    .catch((error: Error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
}

/** Live connection ids of each user, in one BatchGet per 100 users. */
export async function getConnections(userIds: readonly string[], now = Date.now()) {
  const items = await batchGet(userIds.map(connectionsKey));
  const byUser = new Map<string, string[]>();
  for (const item of items) {
    const userId = (item.pk as string).slice('USER#'.length);
    const conns = (item.conns as Record<string, ConnectionInfo> | undefined) ?? {};
    const live = Object.entries(conns)
      .filter(([, info]) => now - Date.parse(info.connected_at) < CONNECTION_MAX_AGE_MS)
      .map(([id]) => id);
    byUser.set(userId, live);
  }
  return byUser;
}
