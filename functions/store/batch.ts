import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import { sleep } from '#platform/time.ts';

export type Key = { pk: string; sk: string };
export type Item = Record<string, unknown>;

export function chunk<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/**
 * BatchGet of any number of keys: chunks of 100 in parallel, and unprocessed keys
 * retried with backoff (DynamoDB returns them under throttling).
 */
export async function batchGet(
  keys: readonly Key[],
  options: { consistent?: boolean } = {},
): Promise<Item[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  const pages = await Promise.all(
    chunk(unique, 100).map((part) => batchGetChunk(part, options.consistent === true)),
  );
  return pages.flat();
}

async function batchGetChunk(keys: Key[], consistent: boolean): Promise<Item[]> {
  const table = tableName();
  const found: Item[] = [];
  let pending: Key[] = keys;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
    if (attempt > 8) throw new StoreError('BatchGet kept returning unprocessed keys');
    const out = await ddb().send(
      new BatchGetCommand({
        RequestItems: {
          [table]: { Keys: pending, ...(consistent ? { ConsistentRead: true } : {}) },
        },
      }),
    );
    found.push(...((out.Responses?.[table] as Item[] | undefined) ?? []));
    pending = (out.UnprocessedKeys?.[table]?.Keys as Key[] | undefined) ?? [];
  }
  return found;
}

type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } };

/** BatchWrite of any number of requests: chunks of 25 in parallel, unprocessed ones retried. */
export async function batchWrite(requests: readonly WriteRequest[]): Promise<void> {
  const table = tableName();
  await Promise.all(
    chunk(requests, 25).map(async (part) => {
      let pending: WriteRequest[] = part;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) throw new StoreError('BatchWrite kept returning unprocessed items');
        if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
        const out = await ddb().send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
      }
    }),
  );
}
