import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceRecord } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import type { Key } from './batch.ts';
import { updateIf } from './conditional.ts';
import { userPk } from './keys.ts';
import { queryAll } from './query.ts';

/**
 * Push state per user:
 * - pk USER#<user_id>, sk PUSH: when the last push went out, for which message,
 *   and whether it was confirmed sent. Claiming the slot is a conditional write,
 *   so one burst of messages (and any redelivery of them) yields one push;
 * - pk USER#<user_id>, sk DEVICE#<device_id>: registered push targets.
 */
const DEVICE_PREFIX = 'DEVICE#';
const pushKey = (userId: string): Key => ({ pk: userPk(userId), sk: 'PUSH' });
export const deviceKey = (userId: string, deviceId: string): Key => ({
  pk: userPk(userId),
  sk: `${DEVICE_PREFIX}${deviceId}`,
});

/**
 * Claims the user's push slot for `messageId`. True when this message should
 * push now: no push went out within `windowMs`, or this same message claimed the
 * slot before and its push was never confirmed (the consumer crashed between
 * claiming and publishing, and SQS redelivered it).
 */
export async function claimPushSlot(
  userId: string,
  messageId: string,
  now: number,
  windowMs: number,
  claimant: string,
): Promise<boolean> {
  const claimed = await updateIf({
    Key: pushKey(userId),
    UpdateExpression:
      'SET last_push_at = :now, push_message_id = :id, push_sent = :no, push_claimant = :me, entity = :entity',
    // A claim unconfirmed for the same message is taken again only by the same
    // claimant (a redelivery of the queue message that crashed before pushing),
    // never by a second queue message for that message running beside it.
    ConditionExpression:
      'attribute_not_exists(last_push_at) OR last_push_at < :since OR (push_message_id = :id AND push_sent = :no AND push_claimant = :me)',
    ExpressionAttributeValues: {
      ':now': now,
      ':since': now - windowMs,
      ':id': messageId,
      ':no': false,
      ':me': claimant,
      ':entity': 'push-state',
    },
  });
  return claimed !== undefined;
}

/** The push for `messageId` went out: a redelivery of it must not push again. A newer burst may own the slot: then nothing changes. */
export async function confirmPushSent(userId: string, messageId: string): Promise<void> {
  await updateIf({
    Key: pushKey(userId),
    UpdateExpression: 'SET push_sent = :yes',
    ConditionExpression: 'push_message_id = :id',
    ExpressionAttributeValues: { ':yes': true, ':id': messageId },
  });
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
  return queryAll<DeviceRecord>({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': userPk(userId), ':prefix': DEVICE_PREFIX },
  });
}
