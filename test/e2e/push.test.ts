import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localApplicationArn } from '#local/push-platform.ts';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Push goes only to the recipient's own SNS device endpoints (issue 11, hole 9):
 * never to a shared topic, never to an endpoint that now belongs to someone
 * else, and an encrypted message's push carries no ciphertext. The local stack
 * has a platform application per platform, APNs and FCM (local/push-platform.ts),
 * in front of fauxqs. (A stage without one: push-one-platform.test.ts.)
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything that reached the SNS emulator's topics: a shared topic must get nothing. */
const topicMessages = () =>
  env.stack.aws.messaging.server.spy.getAllMessages().filter((m) => m.service === 'sns');

async function group(owner: ChatClient, others: string[]) {
  const res = await owner.http<{ id: string }>('POST', '/api/chat/rooms', {
    type: 'group',
    name: 'push',
    member_ids: others,
  });
  expect(res.status).toBe(201);
  return res.body.data;
}

async function register(client: ChatClient, token: string, platform: 'apns' | 'fcm' = 'fcm') {
  const res = await client.http<{ device_id: string }>('POST', '/api/chat/devices', {
    platform,
    token,
  });
  expect(res.status).toBe(201);
  return res.body.data.device_id;
}

const pushText = (message: string) =>
  JSON.parse(JSON.parse(message).GCM as string).notification.body as string;
/** What an iPhone shows: the APNs payload's alert. */
const apnsText = (message: string) =>
  JSON.parse(JSON.parse(message).APNS as string).aps.alert.body as string;

