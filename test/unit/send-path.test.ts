import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { sendMessage } = await import('#domain/messages.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const sqs = mockClient(SQSClient);

const alice = { userId: 'alice', name: 'Alice' };
const input = { content: 'hi', message_type: 'text', is_encrypted: false };
const longAgo = new Date(Date.now() - 3600_000).toISOString();

function roomItem(seq: number, members: string[]) {
  return {
    pk: 'ROOM#r1',
    sk: 'META',
    entity: 'room',
    id: 'r1',
    type: 'group',
    name: 'g',
    created_by: 'alice',
    created_at: longAgo,
    updated_at: longAgo,
    members: Object.fromEntries(members.map((m) => [m, longAgo])),
    admins: { alice: longAgo },
    seq,
  };
}

function canceled(reasons: { Code: string; Item?: Record<string, unknown> }[]) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((r) => ({
      Code: r.Code,
      ...(r.Item ? { Item: marshall(r.Item) } : {}),
    })),
  });
}

beforeAll(() => {
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

beforeEach(() => {
  ddb.reset();
  api.reset();
  ddb
    .on(GetCommand, { Key: { pk: 'ROOM#r1', sk: 'META' } })
    .resolves({ Item: roomItem(4, ['alice', 'bob']) });
  ddb.on(BatchGetCommand).resolves({ Responses: { 'chat-test': [] } });
  ddb.on(TransactWriteCommand).resolves({});
  api.on(PostToConnectionCommand).resolves({});
});

const transactMessageSeq = (call: number) => {
  const items = ddb.commandCalls(TransactWriteCommand)[call]!.args[0].input.TransactItems!;
  return items[2]!.Put!.Item!.seq as number;
};

describe('sendMessage (mocked AWS)', () => {
  it('takes the next seq in one transaction and needs at most 3 sequential round trips before the fan-out', async () => {
    // Prepare: every DynamoDB call is recorded with whether another was in flight when it began.
    const rounds: string[] = [];
    let inFlight = 0;
    const track =
      <T>(name: string, answer: (input: Record<string, unknown>) => T) =>
      async (input: Record<string, unknown>) => {
        if (inFlight === 0) rounds.push(name);
        inFlight++;
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return answer(input);
      };
    ddb
      .on(GetCommand)
      .callsFake(
        track('Get', (i) =>
          (i.Key as { sk: string }).sk === 'META' ? { Item: roomItem(4, ['alice', 'bob']) } : {},
        ),
      );
    ddb.on(TransactWriteCommand).callsFake(track('TransactWrite', () => ({})));
    ddb.on(BatchGetCommand).callsFake(
      track('BatchGet', () => ({
        Responses: { 'chat-test': [{ pk: 'USER#bob', sk: 'CONNS', conns: { c1: longAgo } }] },
      })),
    );
    let roundsAtFirstPost = -1;
    api.on(PostToConnectionCommand).callsFake(async () => {
      if (roundsAtFirstPost < 0) roundsAtFirstPost = rounds.length;
      return {};
    });
    // Act
    const result = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    // Assess
    expect(result.message.id).toBe('r1.5');
    expect(result.delivered_to_count).toBe(1);
    expect(roundsAtFirstPost).toBeLessThanOrEqual(3);
    expect(rounds.slice(0, 3)).toEqual(['Get', 'TransactWrite', 'BatchGet']);
  });

  it('retries with the seq the cancellation reports when a concurrent send moved the room on', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(
        canceled([
          { Code: 'ConditionalCheckFailed', Item: roomItem(7, ['alice', 'bob']) },
          { Code: 'None' },
          { Code: 'None' },
        ]),
      )
      .resolves({});
    const result = await sendMessage(alice, 'r1', input);
    expect(result.message.id).toBe('r1.8');
    expect([transactMessageSeq(0), transactMessageSeq(1)]).toEqual([5, 8]);
    expect(ddb.commandCalls(GetCommand, { Key: { pk: 'ROOM#r1', sk: 'META' } })).toHaveLength(1);
  });

  it('retries after a TransactionConflict (which DynamoDB Local never produces)', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(canceled([{ Code: 'TransactionConflict' }, { Code: 'None' }, { Code: 'None' }]))
      .resolves({});
    const result = await sendMessage(alice, 'r1', input);
    expect(result.message.id).toBe('r1.5');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it('confirms the first message again for a used temp_id, without writing', async () => {
    ddb
      .on(GetCommand, { Key: { pk: 'USER#alice', sk: 'TEMP#t9' } })
      .resolves({ Item: { message_id: 'r1.3' } });
    ddb.on(GetCommand, { Key: { pk: 'ROOM#r1', sk: 'MSG#000000000003' } }).resolves({
      Item: {
        id: 'r1.3',
        room_id: 'r1',
        seq: 3,
        sender_id: 'alice',
        content: 'first',
        created_at: longAgo,
      },
    });
    const result = await sendMessage(alice, 'r1', { ...input, temp_id: 't9' });
    expect(result).toMatchObject({ duplicate: true, message: { id: 'r1.3', content: 'first' } });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('refuses a non-member (403) and a missing room (404) before writing', async () => {
    await expect(sendMessage({ userId: 'mallory', name: 'M' }, 'r1', input)).rejects.toMatchObject({
      status: 403,
    });
    ddb.on(GetCommand, { Key: { pk: 'ROOM#gone', sk: 'META' } }).resolves({});
    await expect(sendMessage(alice, 'gone', input)).rejects.toMatchObject({ status: 404 });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('reads connections with one BatchGet per 100 members, never one call per member', async () => {
    const members = ['alice', ...Array.from({ length: 150 }, (_, i) => `m${i}`)];
    ddb
      .on(GetCommand, { Key: { pk: 'ROOM#r1', sk: 'META' } })
      .resolves({ Item: roomItem(4, members) });
    await sendMessage(alice, 'r1', input);
    const batches = ddb.commandCalls(BatchGetCommand);
    expect(batches).toHaveLength(2);
    const keys = batches.flatMap((c) => c.args[0].input.RequestItems!['chat-test']!.Keys!);
    expect(keys).toHaveLength(150);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('retries BatchGet keys that come back unprocessed (throttling)', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { 'chat-test': [] },
        UnprocessedKeys: { 'chat-test': { Keys: [{ pk: 'USER#bob', sk: 'CONNS' }] } },
      })
      .resolves({
        Responses: { 'chat-test': [{ pk: 'USER#bob', sk: 'CONNS', conns: { c1: longAgo } }] },
      });
    const result = await sendMessage(alice, 'r1', input);
    expect(result.delivered_to_count).toBe(1);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
  });

  it('removes a connection that answers 410, does not count it, and queues a member left with none', async () => {
    ddb
      .on(GetCommand, { Key: { pk: 'ROOM#r1', sk: 'META' } })
      .resolves({ Item: roomItem(4, ['alice', 'bob', 'carol']) });
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        'chat-test': [
          { pk: 'USER#bob', sk: 'CONNS', conns: { phone: longAgo, tablet: longAgo } },
          { pk: 'USER#carol', sk: 'CONNS', conns: { laptop: longAgo } },
        ],
      },
    });
    ddb.on(UpdateCommand).resolves({ Attributes: { conns: {} } });
    const gone = new GoneException({ message: 'Gone', $metadata: { httpStatusCode: 410 } });
    api.on(PostToConnectionCommand, { ConnectionId: 'tablet' }).rejects(gone);
    api.on(PostToConnectionCommand, { ConnectionId: 'laptop' }).rejects(gone);
    sqs.resetHistory();

    const result = await sendMessage(alice, 'r1', input);

    expect(result).toMatchObject({ delivered_to_count: 1, queued_for_count: 1 });
    const removed = ddb
      .commandCalls(UpdateCommand)
      .filter((c) => c.args[0].input.UpdateExpression === 'REMOVE conns.#id')
      .map((c) => c.args[0].input.ExpressionAttributeNames!['#id']);
    expect(removed.sort()).toEqual(['laptop', 'tablet']);
    const queued = sqs
      .commandCalls(SendMessageBatchCommand)
      .filter((c) => c.args[0].input.QueueUrl === process.env.OFFLINE_QUEUE_URL)
      .flatMap((c) => c.args[0].input.Entries!);
    expect(queued.map((e) => JSON.parse(e.MessageBody!).user_id)).toEqual(['carol']);
  });
});
