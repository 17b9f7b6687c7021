import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * The offline-delivery consumer against DynamoDB Local and fauxqs: SQS
 * redelivery and a crash between storing and pushing.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let consume: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
let domain: typeof import('#domain/rooms.ts') &
  typeof import('#domain/messages.ts') &
  typeof import('#domain/devices.ts');

beforeAll(async () => {
  aws = await localAws();
  consume = (await import('#functions/queues/offline-delivery.ts')).handler as never;
  domain = {
    ...(await import('#domain/rooms.ts')),
    ...(await import('#domain/messages.ts')),
    ...(await import('#domain/devices.ts')),
  };
});
afterAll(async () => aws?.stop());

const record = (id: string, body: unknown) =>
  ({
    messageId: id,
    receiptHandle: id,
    body: JSON.stringify(body),
    attributes: {},
    messageAttributes: {},
    eventSource: 'aws:sqs',
  }) as never;

async function pending(userId: string) {
  const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
  const out = await aws.dynamo.client.send(
    new QueryCommand({
      TableName: aws.dynamo.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': { S: `USER#${userId}` }, ':p': { S: 'PENDING#' } },
    }),
  );
  return out.Count ?? 0;
}

/** Pushes reach only the user's own device endpoints (the local platform application). */
const pushesTo = (userId: string) => aws.push.pushes(userId);

async function offlineMessage(sender: string, recipient: string) {
  await domain.registerDevice(caller(recipient), 'fcm', `token-of-${recipient}`);
  const room = (
    await domain.createRoom(caller(sender), { type: 'group', name: 'o', member_ids: [recipient] })
  ).room;
  const sent = await domain.sendMessage(caller(sender), room.id, {
    content: 'are you there?',
    message_type: 'text',
    is_encrypted: false,
  });
  expect(sent.queued_for_count).toBe(1);
  return { user_id: recipient, message: sent.message };
}

describe('offline delivery', () => {
  it('keeps one pending entry and sends one push when the same SQS message arrives twice', async () => {
    const body = await offlineMessage('o_a', 'o_b');
    const event = { Records: [record('m1', body)] };
    expect((await consume(event, {} as Context)).batchItemFailures).toEqual([]);
    expect((await consume(event, {} as Context)).batchItemFailures).toEqual([]);
    expect(await pending('o_b')).toBe(1);
    expect(pushesTo('o_b')).toHaveLength(1);
    const push = JSON.parse(pushesTo('o_b')[0]!.message);
    expect(JSON.parse(push.GCM).notification.body).toBe('are you there?');
  });

  it('sends one push when the same message was queued twice and both copies run at once', async () => {
    const body = await offlineMessage('o_g', 'o_h');
    const results = await Promise.all([
      consume({ Records: [record('m3a', body)] }, {} as Context),
      consume({ Records: [record('m3b', body)] }, {} as Context),
    ]);
    expect(results.map((r) => r.batchItemFailures)).toEqual([[], []]);
    expect(await pending('o_h')).toBe(1);
    expect(pushesTo('o_h')).toHaveLength(1);
  });

  it('sends the lost push, once, when the consumer crashed after storing and is redelivered', async () => {
    const body = await offlineMessage('o_c', 'o_d');
    aws.push.setOutage(true);
    const failed = await consume({ Records: [record('m2', body)] }, {} as Context);
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(await pending('o_d')).toBe(1);
    expect(pushesTo('o_d')).toHaveLength(0);

    aws.push.setOutage(false);
    expect(
      (await consume({ Records: [record('m2', body)] }, {} as Context)).batchItemFailures,
    ).toEqual([]);
    expect(
      (await consume({ Records: [record('m2', body)] }, {} as Context)).batchItemFailures,
    ).toEqual([]);
    expect(await pending('o_d')).toBe(1);
    expect(pushesTo('o_d')).toHaveLength(1);
  });

  it('pushes an encrypted message without its content', async () => {
    await domain.registerDevice(caller('o_f'), 'apns', 'token-of-o_f');
    const room = (
      await domain.createRoom(caller('o_e'), { type: 'group', name: 'e', member_ids: ['o_f'] })
    ).room;
    const sent = await domain.sendMessage(caller('o_e'), room.id, {
      content: '',
      message_type: 'text',
      is_encrypted: true,
      encryption_key_id: 'k1',
      encrypted_content: 'c2VjcmV0IGNpcGhlcnRleHQ=',
    });
    await consume(
      { Records: [record('m3', { user_id: 'o_f', message: sent.message })] },
      {} as Context,
    );
    const [push] = pushesTo('o_f');
    expect(push?.message).not.toContain('c2VjcmV0');
    expect(JSON.parse(JSON.parse(push!.message).GCM).notification.body).toBe(
      'New encrypted message',
    );
  });
});

