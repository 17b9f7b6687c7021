import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * The local cloud itself under hostile input (issue 21 items 2 and 4): what a
 * client or a stray item can do to `npm start`'s process and listeners.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
/** Under `npm start` any of these ends the process: none may come from the stack. */
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  env = await startStack();
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await env?.stop();
});

describe('the stream reader survives any record', () => {
  it('reads on past an item whose maps have __proto__ and constructor keys (written around the schemas)', async () => {
    // As a key upload with device_id __proto__ once wrote it: a map keyed by the device.
    const poisoned = JSON.parse(
      '{"pk":{"S":"USER#poison"},"sk":{"S":"KEYDEVICES"},"entity":{"S":"key-devices"},' +
        '"active":{"M":{"__proto__":{"S":"k1"},"constructor":{"M":{"__proto__":{"L":[]}}},"ok":{"S":"k2"}}}}',
    );
    await env.stack.aws.dynamo.client.send(
      new PutItemCommand({ TableName: env.stack.tableName, Item: poisoned }),
    );
    // Records after it still reach the consumer: an away member's unread count moves.
    const [ann, bob] = await Promise.all([env.client('st_ann'), env.client('st_bob')]);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'after the poison',
        member_ids: ['st_bob'],
      })
    ).body.data;
    await ann.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'still flowing' });
    await eventually(async () => {
      const counts = (await bob.http<{ total_unread: number }>('GET', '/api/chat/unread-count'))
        .body.data;
      expect(counts.total_unread).toBe(1);
    });
    expect(env.stack.streamSkipped).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