describe('push', () => {
  it("reaches only the recipient's own endpoint, with the text, and no topic", async () => {
    const [amy, bea, cal] = await Promise.all([
      env.client('pu_amy', 'Amy'),
      env.client('pu_bea', 'Bea'),
      env.client('pu_cal', 'Cal'),
    ]);
    await register(bea, 'phone-of-bea-0001');
    await register(cal, 'phone-of-cal-0001');
    const room = await group(amy, ['pu_bea']);
    expect(
      (await amy.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'for bea only' }))
        .status,
    ).toBe(201);
    // (Routing is tested here; one push per burst is the offline consumer's test.)
    const pushes = await eventually(async () => {
      const found = env.stack.aws.push.pushes('pu_bea');
      expect(found.length).toBeGreaterThan(0);
      return found;
    });
    expect(pushes.map((p) => p.token)).toEqual(pushes.map(() => 'phone-of-bea-0001'));
    expect(pushText(pushes[0]!.message)).toBe('for bea only');
    // Cal, not in the room, got nothing; nothing went to any topic.
    const withText = env.stack.aws.push.pushes().filter((p) => p.message.includes('for bea only'));
    expect(withText.map((p) => p.token)).toEqual(pushes.map(() => 'phone-of-bea-0001'));
    expect(env.stack.aws.push.pushes('pu_cal')).toEqual([]);
    expect(topicMessages()).toEqual([]);
  });

  it('reaches an iPhone and an Android phone of the same user, each through its own application', async () => {
    const [ned, ola] = await Promise.all([env.client('pu_ned', 'Ned'), env.client('pu_ola')]);
    await register(ola, 'iphone-of-ola-0001', 'apns');
    await register(ola, 'android-of-ola-0001', 'fcm');
    const room = await group(ned, ['pu_ola']);
    const sent = await ned.http('POST', `/api/chat/rooms/${room.id}/messages`, {
      content: 'to both phones',
    });
    expect(sent.status).toBe(201);
    const pushes = await eventually(async () => {
      const found = env.stack.aws.push.pushes('pu_ola');
      expect(new Set(found.map((p) => p.token))).toEqual(
        new Set(['iphone-of-ola-0001', 'android-of-ola-0001']),
      );
      return found;
    });
    const byToken = Object.fromEntries(pushes.map((p) => [p.token, p]));
    expect(byToken['iphone-of-ola-0001']!.application_arn).toBe(localApplicationArn('apns'));
    expect(byToken['android-of-ola-0001']!.application_arn).toBe(localApplicationArn('fcm'));
    expect(apnsText(byToken['iphone-of-ola-0001']!.message)).toBe('to both phones');
    expect(pushText(byToken['android-of-ola-0001']!.message)).toBe('to both phones');
    expect(topicMessages()).toEqual([]);
  });

  it('sends nothing anywhere for a user with no device, and still delivers on reconnect', async () => {
    const [dan, eve] = await Promise.all([env.client('pu_dan'), env.client('pu_eve')]);
    const room = await group(dan, ['pu_eve']);
    const before = env.stack.aws.push.pushes().length;
    const sent = await dan.http<{ id: string }>('POST', `/api/chat/rooms/${room.id}/messages`, {
      content: 'secret plans',
    });
    expect(sent.status).toBe(201);
    await eve.connect();
    await eve.waitFor(
      'new-chat-message',
      (d) => (d.message as { id: string }).id === sent.body.data.id,
    );
    await sleep(300);
    expect(env.stack.aws.push.pushes().length).toBe(before);
    expect(JSON.stringify(topicMessages())).not.toContain('secret plans');
    expect(topicMessages()).toEqual([]);
  });

  it('stops pushing to a phone once another user registers its token', async () => {
    const [fay, gus, hal] = await Promise.all([
      env.client('pu_fay'),
      env.client('pu_gus'),
      env.client('pu_hal'),
    ]);
    // Fay's phone passes to Gus, who signs in on it; Fay never removed the device.
    await register(fay, 'shared-phone-0001');
    await register(gus, 'shared-phone-0001');
    const fayOnly = await group(hal, ['pu_fay']);
    const gusOnly = await group(hal, ['pu_gus']);
    await hal.http('POST', `/api/chat/rooms/${fayOnly.id}/messages`, { content: 'for fay only' });
    await hal.http('POST', `/api/chat/rooms/${gusOnly.id}/messages`, { content: 'for gus only' });
    await eventually(async () =>
      expect(env.stack.aws.push.pushes('pu_gus').length).toBeGreaterThan(0),
    );
    await sleep(500);
    // Fay's push would have reached the phone Gus now holds: it is not sent, anywhere.
    const texts = env.stack.aws.push.pushes().map((p) => pushText(p.message));
    expect(texts).toContain('for gus only');
    expect(texts).not.toContain('for fay only');
  });

  it("keeps pushing to a phone's new user when the previous user removes the device", async () => {
    const [kim, lou, max] = await Promise.all([
      env.client('pu_kim'),
      env.client('pu_lou'),
      env.client('pu_max'),
    ]);
    const kimsDevice = await register(kim, 'handed-on-phone-0001');
    await register(lou, 'handed-on-phone-0001');
    // Kim tidies up her device list afterwards: the endpoint is Lou's now and stays.
    expect((await kim.http('DELETE', `/api/chat/devices/${kimsDevice}`)).status).toBe(200);
    const room = await group(max, ['pu_lou']);
    await max.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'still for lou' });
    await eventually(async () =>
      expect(env.stack.aws.push.pushes('pu_lou').map((p) => pushText(p.message))).toContain(
        'still for lou',
      ),
    );
  });

  it('pushes an encrypted message with no ciphertext', async () => {
    const [ida, jay] = await Promise.all([env.client('pu_ida'), env.client('pu_jay')]);
    await register(jay, 'phone-of-jay-0001');
    const room = await group(ida, ['pu_jay']);
    const res = await ida.http('POST', `/api/chat/rooms/${room.id}/messages`, {
      is_encrypted: true,
      encryption_key_id: 'k1',
      encrypted_content: 'Q0lQSEVSVEVYVA==',
    });
    expect(res.status).toBe(201);
    const [push] = await eventually(async () => {
      const pushes = env.stack.aws.push.pushes('pu_jay');
      expect(pushes.length).toBeGreaterThan(0);
      return pushes;
    });
    expect(push!.message).not.toContain('Q0lQSEVSVEVYVA');
    expect(pushText(push!.message)).toBe('New encrypted message');
  });
});
