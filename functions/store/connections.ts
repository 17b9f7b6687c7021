import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';

/**
 * Connections are kept twice, each copy for one access pattern:
 * - per user, pk USER#<user_id> / sk CONNS: a map connection id → connected_at.
 *   A fan-out reads every member's map with BatchGet (100 users a call);
 * - per connection, pk CONN#<connection_id> / sk CONN: owner and last_seen, with
 *   gsi1 keys CONNSWEEP#<shard> / <last_seen>, so the sweeper finds connections
 *   that stopped sending heartbeats with a Query, not a Scan.
 * Both expire with API Gateway's 2 h connection limit (TTL, and readers filter).
 */
export const connectionsKey = (userId: string): Key => ({ pk: `USER#${userId}`, sk: 'CONNS' });
export const connectionKey = (connectionId: string): Key => ({
  pk: `CONN#${connectionId}`,
  sk: 'CONN',
});

export const CONNECTION_MAX_AGE_MS = 2 * 3600 * 1000;
const SWEEP_SHARDS = 4;

/** Spreads the sweep index over a few partitions so no single one runs hot. */
function sweepShard(connectionId: string): string {
  let hash = 0;
  for (const ch of connectionId) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `CONNSWEEP#${hash % SWEEP_SHARDS}`;
}

export interface ConnectionRecord {
  connection_id: string;
  user_id: string;
  name: string;
  connected_at: string;
  last_seen: string;
}

const ttlFor = (connectedAt: string) =>
  Math.floor((Date.parse(connectedAt) + CONNECTION_MAX_AGE_MS) / 1000);

export async function addConnection(conn: ConnectionRecord): Promise<void> {
  await Promise.all([
    ddb().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...connectionKey(conn.connection_id),
          entity: 'connection',
          ...conn,
          gsi1pk: sweepShard(conn.connection_id),
          gsi1sk: conn.last_seen,
          ttl: ttlFor(conn.connected_at),
        },
      }),
    ),
    addToUserMap(conn.user_id, conn.connection_id, conn.connected_at),
  ]);
}

async function addToUserMap(userId: string, connectionId: string, at: string): Promise<void> {
  const added = await updateIf({
    Key: connectionsKey(userId),
    UpdateExpression: 'SET conns.#id = :at, #ttl = :ttl',
    ConditionExpression: 'attribute_exists(conns)',
    ExpressionAttributeNames: { '#id': connectionId, '#ttl': 'ttl' },
    ExpressionAttributeValues: { ':at': at, ':ttl': ttlFor(at) },
  });
  if (added) return;
  // First connection: a nested SET needs its parent map, so create the map first.
  await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: connectionsKey(userId),
      UpdateExpression: 'SET conns = if_not_exists(conns, :empty), entity = :entity',
      ExpressionAttributeValues: { ':empty': {}, ':entity': 'connections' },
    }),
  );
  await addToUserMap(userId, connectionId, at);
}

/** Removes a connection from both places; returns the user's remaining live connections. */
export async function removeConnection(userId: string, connectionId: string): Promise<string[]> {
  const [after] = await Promise.all([
    updateIf({
      Key: connectionsKey(userId),
      UpdateExpression: 'REMOVE conns.#id',
      ConditionExpression: 'attribute_exists(conns)',
      ExpressionAttributeNames: { '#id': connectionId },
      ReturnValues: 'ALL_NEW',
    }),
    ddb().send(new DeleteCommand({ TableName: tableName(), Key: connectionKey(connectionId) })),
  ]);
  return liveIds(after?.conns as Record<string, string> | undefined, Date.now());
}

function liveIds(conns: Record<string, string> | undefined, now: number): string[] {
  return Object.entries(conns ?? {})
    .filter(([, connectedAt]) => now - Date.parse(connectedAt) < CONNECTION_MAX_AGE_MS)
    .map(([id]) => id);
}

export interface LiveConnection {
  id: string;
  connected_at: string;
}

/** Live connections of each user, in one BatchGet per 100 users. */
export async function getConnections(userIds: readonly string[], now = Date.now()) {
  const items = await batchGet(userIds.map(connectionsKey));
  const byUser = new Map<string, LiveConnection[]>();
  for (const item of items) {
    const userId = (item.pk as string).slice('USER#'.length);
    const conns = (item.conns as Record<string, string> | undefined) ?? {};
    const live = Object.entries(conns)
      .filter(([, connectedAt]) => now - Date.parse(connectedAt) < CONNECTION_MAX_AGE_MS)
      .map(([id, connected_at]) => ({ id, connected_at }));
    byUser.set(userId, live);
  }
  return byUser;
}

export async function getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: connectionKey(connectionId) }),
  );
  return out.Item as ConnectionRecord | undefined;
}

/** Heartbeat: refreshes last_seen (and the sweep key). A no-op for a connection already removed. */
export async function touchConnection(connectionId: string, at: string): Promise<void> {
  await updateIf({
    Key: connectionKey(connectionId),
    UpdateExpression: 'SET last_seen = :at, gsi1sk = :at',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':at': at },
  });
}

/** Connections whose last heartbeat is older than `cutoff`, across all sweep shards. */
export async function findSilentConnections(cutoff: string): Promise<ConnectionRecord[]> {
  const shards = Array.from({ length: SWEEP_SHARDS }, (_, i) => `CONNSWEEP#${i}`);
  const pages = await Promise.all(
    shards.map(async (shard) => {
      const found: ConnectionRecord[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await ddb().send(
          new QueryCommand({
            TableName: tableName(),
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :shard AND gsi1sk < :cutoff',
            ExpressionAttributeValues: { ':shard': shard, ':cutoff': cutoff },
            ExclusiveStartKey: start,
          }),
        );
        found.push(...((out.Items ?? []) as ConnectionRecord[]));
        start = out.LastEvaluatedKey;
      } while (start);
      return found;
    }),
  );
  return pages.flat();
}
