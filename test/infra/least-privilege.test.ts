import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  type Access,
  access,
  environmentOf,
  FILE_ACTIONS,
  PUSH_ACTIONS,
} from '#functions/access.ts';
import { allHandlers, queues } from '#functions/routes.ts';
import { buildApp } from '#lib/app.ts';
import { idFor } from '#lib/chat-function.ts';

/**
 * Least privilege, read from the synthesized template: every function's role
 * grants exactly what functions/access.ts declares for it, and its environment
 * holds exactly the variables the declaration implies. (Whether the
 * declarations are enough is what `npm run test:deployed` checks, by running
 * the bundles against their policies.)
 */
const CONTEXT = {
  stage: 'test',
  region: 'eu-west-1',
  // A real-looking issuer: only the local stage may keep cdk.json's placeholder.
  jwtIssuer: 'https://auth.chat.acme.io',
  jwtAudience: 'chat-app',
  // The explicit JWKS override, so every optional setting is present. Without it the
  // authorizer gets no JWKS_URI and discovers it (stack.test.ts).
  jwksUri: 'https://auth.chat.acme.io/keys',
  // iOS and Android, each its own SNS platform application.
  pushApnsArn: 'arn:aws:sns:eu-west-1:123456789012:app/APNS/chat',
  pushFcmArn: 'arn:aws:sns:eu-west-1:123456789012:app/GCM/chat',
  rateLimits: '{"send":"5/s burst 20"}',
  limits: { groupMembers: 500, contentChars: 4000 },
  'aws:cdk:bundling-stacks': [],
};

type Json = Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const { app, stack } = buildApp(new App({ context: CONTEXT }));
app.synth();
const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, Json> };
const resources = template.Resources as Record<
  string,
  { Type: string; Properties: Json; Metadata?: Json }
>;

/** Logical id of the function built for a route-table handler. */
function functionOf(handler: string): string {
  const id = stack.getLogicalId(stack.node.findChild(idFor(handler)).node.defaultChild as never);
  expect(resources[id]?.Type).toBe('AWS::Lambda::Function');
  return id;
}

function statementsOf(fnId: string): Statement[] {
  const role = (resources[fnId]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === role),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** Grants the Lambda service uses on the function's behalf: tracing and its event sources. */
const SERVICE_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'dynamodb:ListStreams',
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'sqs:ReceiveMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
]);

function expectedActions(a: Access): string[] {
  return [
    ...(a.table ?? []).map((t) => `dynamodb:${t}`),
    ...(a.indexes?.length ? ['dynamodb:Query'] : []),
    ...(a.sendsTo?.length ? ['sqs:SendMessage'] : []),
    ...(a.connections?.length ? ['execute-api:ManageConnections'] : []),
    ...(a.push ?? []).flatMap((p) => PUSH_ACTIONS[p]),
    ...(a.files ?? []).flatMap((f) => FILE_ACTIONS[f]),
    ...(a.notifiesOperators ? ['sns:Publish'] : []),
    ...(a.cursorKey ? ['secretsmanager:GetSecretValue'] : []),
  ];
}

const queueByLogicalId = new Map(
  queues.map((q) => [
    stack.getLogicalId(
      stack.node.findChild('Delivery').node.findChild(idFor(q.id)).node.defaultChild as never,
    ),
    q.id,
  ]),
);

