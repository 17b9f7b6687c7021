import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { batchWrite, type Key } from './batch.ts';
import { roomPk } from './keys.ts';
import { messageSortKeysUpTo } from './messages.ts';
import { seenSortKeysUpTo } from './seen.ts';

/**
 * Reclaims a room's storage in the background: every item under ROOM#<room_id>
 * (messages and seen receipts), or only messages and receipts up to `upToSeq`
 * after a clear for everyone. Works in bounded pages; returns true when more is
 * left, so the caller can continue in a fresh invocation.
 */
export async function purgeRoomItems(
  roomId: string,
  upToSeq: number | null,
  maxPages = 20,
): Promise<boolean> {
  const between = ({ from, to }: { from: string; to: string }) => ({
    expr: 'pk = :pk AND sk BETWEEN :from AND :to',
    values: { ':from': from, ':to': to },
  });
  const ranges =
    upToSeq === null
      ? [{ expr: 'pk = :pk', values: {} }]
      : [between(messageSortKeysUpTo(upToSeq)), between(seenSortKeysUpTo(upToSeq))];
  let pages = 0;
  for (const range of ranges) {
    for (;;) {
      const out = await ddb().send(
        new QueryCommand({
          TableName: tableName(),
          KeyConditionExpression: range.expr,
          ExpressionAttributeValues: { ':pk': roomPk(roomId), ...range.values },
          ProjectionExpression: 'pk, sk',
          Limit: 100,
        }),
      );
      const keys = (out.Items ?? []) as Key[];
      // The room item itself is only ever deleted by its own transaction.
      const doomed = keys.filter((k) => k.sk !== 'META');
      if (doomed.length) await batchWrite(doomed.map((Key) => ({ DeleteRequest: { Key } })));
      pages++;
      if (!out.LastEvaluatedKey) break;
      if (pages >= maxPages) return true;
    }
  }
  return false;
}
