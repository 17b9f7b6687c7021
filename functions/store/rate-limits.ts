import { updateIf } from './conditional.ts';

/**
 * Fixed-window counters: pk RATE#<user_id>#<bucket>, sk <window start>. One
 * conditional ADD per request; the item expires with its window (TTL).
 * Returns false when the window's limit is already used up.
 */
export async function takeToken(
  userId: string,
  bucket: string,
  windowSeconds: number,
  limit: number,
  now: number,
): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
  const windowStart = Math.floor(now / 1000 / windowSeconds) * windowSeconds;
  const retryAfterSeconds = Math.max(1, windowStart + windowSeconds - Math.floor(now / 1000));
  const taken = await updateIf({
    Key: { pk: `RATE#${userId}#${bucket}`, sk: String(windowStart) },
    UpdateExpression: 'ADD used :one SET #ttl = :ttl, entity = :entity',
    ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
    ExpressionAttributeNames: { '#ttl': 'ttl' },
    ExpressionAttributeValues: {
      ':one': 1,
      ':limit': limit,
      ':ttl': windowStart + windowSeconds * 2,
      ':entity': 'rate-limit',
    },
  });
  return { allowed: taken !== undefined, retryAfterSeconds };
}
