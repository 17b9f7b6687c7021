import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { KeyRecord, KeyVerification } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import type { Key } from './batch.ts';
import { userPk } from './keys.ts';
import { queryAll } from './query.ts';

/**
 * The key directory, all in the owner's partition:
 * - pk USER#<user_id>, sk KEY#<device_id>#<key_id>: every key ever uploaded
 *   (history kept), with is_active;
 * - pk USER#<user_id>, sk KEYDEVICES: the set of devices with keys (the device cap)
 *   and, per device, the active key id;
 * - pk USER#<verifier>, sk VERIFIED#<owner>#<key_id>: a verification, holding the
 *   fingerprint it verified; it lapses when that key is no longer active.
 */

const KEY_PREFIX = 'KEY#';
const keyKey = (userId: string, deviceId: string, keyId: string): Key => ({
  pk: userPk(userId),
  sk: `${KEY_PREFIX}${deviceId}#${keyId}`,
});
const devicesKey = (userId: string): Key => ({ pk: userPk(userId), sk: 'KEYDEVICES' });
/** The sort keys of the verifier's verifications of one owner's keys begin with it. */
const verificationPrefix = (owner: string) => `VERIFIED#${owner}#`;
const verificationKey = (verifier: string, owner: string, keyId: string): Key => ({
  pk: userPk(verifier),
  sk: `${verificationPrefix(owner)}${keyId}`,
});

export type UploadOutcome = 'stored' | 'exists' | 'conflict';

export async function getKey(
  userId: string,
  deviceId: string,
  keyId: string,
): Promise<KeyRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({
      TableName: tableName(),
      Key: keyKey(userId, deviceId, keyId),
      ConsistentRead: true,
    }),
  );
  return out.Item as KeyRecord | undefined;
}

export async function getActiveKeyIds(userId: string): Promise<Record<string, string>> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: devicesKey(userId), ConsistentRead: true }),
  );
  return (out.Item?.active as Record<string, string> | undefined) ?? {};
}

/**
 * Stores a new key as the device's active one, in one transaction: the new key
 * item, the device's active pointer (conditioned on the previous one, so two
 * concurrent uploads cannot both win), the previous key deactivated, and the
 * device cap checked for a new device.
 */
export async function uploadKey(
  key: KeyRecord,
  previousKeyId: string | undefined,
  maxDevices: number,
): Promise<UploadOutcome> {
  const table = tableName();
  await ensureDevicesItem(key.user_id);
  const isNewDevice = previousKeyId === undefined;
  const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> =
    [
      {
        Put: {
          TableName: table,
          Item: { ...keyKey(key.user_id, key.device_id, key.key_id), entity: 'public-key', ...key },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: table,
          Key: devicesKey(key.user_id),
          UpdateExpression: isNewDevice
            ? 'SET active.#device = :key ADD device_count :one'
            : 'SET active.#device = :key',
          ConditionExpression: isNewDevice
            ? 'attribute_not_exists(active.#device) AND device_count < :max'
            : 'active.#device = :previous',
          ExpressionAttributeNames: { '#device': key.device_id },
          ExpressionAttributeValues: isNewDevice
            ? { ':key': key.key_id, ':one': 1, ':max': maxDevices }
            : { ':key': key.key_id, ':previous': previousKeyId },
        },
      },
    ];
  if (previousKeyId !== undefined) {
    items.push({
      Update: {
        TableName: table,
        Key: keyKey(key.user_id, key.device_id, previousKeyId),
        UpdateExpression: 'SET is_active = :no',
        ExpressionAttributeValues: { ':no': false },
      },
    });
  }
  try {
    await ddb().send(new TransactWriteCommand({ TransactItems: items }));
    return 'stored';
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) {
      throw new StoreError('Key upload failed', error);
    }
    const reasons = error.CancellationReasons ?? [];
    if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'exists';
    if (reasons[1]?.Code === 'ConditionalCheckFailed') return 'conflict';
    if (reasons.some((r) => r.Code === 'TransactionConflict')) return 'conflict';
    throw new StoreError('Key upload was cancelled', error);
  }
}

/** A nested map entry needs its parent: the devices item exists before any transaction uses it. */
async function ensureDevicesItem(userId: string) {
  await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: devicesKey(userId),
      UpdateExpression:
        'SET active = if_not_exists(active, :empty), device_count = if_not_exists(device_count, :zero), entity = :entity',
      ExpressionAttributeValues: { ':empty': {}, ':zero': 0, ':entity': 'key-devices' },
    }),
  );
}

/** Every key ever uploaded by the user (a user has few devices and few rotations). */
export async function listKeys(userId: string): Promise<KeyRecord[]> {
  return queryAll<KeyRecord>({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': userPk(userId), ':prefix': KEY_PREFIX },
  });
}

export async function putVerification(
  verifier: string,
  owner: string,
  keyId: string,
  fingerprint: string,
  at: string,
) {
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...verificationKey(verifier, owner, keyId),
        entity: 'key-verification',
        verifier_user_id: verifier,
        verified_user_id: owner,
        key_id: keyId,
        fingerprint,
        verified_at: at,
      },
    }),
  );
}

export async function listVerifications(
  verifier: string,
  owner: string,
): Promise<KeyVerification[]> {
  return queryAll<KeyVerification>({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': userPk(verifier), ':prefix': verificationPrefix(owner) },
  });
}
