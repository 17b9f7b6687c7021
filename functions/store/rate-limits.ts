import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import type { Key } from './batch.ts';

/**
 * Rate-limit state: one small item per user, pk RATE#<user_id> / sk RATE, one
 * number attribute per bucket (its GCRA theoretical arrival time, epoch ms).
 * Keeping a user's buckets on one item lets a check that draws on two buckets
 * (a WebSocket send: `frames` and `send`) be one conditional UpdateItem, all or
 * nothing, and the item stays far under 1 KB: one write unit per check. Every
 * write sets the TTL past the longest bucket's horizon, so the item disappears
 * once every bucket is full again.
 */
const rateKey = (userId: string): Key => ({ pk: `RATE#${userId}`, sk: 'RATE' });

/**
 * One bucket's part of a check:
 * - `fresh`: the bucket was full (TAT absent or at/before `now`): set it to `tat`;
 * - `queue`: it was not: add `add` to the stored TAT, if now < TAT <= `maxTat`.
 */
export type BucketWrite =
  | { bucket: string; kind: 'fresh'; now: number; tat: number }
  | { bucket: string; kind: 'queue'; now: number; add: number; maxTat: number };

export type ChargeOutcome =
  /** Every condition held: the buckets' new TATs. */
  | { charged: true; tats: Record<string, number>; capacityUnits: number }
  /** A condition failed: nothing was written; the TATs as they were (absent: never used). */
  | { charged: false; tats: Record<string, number | undefined>; capacityUnits: number };

const isConditionFailure = (error: unknown) =>
  (error as Error).name === 'ConditionalCheckFailedException';

/** Draws on all `writes` in one conditional UpdateItem. */
export async function chargeRateBuckets(
  userId: string,
  writes: readonly BucketWrite[],
  ttlSeconds: number,
): Promise<ChargeOutcome> {
  const names: Record<string, string> = { '#ttl': 'ttl' };
  const values: Record<string, unknown> = { ':ttl': ttlSeconds, ':entity': 'rate-limit' };
  const sets = ['#ttl = :ttl', 'entity = :entity'];
  const conditions: string[] = [];
  writes.forEach((w, i) => {
    const b = `#b${i}`;
    names[b] = w.bucket;
    values[`:now${i}`] = w.now;
    if (w.kind === 'fresh') {
      values[`:tat${i}`] = w.tat;
      sets.push(`${b} = :tat${i}`);
      conditions.push(`(attribute_not_exists(${b}) OR ${b} <= :now${i})`);
    } else {
      values[`:add${i}`] = w.add;
      values[`:max${i}`] = w.maxTat;
      sets.push(`${b} = ${b} + :add${i}`);
      conditions.push(`(${b} > :now${i} AND ${b} <= :max${i})`);
    }
  });
  const tatsOf = (item: Record<string, unknown> | undefined) =>
    Object.fromEntries(
      writes.map((w) => {
        const value = item?.[w.bucket];
        return [w.bucket, typeof value === 'number' ? value : undefined];
      }),
    );
  try {
    const out = await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rateKey(userId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    const tats = tatsOf(out?.Attributes) as Record<string, number>;
    return { charged: true, tats, capacityUnits: out?.ConsumedCapacity?.CapacityUnits ?? 0 };
  } catch (error) {
    if (!isConditionFailure(error)) throw new StoreError('Rate-limit charge failed', error);
    // The low-level exception carries the item in DynamoDB's wire format.
    const raw = (error as { Item?: Record<string, AttributeValue> }).Item;
    // A failed conditional write is billed like the write (1 unit for this small item).
    return { charged: false, tats: tatsOf(raw ? unmarshall(raw) : undefined), capacityUnits: 1 };
  }
}