/**
 * The order a member who was offline gets their messages in: the pending list
 * (flushed oldest first on their next connection) must hold each room's messages
 * in seq order, whatever order SQS hands the queue messages over in, when sends
 * run at once, and when several land in the same millisecond.
 */
describe('offline queue order', () => {
  const seqOf = (id: string) => Number(id.split('.').pop());
  async function pendingIds(userId: string) {
    const { listPending } = await import('#store/pending.ts');
    return (await listPending(userId, 100, Date.now())).map((m) => m.id);
  }
  async function consumeAll(bodies: unknown[], tag: string) {
    // SQS keeps no order: the copies are consumed newest first, a few at a time.
    const records = bodies.map((body, i) => record(`${tag}-${i}`, body)).reverse();
    await Promise.all(
      [0, 1, 2].map(async (lane) => {
        for (let i = lane; i < records.length; i += 3)
          expect(
            (await consume({ Records: [records[i]!] }, {} as Context)).batchItemFailures,
          ).toEqual([]);
      }),
    );
  }

  it('keeps concurrent sends from several senders in seq order', async () => {
    const senders = ['oq_a', 'oq_b', 'oq_c'];
    const room = (
      await domain.createRoom(caller('oq_a'), {
        type: 'group',
        name: 'order',
        member_ids: ['oq_b', 'oq_c', 'oq_r'],
      })
    ).room;
    const sent = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        domain.sendMessage(caller(senders[i % 3]!), room.id, {
          content: `c${i}`,
          message_type: 'text',
          is_encrypted: false,
        }),
      ),
    );
    await consumeAll(
      sent.map((s) => ({ user_id: 'oq_r', message: s.message })),
      'oq',
    );
    const ids = await pendingIds('oq_r');
    expect(ids).toHaveLength(15);
    expect(ids.map(seqOf)).toEqual([...ids.map(seqOf)].sort((x, y) => x - y));
  });

  it('keeps sends stamped in the same millisecond in seq order (seq 9 before seq 10)', async () => {
    const { takeSequence } = await import('#store/room-head.ts');
    const { storeMessages } = await import('#store/append-message.ts');
    const { newMessage } = await import('#model');
    const { messageView } = await import('#domain/views.ts');
    const room = (
      await domain.createRoom(caller('oq_s'), { type: 'group', name: 'ms', member_ids: ['oq_t'] })
    ).room;
    const at = new Date().toISOString();
    const messages = [];
    for (let i = 0; i < 12; i++) {
      const summary = {
        sender_id: 'oq_s',
        content: `s${i}`,
        message_type: 'text',
        is_encrypted: false,
        created_at: at,
      };
      const seq = await takeSequence(room.id, summary, at);
      const message = newMessage(
        { id: `${room.id}.${seq}`, room_id: room.id, seq },
        { userId: 'oq_s', name: 'S' },
        { content: `s${i}`, message_type: 'text', is_encrypted: false },
        at,
      );
      await storeMessages([message]);
      messages.push(message);
    }
    await consumeAll(
      messages.map((m) => ({ user_id: 'oq_t', message: messageView(m) })),
      'ms',
    );
    const ids = await pendingIds('oq_t');
    expect(ids.map(seqOf)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });
});
