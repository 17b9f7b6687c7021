import { batchWrite, type Key } from './batch.ts';
import { roomPk } from './keys.ts';
import { messageSortKeysUpTo } from './messages.ts';
import { queryPage } from './query.ts';
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
      // Always the first page: the previous one was deleted.
      const { items: keys, next } = await queryPage<Key>({
        KeyConditionExpression: range.expr,
        ExpressionAttributeValues: { ':pk': roomPk(roomId), ...range.values },
        ProjectionExpression: 'pk, sk',
        Limit: 100,
      });
      // The room item itself is only ever deleted by its own transaction.
      const doomed = keys.filter((k) => k.sk !== 'META');
      if (doomed.length) await batchWrite(doomed.map((Key) => ({ DeleteRequest: { Key } })));
      pages++;
      if (!next) break;
      if (pages >= maxPages) return true;
    }
  }
  return false;
}
