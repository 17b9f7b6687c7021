import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import type { Key } from './batch.ts';

/**
 * Push state per user:
 * - pk USER#<user_id>, sk PUSH: when the last push went out. Claiming the slot is
 *   a conditional write, so one burst of messages (and any redelivery of them)
 *   yields one push;
 * - pk USER#<user_id>, sk DEVICE#<device_id>: registered push targets.
 */
const pushKey = (userId: string): Key => ({ pk: `USER#${userId}`, sk: 'PUSH' });
export const deviceKey = (userId: string, deviceId: string): Key => ({
  pk: `USER#${userId}`,
  sk: `DEVICE#${deviceId}`,
});

/** True when no push went to the user within the last `windowMs`: this caller sends it. */
export async function claimPushSlot(
  userId: string,
  now: number,
  windowMs: number,
): Promise<boolean> {
  try {
    await ddb().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: pushKey(userId),
        UpdateExpression: 'SET last_push_at = :now, entity = :entity',
        ConditionExpression: 'attribute_not_exists(last_push_at) OR last_push_at < :since',
        ExpressionAttributeValues: {
          ':now': now,
          ':since': now - windowMs,
          ':entity': 'push-state',
        },
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

export interface DeviceRecord {
  device_id: string;
  user_id: string;
  platform: 'apns' | 'fcm';
  token: string;
  endpoint_arn: string | null;
  created_at: string;
}

export async function putDevice(device: DeviceRecord): Promise<void> {
  await ddb().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...deviceKey(device.user_id, device.device_id), entity: 'device', ...device },
    }),
  );
}

export async function deleteDevice(
  userId: string,
  deviceId: string,
): Promise<DeviceRecord | undefined> {
  const out = await ddb().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: deviceKey(userId, deviceId),
      ReturnValues: 'ALL_OLD',
    }),
  );
  return out.Attributes as DeviceRecord | undefined;
}

export async function listDevices(userId: string): Promise<DeviceRecord[]> {
  const out = await ddb().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':prefix': 'DEVICE#' },
    }),
  );
  return (out.Items ?? []) as DeviceRecord[];
}
