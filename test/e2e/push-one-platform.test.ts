import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localApplicationArn } from '#local/push-platform.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * A stage with a platform application for Android only (FCM): an iPhone still
 * registers, is stored and can be removed, but gets no endpoint and no push,
 * while the same user's Android phone is pushed as usual. (Both platforms
 * configured: push.test.ts.)
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack({ pushApplications: ['fcm'] });
});
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('push on a stage with no APNs application', () => {
  it('stores an iPhone and never pushes it; pushes the Android phone of the same user', async () => {
    const [pia, quin] = await Promise.all([env.client('po_pia'), env.client('po_quin')]);
    const iphone = await quin.http<{ device_id: string; platform: string }>(
      'POST',
      '/api/chat/devices',
      { platform: 'apns', token: 'iphone-of-quin-0001' },
    );
    expect(iphone.status).toBe(201);
    expect(iphone.body.data.platform).toBe('apns');
    const android = await quin.http('POST', '/api/chat/devices', {
      platform: 'fcm',
      token: 'android-of-quin-0001',
    });
    expect(android.status).toBe(201);
    // No endpoint was made for the iPhone, under any application.
    const tokens = [...env.stack.aws.push.endpoints.values()].map((e) => e.token);
    expect(tokens).toContain('android-of-quin-0001');
    expect(tokens).not.toContain('iphone-of-quin-0001');

    const room = await pia.http<{ id: string }>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'one platform',
      member_ids: ['po_quin'],
    });
    expect(room.status).toBe(201);
    await pia.http('POST', `/api/chat/rooms/${room.body.data.id}/messages`, {
      content: 'android only',
    });
    await eventually(async () =>
      expect(env.stack.aws.push.pushes('po_quin').length).toBeGreaterThan(0),
    );
    await sleep(300);
    const pushes = env.stack.aws.push.pushes('po_quin');
    expect(pushes.map((p) => [p.token, p.application_arn])).toEqual([
      ['android-of-quin-0001', localApplicationArn('fcm')],
    ]);
    // Stored all along: removing it finds it (an unknown device is 404).
    expect(
      (await quin.http('DELETE', `/api/chat/devices/${iphone.body.data.device_id}`)).status,
    ).toBe(200);
  });
});
