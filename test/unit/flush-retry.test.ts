import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { handler } = await import('#functions/queues/flush-pending.ts');
const { listPending, pendingKey } = await import('#store/pending.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const sqs = mockClient(SQSClient);

const message = {
  pk: 'ROOM#r1',
  sk: 'MSG#000000000001',
  id: 'r1.1',
  room_id: 'r1',
  seq: 1,
  sender_id: 'bob',
  content: 'while you were away',
  created_at: new Date(Date.now() - 5000).toISOString(),
};

const flushEvent = (body: Record<string, unknown>): SQSEvent => ({
  Records: [
    {
      messageId: 'm1',
      body: JSON.stringify(body),
    } as SQSEvent['Records'][number],
  ],
});

/**
 * Issue 13 item 7: the first flush after a reconnect reaches a connection still
 * inside $connect (API Gateway answers 410). Injected here: the post is Gone
 * while the connection is a second old.
 */
/** ann's pending items, as a table would hold them: queries read it, deletes remove from it. */
const pending = new Map<string, Record<string, unknown>>();
const pendingItem = {
  ...pendingKey('ann', message),
  entity: 'pending',
  message: { id: message.id, room_id: 'r1', created_at: message.created_at },
  ttl: Math.floor(Date.now() / 1000) + 3600,
};

describe('flush after $connect (fault injected: the connection is still connecting)', () => {
  beforeEach(() => {
    ddb.reset();
    api.reset();
    sqs.reset();
    pending.clear();
    pending.set(`${pendingItem.pk}|${pendingItem.sk}`, pendingItem);
    ddb.on(QueryCommand).callsFake(() => ({ Items: [...pending.values()] }));
    // The user's flush lease (store/pending.ts): taken and let go, nobody else flushing.
    ddb.on(UpdateCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: { 'chat-test': [message] } });
    ddb
      .on(BatchWriteCommand)
      .callsFake(
        (input: {
          RequestItems: Record<string, { DeleteRequest?: { Key: { pk: string; sk: string } } }[]>;
        }) => {
          for (const request of Object.values(input.RequestItems).flat()) {
            const key = request.DeleteRequest?.Key;
            if (key) pending.delete(`${key.pk}|${key.sk}`);
          }
          return {};
        },
      );
    ddb.on(GetCommand).resolves({
      Item: { connection_id: 'c1', user_id: 'ann', connected_at: new Date().toISOString() },
    });
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  });

  it('queues itself again in one second instead of failing into the visibility timeout', async () => {
    api
      .on(PostToConnectionCommand)
      .rejects(new GoneException({ message: 'Gone', $metadata: { httpStatusCode: 410 } }));
    const result = await handler(
      flushEvent({ user_id: 'ann', connection_id: 'c1', tries: 0 }),
      {} as Context,
    );
    // The record succeeded: no SQS redelivery after minutes.
    expect(result).toEqual({ batchItemFailures: [] });
    const [again] = sqs.commandCalls(SendMessageBatchCommand);
    expect(again?.args[0].input.QueueUrl).toBe(process.env.FLUSH_QUEUE_URL);
    const entry = again!.args[0].input.Entries![0]!;
    expect(entry.DelaySeconds).toBe(1);
    expect(JSON.parse(entry.MessageBody!)).toMatchObject({ connection_id: 'c1', tries: 1 });
    // Nothing was taken off the pending list.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it('delivers on the retry once $connect has returned, and stops retrying', async () => {
    api.on(PostToConnectionCommand).resolves({});
    const result = await handler(
      flushEvent({ user_id: 'ann', connection_id: 'c1', tries: 1 }),
      {} as Context,
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(1);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(await listPending('ann', 10, Date.now())).toEqual([]);
  });

  it('gives up after its tries: the messages stay pending for the next connection and sync', async () => {
    api
      .on(PostToConnectionCommand)
      .rejects(new GoneException({ message: 'Gone', $metadata: { httpStatusCode: 410 } }));
    const result = await handler(
      flushEvent({ user_id: 'ann', connection_id: 'c1', tries: 9 }),
      {} as Context,
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    // Read back through the store's own reader: the message is still pending for ann.
    const still = await listPending('ann', 10, Date.now());
    expect(still).toEqual([{ ...pendingItem.message, sk: pendingItem.sk }]);
  });
});
