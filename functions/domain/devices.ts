import { createHash } from 'node:crypto';
import type { Caller } from '#platform/auth.ts';
import { notFound } from '#platform/errors.ts';
import { createDeviceEndpoint, deleteDeviceEndpoint } from '#platform/push.ts';
import { deleteDevice, putDevice } from '#store/push.ts';
import { nowIso } from './rooms.ts';

/** The same (platform, token) always names the same device, so registering again is harmless. */
const deviceIdOf = (userId: string, platform: string, token: string) =>
  createHash('sha256').update(`${userId}\n${platform}\n${token}`).digest('hex').slice(0, 32);

export async function registerDevice(caller: Caller, platform: 'apns' | 'fcm', token: string) {
  const device = {
    device_id: deviceIdOf(caller.userId, platform, token),
    user_id: caller.userId,
    platform,
    token,
    endpoint_arn: await createDeviceEndpoint(token, caller.userId),
    created_at: nowIso(),
  };
  await putDevice(device);
  return { device_id: device.device_id, platform, created_at: device.created_at };
}

export async function removeDevice(caller: Caller, deviceId: string) {
  const removed = await deleteDevice(caller.userId, deviceId);
  if (!removed) throw notFound('Device');
  if (removed.endpoint_arn) await deleteDeviceEndpoint(removed.endpoint_arn);
  return { device_id: deviceId };
}
