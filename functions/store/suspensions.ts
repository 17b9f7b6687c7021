import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SuspensionRecord } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import type { Key } from './batch.ts';
import { userPk } from './keys.ts';

/**
 * Suspensions (docs/table-design.md): pk USER#<user_id> / sk SUSPENSION, one
 * small item per suspended user. A suspension with an end also expires by TTL a
 * day after it (readers compare `until` themselves, since TTL deletes late).
 * Erasing an account leaves it: a suspension outlives the account it judged.
 */
const suspensionKey = (userId: string): Key => ({ pk: userPk(userId), sk: 'SUSPENSION' });
const DAY_SECONDS = 86_400;

export async function putSuspension(suspension: SuspensionRecord): Promise<void> {
  const ttl = suspension.until
    ? { ttl: Math.ceil(Date.parse(suspension.until) / 1000) + DAY_SECONDS }
    : {};
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...suspensionKey(suspension.user_id), entity: 'suspension', ...suspension, ...ttl },
    }),
  );
}

/** Removes the user's suspension; the one removed, if there was one. */
export async function deleteSuspension(userId: string): Promise<SuspensionRecord | undefined> {
  const out = await ddb().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: suspensionKey(userId),
      ReturnValues: 'ALL_OLD',
    }),
  );
  return out.Attributes ? suspensionFromItem(out.Attributes) : undefined;
}

/** The user's suspension item, whether or not it has ended. `consistent`: read after any write. */
export async function getSuspension(
  userId: string,
  consistent = false,
): Promise<SuspensionRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: suspensionKey(userId),
      ...(consistent ? { ConsistentRead: true } : {}),
    }),
  );
  return out.Item ? suspensionFromItem(out.Item) : undefined;
}

function suspensionFromItem(item: Record<string, unknown>): SuspensionRecord {
  return {
    user_id: item.user_id as string,
    reason: item.reason as string,
    until: (item.until as string | null | undefined) ?? null,
    suspended_by: item.suspended_by as string,
    suspended_at: item.suspended_at as string,
  };
}
