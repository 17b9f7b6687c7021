import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_CONCURRENCY, queues, streamConsumers } from '#functions/routes.ts';
import { buildApp, regionFor, UsageError } from '../../lib/app.ts';

/**
 * What a first deploy to a fresh account needs, read from the template a
 * deployer would ship. Bundling is skipped (placeholder assets): these checks
 * are about resources, not code.
 */
const CONTEXT = {
  stage: 'test',
  region: 'eu-west-1',
  // A real-looking issuer: only the local stage may keep cdk.json's placeholder.
  jwtIssuer: 'https://auth.chat.acme.io',
  jwtAudience: 'chat-app',
  'aws:cdk:bundling-stacks': [],
};

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

function synth(context: Record<string, unknown> = {}) {
  const { app, stack } = buildApp(new App({ context: { ...CONTEXT, ...context } }));
  app.synth();
  return Template.fromStack(stack);
}

const resourcesOf = (template: Template, type: string) =>
  Object.entries(template.findResources(type)) as [string, Resource][];

describe('first deploy to a fresh account', () => {
  const template = synth();

  it("sets API Gateway's account CloudWatch role, and the WebSocket stage waits for it", () => {
    const [[accountId, account]] = resourcesOf(template, 'AWS::ApiGateway::Account') as [
      [string, Resource],
    ];
    const roleRef = (account.Properties.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ];
    expect(roleRef[1]).toBe('Arn');
    const role = template.toJSON().Resources[roleRef[0]] as Resource & { DeletionPolicy?: string };
    expect(role.Type).toBe('AWS::IAM::Role');
    // Other APIs in the account log through the same role: it outlives the stack.
    expect(role.DeletionPolicy).toBe('Retain');
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain(
      'apigateway.amazonaws.com',
    );
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(
      'service-role/AmazonAPIGatewayPushToCloudWatchLogs',
    );

    const stages = resourcesOf(template, 'AWS::ApiGatewayV2::Stage').filter(
      ([, s]) => s.Properties.AccessLogSettings && s.Properties.StageName !== '$default',
    );
    expect(stages.length).toBeGreaterThan(0);
    for (const [, stage] of stages) expect(stage.DependsOn ?? []).toContain(accountId);
  });

  it('skips the account role where the account already has one (-c apiGatewayCloudWatchRole=false)', () => {
    const skipped = synth({ apiGatewayCloudWatchRole: 'false' });
    skipped.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(JSON.stringify(skipped.toJSON())).not.toContain('AmazonAPIGatewayPushToCloudWatchLogs');
  });
});

describe('alarms reach someone', () => {
  const template = synth({ alarmEmail: 'ops@example.com' });
  const resources = template.toJSON().Resources as Record<string, Resource>;

  it('encrypts the alarm topic with a rotating customer-managed key that CloudWatch may use', () => {
    const alarmTopics = new Set(
      resourcesOf(template, 'AWS::CloudWatch::Alarm').flatMap(([, a]) =>
        (a.Properties.AlarmActions as { Ref: string }[]).map((action) => action.Ref),
      ),
    );
    expect(alarmTopics.size).toBe(1);
    const [topicId] = [...alarmTopics] as [string];
    const topic = resources[topicId]!;
    expect(topic.Type).toBe('AWS::SNS::Topic');
    const keyRef = (topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ];
    const key = resources[keyRef[0]]!;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = (key.Properties.KeyPolicy as { Statement: Record<string, unknown>[] })
      .Statement;
    const forCloudWatch = statements.find(
      (s) =>
        s.Effect === 'Allow' &&
        JSON.stringify(s.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(forCloudWatch).toBeDefined();
    expect([forCloudWatch!.Action].flat()).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
  });

  it('subscribes alarmEmail to the alarm topic', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: Match.anyValue(),
    });
  });
});

describe('background work cannot starve $connect and send', () => {
  const template = synth();
  const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m);

  it('caps every SQS consumer at its declared maxConcurrency, 10% of the default quota in all', () => {
    const consumed = queues.filter((q) => q.consumer);
    const sqs = mappings.filter((m) => !m.Properties.StartingPosition);
    expect(sqs).toHaveLength(consumed.length);
    const caps = sqs.map(
      (m) =>
        (m.Properties.ScalingConfig as { MaximumConcurrency?: number } | undefined)
          ?.MaximumConcurrency,
    );
    expect(caps.every((c) => typeof c === 'number' && c >= 2)).toBe(true);
    expect(caps.sort()).toEqual(consumed.map((q) => q.maxConcurrency).sort());
    expect(caps.reduce((a, b) => a! + b!, 0)).toBeLessThanOrEqual(100);
  });

  it('reads the stream with a bounded parallelization factor and reserves no concurrency', () => {
    const stream = mappings.filter((m) => m.Properties.StartingPosition);
    expect(stream).toHaveLength(streamConsumers.length);
    for (const m of stream)
      expect(m.Properties.ParallelizationFactor).toBe(BACKGROUND_CONCURRENCY.streamParallelization);
    // A fresh account cannot reserve concurrency (Lambda keeps 10 unreserved): none is asked for.
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function'))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('the region is chosen, never a silent us-east-1', () => {
  const saved = { ...process.env };
  const withEnv = (env: Record<string, string | undefined>, run: () => void) => {
    for (const key of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'CDK_DEFAULT_REGION'])
      delete process.env[key];
    Object.assign(process.env, env);
    try {
      run();
    } finally {
      process.env = { ...saved };
    }
  };
  const app = (context: Record<string, unknown> = {}) => new App({ context });

  it('takes -c region, then AWS_REGION, then the profile region the CDK CLI passes', () => {
    withEnv({ AWS_REGION: 'eu-west-1', CDK_DEFAULT_REGION: 'ap-south-1' }, () => {
      expect(regionFor(app({ region: 'us-east-1' }), 'prod')).toBe('us-east-1');
      expect(regionFor(app(), 'prod')).toBe('eu-west-1');
    });
    withEnv({ CDK_DEFAULT_REGION: 'ap-south-1' }, () => {
      expect(regionFor(app(), 'prod')).toBe('ap-south-1');
    });
  });

  it("refuses the CLI's us-east-1 fallback, or no region at all, for a deployable stage", () => {
    withEnv({ CDK_DEFAULT_REGION: 'us-east-1' }, () => {
      expect(() => regionFor(app(), 'prod')).toThrow(UsageError);
      expect(() => regionFor(app(), 'prod')).toThrow(/-c region=/);
    });
    withEnv({}, () => expect(() => regionFor(app(), 'prod')).toThrow(UsageError));
    // The synth-only local stage stays region-agnostic, so `cdk synth` works on a fresh
    // clone; any other stage, a test's included, names one.
    withEnv({}, () => expect(regionFor(app(), 'local')).toBeUndefined());
    withEnv({}, () => expect(() => regionFor(app(), 'test')).toThrow(UsageError));
  });
});
