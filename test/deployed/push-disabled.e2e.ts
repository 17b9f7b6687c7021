import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * The stage as deployed by default: no push platform application (no
 * -c pushApnsArn / pushFcmArn), so no function holds an SNS push grant or the
 * PUSH_APPLICATIONS setting. `npm run test:deployed` runs this file (with
 * limits-devices.test.ts) against an assembly synthesized that way
 * (test/deployed/run.ts, the push-disabled pass): devices still register and
 * go away, offline members still get their messages on reconnect, an account
 * with devices is erased, and none of it calls SNS (the judge would refuse it,
 * as IAM would). Outside test:deployed it runs against the source handlers.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack({ pushApplications: [] });
});
afterAll(async () => env?.stop());

async function group(owner: ChatClient, others: string[]) {
  const res = await owner.http<{ id: string }>('POST', '/api/chat/rooms', {
    type: 'group',
    name: 'no push',
    member_ids: others,
  });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function register(client: ChatClient, token: string, platform: 'apns' | 'fcm') {
  const res = await client.http<{ device_id: string; platform: string }>(
    'POST',
    '/api/chat/devices',
    { platform, token },
  );
  expect(res.status).toBe(201);
  expect(res.body.data.platform).toBe(platform);
  return res.body.data.device_id;
}

const nothingPushed = () => {
  expect([...env.stack.aws.push.endpoints.values()]).toEqual([]);
  expect(env.stack.aws.push.pushes()).toEqual([]);
};

describe('a stage with push disabled (the default deploy)', () => {
  it('registers and removes devices, and delivers to an offline member on reconnect, with no SNS call', async () => {
    const [ada, ben] = await Promise.all([env.client('np_ada'), env.client('np_ben')]);
    const iphone = await register(ben, 'iphone-of-ben-0001', 'apns');
    const android = await register(ben, 'android-of-ben-0001', 'fcm');
    const room = await group(ada, ['np_ben']);
    const sent = await ada.http<{ id: string }>('POST', `/api/chat/rooms/${room}/messages`, {
      content: 'while you were away',
    });
    expect(sent.status).toBe(201);
    // Ben was offline: the message waits for him and arrives once he connects.
    await ben.connect();
    await ben.waitFor(
      'new-chat-message',
      (d) => (d.message as { id: string }).id === sent.body.data.id,
    );
    expect((await ben.http('DELETE', `/api/chat/devices/${iphone}`)).status).toBe(200);
    expect((await ben.http('DELETE', `/api/chat/devices/${android}`)).status).toBe(200);
    expect((await ben.http('DELETE', `/api/chat/devices/${android}`)).status).toBe(404);
    nothingPushed();
  });

  it('erases an account that has devices', async () => {
    const [cat, dov] = await Promise.all([env.client('np_cat'), env.client('np_dov')]);
    await register(dov, 'android-of-dov-0001', 'fcm');
    const room = await group(cat, ['np_dov']);
    await cat.connect();
    const answer = await dov.http('DELETE', '/api/chat/me');
    expect(answer.status).toBe(202);
    await cat.waitFor('room-member-removed', (d) => d.room_id === room && d.user_id === 'np_dov');
    nothingPushed();
  });
});
