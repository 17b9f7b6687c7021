import { createHash } from 'node:crypto';
import type { Caller } from '#platform/auth.ts';
import { notFound } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import { createDeviceEndpoint, deleteDeviceEndpoint } from '#platform/push.ts';
import { nowIso } from '#platform/time.ts';
import { deleteDevice, listDevices, putDevice } from '#store/push.ts';

/** The same (platform, token) always names the same device, so registering again is harmless. */
const deviceIdOf = (userId: string, platform: string, token: string) =>
  createHash('sha256').update(`${userId}\n${platform}\n${token}`).digest('hex').slice(0, 32);

export async function registerDevice(caller: Caller, platform: 'apns' | 'fcm', token: string) {
  const device = {
    device_id: deviceIdOf(caller.userId, platform, token),
    user_id: caller.userId,
    platform,
    token,
    // Through the application of the device's own platform; none on this stage: stored, never pushed.
    endpoint_arn: await createDeviceEndpoint(platform, token, caller.userId),
    created_at: nowIso(),
  };
  await putDevice(device);
  await dropOldestDevices(caller.userId, device.device_id);
  return { device_id: device.device_id, platform, created_at: device.created_at };
}

/**
 * At most LIMITS.devicesPerUser push targets per user. Over it, the least
 * recently registered go (registering again refreshes a device): reinstalls
 * leave stale tokens the app can no longer name, so refusing the new device
 * would break push for good. Concurrent registrations each trim what they
 * see, so the count settles at the cap.
 */
async function dropOldestDevices(userId: string, keep: string) {
  const devices = await listDevices(userId);
  const excess = devices.length - LIMITS.devicesPerUser;
  if (excess <= 0) return;
  const oldest = devices
    .filter((d) => d.device_id !== keep)
    .sort(
      (a, b) => a.created_at.localeCompare(b.created_at) || a.device_id.localeCompare(b.device_id),
    )
    .slice(0, excess);
  for (const device of oldest) {
    const removed = await deleteDevice(userId, device.device_id);
    if (removed?.endpoint_arn) await deleteDeviceEndpoint(removed.endpoint_arn, userId);
  }
}

export async function removeDevice(caller: Caller, deviceId: string) {
  const removed = await deleteDevice(caller.userId, deviceId);
  if (!removed) throw notFound('Device');
  if (removed.endpoint_arn) await deleteDeviceEndpoint(removed.endpoint_arn, caller.userId);
  return { device_id: deviceId };
}
