import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { groupsOf, requireModerator } = await import('#platform/moderators.ts');
const { requireNotSuspended, SUSPENSION_CACHE_MS } = await import('#platform/suspension.ts');
const connect = (await import('#functions/ws/connect.ts')).handler;
const typing = (await import('#functions/ws/typing.ts')).handler;
type WsEvent = import('#platform/ws.ts').WsEvent;

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const management = mockClient(ApiGatewayManagementApiClient);
beforeEach(() => {
  ddb.reset();
  sqs.reset();
  management.reset();
  sqs.resolves({});
  management.resolves({});
});
afterEach(() => {
  delete process.env.MODERATOR_GROUP;
});

const suspensionReads = () =>
  ddb.commandCalls(GetCommand).filter((c) => c.args[0].input.Key?.sk === 'SUSPENSION');
const suspended = (until: string | null = null) => ({
  Item: { user_id: 'u', reason: 'r', until, suspended_by: 'm', suspended_at: 'x' },
});

describe('the moderator claim', () => {
  it('reads groups as a token, API Gateway and other providers write them', () => {
    expect(groupsOf({ groups: ['a', 'moderators'] })).toEqual(['a', 'moderators']);
    // API Gateway's JWT authorizer hands every claim over as a string.
    expect(groupsOf({ 'cognito:groups': '[staff moderators]' })).toEqual(['staff', 'moderators']);
    expect(groupsOf({ groups: 'staff,moderators' })).toEqual(['staff', 'moderators']);
    expect(groupsOf({ groups: 'moderators' })).toEqual(['moderators']);
    expect(groupsOf({ sub: 'x' })).toEqual([]);
    expect(groupsOf({ groups: 42 })).toEqual([]);
  });

  it('refuses anyone without the stage group, which a stage may rename', () => {
    expect(() => requireModerator({ groups: '[moderators]' })).not.toThrow();
    expect(() => requireModerator({ groups: '[moderator]' })).toThrow('Only moderators');
    expect(() => requireModerator(undefined)).toThrow('Only moderators');
    process.env.MODERATOR_GROUP = 'trust-and-safety';
    expect(() => requireModerator({ 'cognito:groups': ['trust-and-safety'] })).not.toThrow();
    expect(() => requireModerator({ groups: ['moderators'] })).toThrow('Only moderators');
  });
});

describe('the suspension check', () => {
  it('remembers "not suspended" for at most a minute, "suspended" never', async () => {
    ddb.on(GetCommand).resolves({});
    const t0 = 1_000_000_000_000;
    await requireNotSuspended('u_cache', { now: t0 });
    await requireNotSuspended('u_cache', { now: t0 + SUSPENSION_CACHE_MS - 1 });
    expect(suspensionReads()).toHaveLength(1);
    // A minute on, it is read again, and this time the user is suspended.
    ddb.on(GetCommand).resolves(suspended());
    await expect(
      requireNotSuspended('u_cache', { now: t0 + SUSPENSION_CACHE_MS }),
    ).rejects.toMatchObject({ code: 'SUSPENDED', status: 403 });
    await expect(
      requireNotSuspended('u_cache', { now: t0 + SUSPENSION_CACHE_MS + 1 }),
    ).rejects.toMatchObject({ code: 'SUSPENDED' });
    expect(suspensionReads()).toHaveLength(3);
    // Lifted: the next request is served at once.
    ddb.on(GetCommand).resolves({});
    await requireNotSuspended('u_cache', { now: t0 + SUSPENSION_CACHE_MS + 2 });
  });

  it('ends a suspension at its `until`, and reads consistently when asked', async () => {
    const until = '2030-01-01T00:00:00.000Z';
    ddb.on(GetCommand).resolves(suspended(until));
    await expect(
      requireNotSuspended('u_until', { now: Date.parse(until) - 1, fresh: true }),
    ).rejects.toThrow(`suspended until ${until}`);
    expect(suspensionReads()[0]!.args[0].input.ConsistentRead).toBe(true);
    await requireNotSuspended('u_until', { now: Date.parse(until) });
  });
});

describe('$connect and a suspension landing meanwhile', () => {
  it('refuses the connect and removes the connection it stored', async () => {
    // Not suspended when the connect begins; suspended by the time it has stored
    // its connection (the moderator closed the sockets before this one existed).
    ddb
      .on(GetCommand)
      .callsFake((input: { Key: { sk: string }; ConsistentRead?: boolean }) =>
        input.Key.sk === 'SUSPENSION' && input.ConsistentRead ? suspended() : {},
      );
    ddb.on(UpdateCommand).resolves({ Attributes: {} });
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    const event = {
      requestContext: {
        routeKey: '$connect',
        connectionId: 'c-race',
        requestTimeEpoch: Date.now(),
        authorizer: { user_id: 'u_race', exp: String(Math.floor(Date.now() / 1000) + 600) },
      },
      headers: {},
    } as unknown as WsEvent;

    const answer = await connect(event, {
      functionName: 't',
      awsRequestId: 'r',
      getRemainingTimeInMillis: () => 10_000,
    } as Context);

    expect(answer).toEqual({ statusCode: 403 });
    const stored = ddb
      .commandCalls(PutCommand)
      .some((c) => c.args[0].input.Item?.pk === 'CONN#c-race');
    const removed = ddb
      .commandCalls(DeleteCommand)
      .some((c) => c.args[0].input.Key?.pk === 'CONN#c-race');
    expect(stored).toBe(true);
    expect(removed).toBe(true);
  });
});

describe('a frame from a suspended user', () => {
  it('is answered SUSPENDED and its socket is closed', async () => {
    ddb
      .on(GetCommand)
      .callsFake((input: { Key: { sk: string } }) =>
        input.Key.sk === 'SUSPENSION' ? suspended() : {},
      );
    const event = {
      requestContext: {
        routeKey: 'typing',
        connectionId: 'c-frame',
        requestTimeEpoch: Date.now(),
        authorizer: { user_id: 'u_frame', exp: String(Math.floor(Date.now() / 1000) + 600) },
      },
      body: JSON.stringify({ action: 'typing', room_id: 'r1', is_typing: true }),
    } as unknown as WsEvent;

    await typing(event, {
      functionName: 't',
      awsRequestId: 'r',
      getRemainingTimeInMillis: () => 10_000,
    } as Context);

    const answer = management.commandCalls(PostToConnectionCommand)[0]?.args[0].input;
    expect(answer?.ConnectionId).toBe('c-frame');
    expect(JSON.parse(Buffer.from(answer!.Data as Uint8Array).toString())).toMatchObject({
      event: 'error',
      data: { code: 'SUSPENDED', action: 'typing' },
    });
    const closed = management.commandCalls(DeleteConnectionCommand).map((c) => c.args[0].input);
    expect(closed).toEqual([{ ConnectionId: 'c-frame' }]);
  });
});
