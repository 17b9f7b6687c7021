import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedFunction } from '#local/deployed/assembly.ts';
import { type AwsCall, policyJudge, UNPARSED_ACTION } from '#local/deployed/policy.ts';
import { startRecorder } from '#local/deployed/recorder.ts';
import { startWorkers } from '#local/deployed/runtime.ts';

/**
 * Issue 24 B5: the judge of test:deployed judges every call on its real ARN
 * (a grant on `*` or on some other resource is no grant on this one), refuses
 * a request it cannot read instead of forwarding it unjudged, and holds each
 * function to its template timeout.
 */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TABLE = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/chat`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:reports`;
const ENDPOINT = `arn:aws:sns:${REGION}:${ACCOUNT}:endpoint/GCM/chat/0b1c`;

function fn(logicalId: string, statements: unknown[], extra: Partial<DeployedFunction> = {}) {
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
    ...extra,
  } satisfies DeployedFunction;
}

// A reporter: Publish on its topic only, Query on the table (not its index).
const reporter = fn('Reporter', [
  { Effect: 'Allow', Action: 'sns:Publish', Resource: TOPIC },
  { Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:GetItem'], Resource: TABLE },
]);
// A pusher: Publish to any endpoint (SNS has no resource type for a TargetArn), the index.
const pusher = fn('Pusher', [
  { Effect: 'Allow', Action: ['sns:Publish', 'sns:GetEndpointAttributes'], Resource: '*' },
  { Effect: 'Allow', Action: 'dynamodb:Query', Resource: `${TABLE}/index/gsi1` },
]);

describe('the judge (local/deployed/policy.ts) judges every call on its real ARN', () => {
  const judge = policyJudge([reporter, pusher], ACCOUNT);
  const call = (c: Partial<AwsCall>): AwsCall => ({
    fn: 'Reporter',
    service: 'sns',
    action: 'sns:Publish',
    resource: TOPIC,
    ...c,
  });

  it('refuses an action granted on one resource when the call is on another real ARN (no `*` fallback)', async () => {
    expect((await judge.judge(call({}))).decision).toBe('Allowed');
    // Publish to a device endpoint: the evaluator has no resource type for it and
    // would judge it on `*`, where the topic grant matched; it is refused now.
    const toEndpoint = await judge.judge(call({ resource: ENDPOINT }));
    expect(toEndpoint).toMatchObject({ decision: 'ImplicitlyDenied', evaluated: ENDPOINT });
    // A grant on `*` covers it, judged on the endpoint's own ARN.
    expect(await judge.judge(call({ fn: 'Pusher', resource: ENDPOINT }))).toMatchObject({
      decision: 'Allowed',
      evaluated: ENDPOINT,
    });
    expect(
      (await judge.judge(call({ action: 'sns:GetEndpointAttributes', resource: ENDPOINT })))
        .decision,
    ).toBe('ImplicitlyDenied');
  });

  it('refuses a call whose resource is `*`, empty or not an ARN, whatever is granted', async () => {
    for (const resource of ['*', '', 'chat', `${TABLE}*`]) {
      const judged = await judge.judge(
        call({ service: 'dynamodb', action: 'dynamodb:Query', resource }),
      );
      expect(judged.decision, resource).toBe('ImplicitlyDenied');
      expect(judged.error).toMatch(/not a resource ARN/);
    }
  });

  it('judges a Query of an index on the index ARN, table/<name>/index/<index>', async () => {
    const index = `${TABLE}/index/gsi1`;
    const query = call({ service: 'dynamodb', action: 'dynamodb:Query', resource: index });
    // Query granted on the table is not Query on its index, and the other way round.
    expect((await judge.judge(query)).decision).toBe('ImplicitlyDenied');
    expect((await judge.judge({ ...query, fn: 'Pusher' })).decision).toBe('Allowed');
    expect((await judge.judge({ ...query, fn: 'Pusher', resource: TABLE })).decision).toBe(
      'ImplicitlyDenied',
    );
    expect(
      (await judge.judge({ ...query, fn: 'Pusher', resource: `${TABLE}/index/other` })).decision,
    ).toBe('ImplicitlyDenied');
  });
});

describe('the recorder (local/deployed/recorder.ts) fails requests it cannot read', () => {
  let upstream: Server;
  const forwarded: string[] = [];
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  /** What the recorder told the runtime (its timeout check) of each function's call. */
  const observed: string[] = [];
  const signed = (fnId: string) =>
    `AWS4-HMAC-SHA256 Credential=${fnId}/20260101/${REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=x`;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      forwarded.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    recorder = await startRecorder({
      region: REGION,
      account: ACCOUNT,
      judge: policyJudge([reporter, pusher], ACCOUNT).judge,
      upstream: { dynamodb: url, sqs: url, sns: url, connections: url },
      webSocket: { apiId: 'api1' },
      secrets: {},
      dynamoAccessKeyId: 'local',
      observe: (fnId) => observed.push(fnId),
    });
  });
  afterAll(async () => {
    await recorder?.stop();
    upstream?.close();
  });

  const send = (
    endpoint: 'dynamodb' | 'sqs' | 'sns',
    headers: Record<string, string>,
    body: string,
  ) => fetch(recorder.endpoints[endpoint], { method: 'POST', headers, body });

  it('refuses and records, never forwards, an unsigned or unreadable request', async () => {
    const cases: [string, Promise<Response>][] = [
      [
        'unsigned',
        send('dynamodb', { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, '{"TableName":"chat"}'),
      ],
      [
        'no table',
        send(
          'dynamodb',
          { 'x-amz-target': 'DynamoDB_20120810.Query', authorization: signed('Reporter') },
          '{}',
        ),
      ],
      [
        'no operation',
        send('dynamodb', { authorization: signed('Reporter') }, '{"TableName":"chat"}'),
      ],
      [
        'not JSON',
        send(
          'dynamodb',
          { 'x-amz-target': 'DynamoDB_20120810.GetItem', authorization: signed('Reporter') },
          'TableName=chat',
        ),
      ],
      [
        'no queue',
        send(
          'sqs',
          { 'x-amz-target': 'AmazonSQS.SendMessage', authorization: signed('Reporter') },
          '{}',
        ),
      ],
      [
        'no ARN',
        send(
          'sns',
          {
            authorization: signed('Pusher'),
            'content-type': 'application/x-www-form-urlencoded',
          },
          'Action=Publish&Message=hi',
        ),
      ],
    ];
    const before = recorder.calls.length;
    for (const [what, answer] of cases) {
      const res = await answer;
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      await res.arrayBuffer();
    }
    expect(forwarded).toEqual([]);
    const refused = recorder.calls.slice(before);
    expect(refused).toHaveLength(cases.length);
    for (const r of refused) {
      expect(r).toMatchObject({ action: UNPARSED_ACTION, decision: 'ImplicitlyDenied' });
      expect(r.error).toMatch(/^unparsed request: /);
    }
    expect(refused[0]!.fn).toBe('(unsigned)');
  });

  it('tells the runtime of every signed call as it arrives (for the timeout check)', async () => {
    observed.length = 0;
    await (
      await send(
        'dynamodb',
        { 'x-amz-target': 'DynamoDB_20120810.GetItem', authorization: signed('Reporter') },
        JSON.stringify({ TableName: 'chat', Key: {} }),
      )
    ).arrayBuffer();
    expect(observed).toEqual(['Reporter']);
  });

  it('reads a Query of an index as a call on the index ARN', async () => {
    const res = await send(
      'dynamodb',
      { 'x-amz-target': 'DynamoDB_20120810.Query', authorization: signed('Pusher') },
      JSON.stringify({ TableName: 'chat', IndexName: 'gsi1' }),
    );
    expect(res.status).toBe(200);
    expect(recorder.calls.at(-1)).toMatchObject({
      action: 'dynamodb:Query',
      resource: `${TABLE}/index/gsi1`,
      decision: 'Allowed',
    });
  });
});

