import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRecord, LiveConnection } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { userIdOfPk, userPk } from './keys.ts';
import { queryAll } from './query.ts';

/**
 * Connections are kept twice, each copy for one access pattern:
 * - per user, pk USER#<user_id> / sk CONNS: a map connection id → connected_at.
 *   A fan-out reads every member's map with BatchGet (100 users a call);
 * - per connection, pk CONN#<connection_id> / sk CONN: the owner, with gsi1 keys
 *   CONNS#<shard> / <connected_at>, so the sweeper lists connections with a
 *   Query, not a Scan. Written once at $connect: heartbeats write nothing (API
 *   Gateway answers `ping` itself; the sweeper asks it for each connection's
 *   last activity), and the keys never move, so no index partition runs hot.
 * Both expire with API Gateway's 2 h connection limit (TTL, and readers filter).
 */
export const connectionsKey = (userId: string): Key => ({ pk: userPk(userId), sk: 'CONNS' });
const CONNECTION_PREFIX = 'CONN#';
export const connectionKey = (connectionId: string): Key => ({
  pk: `${CONNECTION_PREFIX}${connectionId}`,
  sk: 'CONN',
});

export const CONNECTION_MAX_AGE_MS = 2 * 3600 * 1000;
/** Index partitions the connections are spread over (each takes a connect's one index write). */
export const SWEEP_SHARDS = 16;

/** A stable hash of an id into one of `shards` index partitions. */
export function shardOf(id: string, shards: number): number {
  let hash = 0;
  for (const ch of id) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % shards;
}

const sweepPartition = (shard: number) => `CONNS#${shard}`;
/**
 * The sweep index's sort key: when the connection opened and, after a `#`, when
 * its token expires. The sweeper reads both from the index itself, whose
 * projection (user_id only) then never has to change: CloudFormation cannot
 * change a deployed index's projection in place.
 */
const sweepSortKey = (conn: ConnectionRecord) =>
  conn.token_expires_at ? `${conn.connected_at}#${conn.token_expires_at}` : conn.connected_at;

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
          gsi1pk: sweepPartition(shardOf(conn.connection_id, SWEEP_SHARDS)),
          gsi1sk: sweepSortKey(conn),
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

/**
 * Live connections of each user, in one BatchGet per 100 users. `consistent`:
 * read after any write (closing a suspended user's sockets must see the newest).
 */
export async function getConnections(
  userIds: readonly string[],
  now = Date.now(),
  options: { consistent?: boolean } = {},
) {
  const items = await batchGet(userIds.map(connectionsKey), options);
  const byUser = new Map<string, LiveConnection[]>();
  for (const item of items) {
    const userId = userIdOfPk(item.pk as string);
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

function sweepTimes(sortKey: string): Pick<ConnectionRecord, 'connected_at' | 'token_expires_at'> {
  const [connected_at, token_expires_at] = sortKey.split('#');
  return token_expires_at
    ? { connected_at: connected_at!, token_expires_at }
    : { connected_at: connected_at! };
}

/** Every stored connection of one sweep shard (the index holds only the keys and the owner). */
export async function listShardConnections(
  shard: number,
): Promise<
  Pick<ConnectionRecord, 'connection_id' | 'user_id' | 'connected_at' | 'token_expires_at'>[]
> {
  const items = await queryAll({
    IndexName: 'gsi1',
    KeyConditionExpression: 'gsi1pk = :shard',
    ExpressionAttributeValues: { ':shard': sweepPartition(shard) },
  });
  return items.map((item) => ({
    connection_id: (item.pk as string).slice(CONNECTION_PREFIX.length),
    user_id: item.user_id as string,
    ...sweepTimes(item.gsi1sk as string),
  }));
}