describe('least privilege, declared once (functions/access.ts)', () => {
  it('has a declaration for every function of the route table, and none for another', () => {
    expect(Object.keys(access).sort()).toEqual(allHandlers().sort());
  });

  it('lets no role Scan', () => {
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const actions = (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap(
        (s) => [s.Action].flat(),
      );
      expect(actions, id).not.toContain('dynamodb:Scan');
      expect(
        actions.filter((a) => a.includes('*')),
        id,
      ).toEqual([]);
    }
  });

  it.each(allHandlers())('%s: its role grants exactly its declaration', (handler) => {
    const declared = access[handler]!;
    const statements = statementsOf(functionOf(handler));
    const granted = statements.flatMap((s) => [s.Action].flat());
    // The stream consumer's on-failure destination is the Lambda service's send, not the code's.
    const own = statements
      .filter((s) => !JSON.stringify(s.Resource).includes('StreamFailures'))
      .flatMap((s) => [s.Action].flat())
      .filter((a) => !SERVICE_ACTIONS.has(a));
    expect([...new Set(own)].sort()).toEqual([...new Set(expectedActions(declared))].sort());
    expect(granted).not.toContain('dynamodb:Scan');

    // Queues: exactly the declared ones receive its messages.
    const sentTo = statements
      .filter((s) => [s.Action].flat().includes('sqs:SendMessage'))
      .flatMap((s) => [s.Resource].flat())
      .map((r) => (r as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0])
      .map((id) => queueByLogicalId.get(id ?? '') ?? 'stream-failures')
      .filter((q) => q !== 'stream-failures');
    expect(sentTo.sort()).toEqual([...(declared.sendsTo ?? [])].sort());

    // Files: only the attachment bucket's rooms/ keys, never the bucket or another one.
    const fileResources = statements
      .filter((s) => [s.Action].flat().some((a) => String(a).startsWith('s3:')))
      .flatMap((s) => [s.Resource].flat());
    for (const resource of fileResources) {
      expect(JSON.stringify(resource)).toMatch(/AttachmentsFiles[0-9A-F]+","Arn"\]},"\/rooms\/\*"/);
    }
    expect(fileResources.length > 0).toBe((declared.files?.length ?? 0) > 0);
  });

  it.each(allHandlers())(
    '%s: its environment holds exactly what its declaration implies',
    (handler) => {
      const variables = Object.keys(
        ((resources[functionOf(handler)]!.Properties.Environment as { Variables?: Json }) ?? {})
          .Variables ?? {},
      ).filter((k) => !k.startsWith('POWERTOOLS_') && k !== 'NODE_OPTIONS');
      expect(variables.sort()).toEqual(environmentOf(access[handler]!).sort());
    },
  );

  it('gives the push applications, as one setting, only to the functions that make endpoints or push', () => {
    const holders = allHandlers().filter(
      (h) =>
        (resources[functionOf(h)]!.Properties.Environment as { Variables?: Json } | undefined)
          ?.Variables?.PUSH_APPLICATIONS !== undefined,
    );
    expect(holders.sort()).toEqual(['http/register-device', 'queues/offline-delivery']);
    for (const handler of holders)
      expect(
        JSON.parse(
          (resources[functionOf(handler)]!.Properties.Environment as { Variables: Json }).Variables
            .PUSH_APPLICATIONS as string,
        ),
      ).toEqual({ apns: CONTEXT.pushApnsArn, fcm: CONTEXT.pushFcmArn });
  });

  it("gives the stage's limits (context `limits`) to every function that touches the table", () => {
    const withTable = allHandlers().filter((h) => access[h]!.table?.length);
    expect(withTable.length).toBeGreaterThan(30);
    for (const handler of withTable) {
      const variables = (
        resources[functionOf(handler)]!.Properties.Environment as { Variables: Json }
      ).Variables;
      expect({ handler, limits: variables.CHAT_LIMITS }).toEqual({
        handler,
        limits: '{"groupMembers":500,"contentChars":4000}',
      });
    }
  });

  it('refuses limits a stage may not set, or out of range, at synth', () => {
    for (const limits of [
      { groupMembers: 0 },
      { membersPerRequest: 150 },
      { pageSizeMax: 10 },
      { contentChars: 1.5 },
      '{"groupMembers":',
    ])
      expect(() =>
        buildApp(new App({ context: { ...CONTEXT, limits, 'aws:cdk:bundling-stacks': [] } })),
      ).toThrow(/limit|CHAT_LIMITS/i);
  });
});