describe('the runtime (local/deployed/runtime.ts) holds each function to its template timeout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deployed-timeout-'));
  mkdirSync(join(dir, 'bundle'));
  // A bundle that answers after `event.ms` milliseconds.
  writeFileSync(
    join(dir, 'bundle', 'index.mjs'),
    'export const handler = (event) => new Promise((r) => setTimeout(() => r("done"), event.ms));\n',
  );
  const slow = fn('Slow', [], { handler: 'queues/slow', assetDir: join(dir, 'bundle') });
  const workers = startWorkers([{ ...slow, timeoutSeconds: 1 }], () => ({}), ACCOUNT, REGION);
  afterAll(async () => {
    await workers.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails an invocation still running at its timeout, as Lambda does, and reports it', async () => {
    await workers.warm(['queues/slow']);
    expect(await workers.invoke('queues/slow', { ms: 10 })).toBe('done');
    await expect(workers.invoke('queues/slow', { ms: 1_500 })).rejects.toThrow(
      /Task timed out after 1.00 seconds/,
    );
    expect(workers.violations).toEqual([
      expect.objectContaining({ fn: 'Slow', kind: 'invocation', limitMs: 1_000 }),
    ]);
  });

  it('reports a call made past the timeout or outside any invocation, not one within', async () => {
    workers.violations.length = 0;
    // Outside any invocation (the one above has ended): late.
    workers.checkCall('Slow', 'dynamodb POST /');
    expect(workers.violations).toEqual([
      expect.objectContaining({ kind: 'call', detail: expect.stringMatching(/no invocation/) }),
    ]);
    workers.violations.length = 0;
    // Within a fresh invocation: fine; once it has run past its timeout: late.
    const running = workers.invoke('queues/slow', { ms: 1_300 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    workers.checkCall('Slow', 'dynamodb POST /');
    expect(workers.violations).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_050));
    // (The invocation has been failed at 1 s: no invocation runs, so the call is late too.)
    workers.checkCall('Slow', 'dynamodb POST /');
    expect(workers.violations.map((v) => v.kind)).toEqual(['invocation', 'call']);
    await running;
  });
});
