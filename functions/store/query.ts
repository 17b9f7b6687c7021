import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item } from './batch.ts';

/** A Query as the store writes it: the table is implied, paging is the helpers' job. */
export type Query = Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>;

/**
 * One page of a Query: at most `Limit` items (and at most 1 MB, DynamoDB's page),
 * and the key to pass back for the next page (undefined: no more).
 */
export async function queryPage<T = Item>(
  query: Query,
  startKey?: Record<string, unknown>,
): Promise<{ items: T[]; next: Record<string, unknown> | undefined }> {
  const out = await ddb().send(
    new QueryCommand({ ...query, TableName: tableName(), ExclusiveStartKey: startKey }),
  );
  return { items: (out.Items ?? []) as T[], next: out.LastEvaluatedKey };
}

export interface Paging<T> {
  /** The `Limit` of the next page, from the items found so far (default: the query's own). */
  pageLimit?: (found: readonly T[]) => number;
  /** Stops before the next page once this holds, given everything found and the page just read. */
  until?: (found: readonly T[], page: readonly T[]) => boolean;
}

/**
 * Every item a Query matches, page after page (a page stops at 1 MB, whatever
 * the count), or those found up to the page where `paging.until` holds.
 */
export async function queryAll<T = Item>(query: Query, paging: Paging<T> = {}): Promise<T[]> {
  const items: T[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const limit = paging.pageLimit?.(items);
    const page = await queryPage<T>(
      limit === undefined ? query : { ...query, Limit: limit },
      start,
    );
    items.push(...page.items);
    if (paging.until?.(items, page.items)) break;
    start = page.next;
  } while (start);
  return items;
}

/**
 * One page of an index that projects little (gsi1 keeps keys and `user_id`),
 * with its items read whole: the Query, then one BatchGet, in the index's order.
 */
export async function queryPageWhole(
  query: Query,
  startKey?: Record<string, unknown>,
): Promise<{ items: Item[]; next: Record<string, unknown> | undefined }> {
  const page = await queryPage(query, startKey);
  const whole = await batchGet(page.items.map((i) => ({ pk: i.pk as string, sk: i.sk as string })));
  const byKey = new Map(whole.map((item) => [`${item.pk}\u0000${item.sk}`, item]));
  const items = page.items.flatMap((i): Item[] => {
    const item = byKey.get(`${i.pk}\u0000${i.sk}`);
    return item ? [item] : [];
  });
  return { items, next: page.next };
}
