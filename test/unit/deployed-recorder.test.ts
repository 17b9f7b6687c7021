import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedFunction } from '#local/deployed/assembly.ts';
import { type AwsCall, policyJudge } from '#local/deployed/policy.ts';
import { startRecorder } from '#local/deployed/recorder.ts';

/**
 * The recording layer of test:deployed: requests as the AWS SDK sends them are
 * turned into the IAM actions and ARNs AWS would authorize, judged by the real
 * policy evaluator, and either forwarded or refused the way AWS refuses them.
 */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TABLE = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/chat`;

function fn(logicalId: string, statements: unknown[]): DeployedFunction {
  return {
    logicalId,
    handler: logicalId,
    assetDir: '',
    entryFile: 'index.mjs',
    entryExport: 'handler',
    timeoutSeconds: 10,
    memoryMb: 128,
    environment: {},
    policies: [{ name: 'p', document: { Version: '2012-10-17', Statement: statements as never } }],
    managedPolicyArns: [],
    eventSourceArns: [],
  };
}

const sender = fn('Sender', [
  { Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: TABLE },
  { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:q1` },
  { Effect: 'Allow', Action: 'sns:CreatePlatformEndpoint', Resource: '*' },
]);
const scoped = fn('Scoped', [
  {
    Effect: 'Allow',
    Action: 'sns:CreatePlatformEndpoint',
    Resource: `arn:aws:sns:${REGION}:${ACCOUNT}:app/GCM/chat`,
  },
  {
    Effect: 'Allow',
    Action: 'execute-api:ManageConnections',
    Resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:api1/prod/POST/@connections/*`,
  },
]);

describe('policy judge (@cloud-copilot/iam-simulate)', () => {
  const judge = policyJudge([sender, scoped], ACCOUNT);
  const call = (c: Partial<AwsCall>): AwsCall => ({
    fn: 'Sender',
    service: 'dynamodb',
    action: 'dynamodb:PutItem',
    resource: TABLE,
    ...c,
  });

  it('allows what a statement grants and refuses what none does', async () => {
    expect((await judge.judge(call({}))).decision).toBe('Allowed');
    expect((await judge.judge(call({ action: 'dynamodb:Scan' }))).decision).toBe(
      'ImplicitlyDenied',
    );
    expect((await judge.judge(call({ resource: `${TABLE}/index/gsi1` }))).decision).toBe(
      'ImplicitlyDenied',
    );
  });

  it('evaluates actions that have no resource type on "*", as AWS does', async () => {
    const register = call({
      service: 'sns',
      action: 'sns:CreatePlatformEndpoint',
      resource: `arn:aws:sns:${REGION}:${ACCOUNT}:app/GCM/chat`,
    });
    const allowed = await judge.judge(register);
    // Judged on its real ARN, by the statements granted on "*".
    expect(allowed).toMatchObject({
      decision: 'Allowed',
      evaluated: `arn:aws:sns:${REGION}:${ACCOUNT}:app/GCM/chat`,
    });
    // A grant scoped to the application's ARN does not cover it on AWS.
    expect((await judge.judge({ ...register, fn: 'Scoped' })).decision).toBe('ImplicitlyDenied');
  });

  it('tells @connections methods apart', async () => {
    const manage = (method: string) =>
      judge.judge({
        fn: 'Scoped',
        service: 'execute-api',
        action: 'execute-api:ManageConnections',
        resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:api1/prod/${method}/@connections/abc=`,
      });
    expect((await manage('POST')).decision).toBe('Allowed');
    expect((await manage('DELETE')).decision).toBe('ImplicitlyDenied');
  });
});

describe('recorder', () => {
  let upstream: Server;
  let upstreamUrl = '';
  const seen: { url: string; auth: string; body: string }[] = [];
  let recorder: Awaited<ReturnType<typeof startRecorder>>;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', auth: String(req.headers.authorization ?? ''), body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    recorder = await startRecorder({
      region: REGION,
      account: ACCOUNT,
      judge: policyJudge([sender, scoped], ACCOUNT).judge,
      upstream: {
        dynamodb: upstreamUrl,
        sqs: upstreamUrl,
        sns: upstreamUrl,
        connections: upstreamUrl,
      },
      webSocket: { apiId: 'api1' },
      secrets: {},
      dynamoAccessKeyId: 'local',
    });
  });
  afterAll(async () => {
    await recorder?.stop();
    upstream?.close();
  });

  const signed = (fnId: string) =>
    `AWS4-HMAC-SHA256 Credential=${fnId}/20260101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x`;

  it('judges each item of a transaction by its own action, and refuses the call as AWS would', async () => {
    const res = await fetch(recorder.endpoints.dynamodb, {
      method: 'POST',
      headers: {
        'x-amz-target': 'DynamoDB_20120810.TransactWriteItems',
        authorization: signed('Sender'),
      },
      body: JSON.stringify({
        TransactItems: [
          { Put: { TableName: 'chat', Item: {} } },
          { Delete: { TableName: 'chat', Key: {} } },
        ],
      }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('AccessDeniedException');
    const actions = recorder.calls
      .filter((c) => c.fn === 'Sender')
      .map((c) => [c.action, c.decision]);
    expect(actions).toEqual([
      ['dynamodb:PutItem', 'Allowed'],
      ['dynamodb:DeleteItem', 'ImplicitlyDenied'],
    ]);
  });

  it('forwards an allowed call, filed under the local credentials DynamoDB Local keys data by', async () => {
    const before = seen.length;
    const res = await fetch(recorder.endpoints.dynamodb, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.UpdateItem', authorization: signed('Sender') },
      body: JSON.stringify({ TableName: 'chat', Key: {} }),
    });
    expect(res.status).toBe(200);
    expect(seen.slice(before)[0]?.auth).toContain('Credential=local/20260101/us-east-1/');
  });

  it('names queues and connections by the ARNs IAM sees', async () => {
    await fetch(recorder.endpoints.sqs, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.SendMessageBatch', authorization: signed('Sender') },
      body: JSON.stringify({ QueueUrl: `${recorder.endpoints.sqs}/${ACCOUNT}/q1`, Entries: [] }),
    });
    const del = await fetch(`${recorder.endpoints.connections}/prod/@connections/abc%3D`, {
      method: 'DELETE',
      headers: { authorization: signed('Scoped') },
    });
    expect(del.status).toBe(403);
    expect(recorder.calls.slice(-2).map((c) => [c.action, c.resource, c.decision])).toEqual([
      ['sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:q1`, 'Allowed'],
      [
        'execute-api:ManageConnections',
        `arn:aws:execute-api:${REGION}:${ACCOUNT}:api1/prod/DELETE/@connections/abc%3D`,
        'ImplicitlyDenied',
      ],
    ]);
  });
});
