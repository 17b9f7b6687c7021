import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv, testIssuer } from './support.ts';

setTestEnv();
const { cacheJwksForTests } = await import('#platform/auth.ts');
const createRoom = (await import('#functions/http/create-room.ts')).handler;
const getRoom = (await import('#functions/http/get-room.ts')).handler;
const ddb = mockClient(DynamoDBDocumentClient);
const context = {
  functionName: 'test',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 10_000,
} as Context;

let issuer: Awaited<ReturnType<typeof testIssuer>>;
let token: string;

beforeAll(async () => {
  issuer = await testIssuer();
  cacheJwksForTests(issuer.jwks as never);
  token = await issuer.sign({ sub: 'alice', name: 'Alice' });
});
beforeEach(() => ddb.reset());

function event(init: {
  body?: string;
  auth?: string | null;
  claims?: Record<string, string> | null;
  params?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /api/chat/rooms',
    rawPath: '/api/chat/rooms',
    rawQueryString: '',
    headers: init.auth === null ? {} : { authorization: init.auth ?? `Bearer ${token}` },
    pathParameters: init.params,
    body: init.body,
    isBase64Encoded: false,
    requestContext: {
      http: { method: 'POST', path: '/api/chat/rooms' },
      // What API Gateway's JWT authorizer passes once it has verified the token.
      ...(init.claims === null
        ? {}
        : { authorizer: { jwt: { claims: init.claims ?? { sub: 'alice', name: 'Alice' } } } }),
    } as APIGatewayProxyEventV2['requestContext'],
  };
}

type Res = APIGatewayProxyStructuredResultV2;
const call = async (
  h: (e: APIGatewayProxyEventV2, c: Context) => Promise<unknown>,
  e: APIGatewayProxyEventV2,
) => {
  const res = (await h(e, context)) as Res;
  return { status: res.statusCode, body: JSON.parse(res.body!) as Record<string, never> };
};

describe('the HTTP envelope', () => {
  it('answers 401 UNAUTHORIZED without verified claims, whatever the headers say', async () => {
    // Tokens are verified by the gateway (test/e2e/auth.test.ts, test/unit/auth.test.ts);
    // a handler trusts only the claims API Gateway's JWT authorizer passed.
    const cases: { claims: Record<string, string> | null; auth?: string }[] = [
      { claims: null },
      { claims: null, auth: `Bearer ${token}` },
      { claims: {} },
      { claims: { sub: '' } },
      { claims: { sub: 'x'.repeat(129) } },
    ];
    for (const init of cases) {
      const res = await call(createRoom, event({ ...init, body: '{}' }));
      expect(res).toEqual({
        status: 401,
        body: { success: false, error: { code: 'UNAUTHORIZED', message: expect.any(String) } },
      });
    }
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 400 VALIDATION_ERROR for bad JSON and schema failures, naming the field', async () => {
    expect((await call(createRoom, event({ body: '{"type":' }))).body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: 'Body is not valid JSON',
    });
    const res = await call(
      createRoom,
      event({ body: JSON.stringify({ type: 'direct', member_ids: [] }) }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('member_ids'),
    });
  });

  it('answers 413 for a body over 32 KB', async () => {
    const res = await call(
      createRoom,
      event({ body: JSON.stringify({ type: 'group', name: 'x'.repeat(33_000) }) }),
    );
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
  });

  it('answers a plain 500 with no AWS text or stack when DynamoDB fails', async () => {
    const awsError = Object.assign(
      new Error(
        'ProvisionedThroughputExceededException: arn:aws:dynamodb:us-east-1:123:table/chat',
      ),
      {
        name: 'ProvisionedThroughputExceededException',
      },
    );
    ddb.on(TransactWriteCommand).rejects(awsError);
    const res = await call(
      createRoom,
      event({ body: JSON.stringify({ type: 'group', name: 'g' }) }),
    );
    expect(res).toEqual({
      status: 500,
      body: { success: false, error: { code: 'INTERNAL', message: 'Internal server error' } },
    });
    expect(JSON.stringify(res.body)).not.toMatch(/arn:aws|Throughput|at /);
  });

  it('answers 404 for a missing room and 403 for a room of others', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    expect((await call(getRoom, event({ params: { room_id: 'r1' } }))).status).toBe(404);
    ddb.on(GetCommand, { Key: { pk: 'ROOM#r2', sk: 'META' } }).resolves({
      Item: {
        id: 'r2',
        type: 'group',
        members: { bob: 'x' },
        admins: {},
        seq: 0,
        created_at: 'x',
        updated_at: 'x',
        created_by: 'bob',
      },
    });
    const res = await call(getRoom, event({ params: { room_id: 'r2' } }));
    expect(res).toMatchObject({
      status: 403,
      body: { success: false, error: { code: 'FORBIDDEN' } },
    });
  });

  it('answers 201 with the contract Room on success', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    // The members' group settings (none set: everyone may add them).
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    // The rate limit check and the room's event log (sync) write too.
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({ Attributes: {} });
    const res = await call(
      createRoom,
      event({ body: JSON.stringify({ type: 'group', name: 'Team', member_ids: ['bob'] }) }),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      success: true,
      data: {
        type: 'group',
        name: 'Team',
        admins: ['alice'],
        created_by: 'alice',
        unread_count: 0,
      },
    });
    expect(Object.keys(res.body.data as unknown as object).sort()).toEqual(
      [
        'admins',
        'archived_at',
        'created_at',
        'created_by',
        'id',
        'is_archived',
        'is_deleted',
        'is_muted',
        'last_message',
        'last_read_message_id',
        'members',
        'muted_until',
        'name',
        'type',
        'unread_count',
        'updated_at',
      ].sort(),
    );
  });
});

describe('the WebSocket authorizer', () => {
  it('reads the token from ?token= or the second subprotocol, and throws exactly Unauthorized otherwise', async () => {
    const { handler } = await import('#functions/ws/authorizer.ts');
    const base = {
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:1:api/stage/$connect',
      headers: {},
    } as never;
    const viaQuery = await handler({
      ...(base as object),
      queryStringParameters: { token },
    } as never);
    expect(viaQuery).toMatchObject({
      principalId: 'alice',
      context: { user_id: 'alice', name: 'Alice' },
    });
    expect(viaQuery.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    const viaProtocol = await handler({
      ...(base as object),
      headers: { 'Sec-WebSocket-Protocol': `chat, ${token}` },
    } as never);
    expect(viaProtocol.principalId).toBe('alice');
    await expect(
      handler({ ...(base as object), queryStringParameters: { token: 'x.y.z' } } as never),
    ).rejects.toThrow(/^Unauthorized$/);
    await expect(handler(base)).rejects.toThrow(/^Unauthorized$/);
  });
});
