import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  httpRoutes,
  queues,
  schedules,
  streamConsumers,
  wsConnectIdentitySource,
  wsGatewayReplies,
  wsRoutes,
} from '#functions/routes.ts';
import { tableKeyDefinitions, tableSchema } from '#store/table-schema.ts';
import { buildApp } from '../../lib/app.ts';
import { DEFAULT_MEMORY_MB } from '../../lib/chat-function.ts';
import { ChatStack } from '../../lib/chat-stack.ts';
import { HTTP_THROTTLE } from '../../lib/http-api.ts';
import { WS_THROTTLE } from '../../lib/websocket-api.ts';

const CONTEXT = {
  stage: 'test',
  region: 'eu-west-1',
  // A real-looking issuer: only the local stage may keep cdk.json's placeholder.
  jwtIssuer: 'https://auth.chat.acme.io',
  jwtAudience: 'chat-test',
  presenceGraceSeconds: 30,
};

let template: Template;
let synthError: unknown;

beforeAll(() => {
  // Real bundling with the local esbuild: no Docker, no network.
  const { app, stack } = buildApp(new App({ context: CONTEXT }));
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  template = Template.fromStack(stack);
});

describe('the synthesized stack', () => {
  it('passes cdk-nag AwsSolutions with only the reviewed acknowledgements', () => {
    expect(synthError).toBeUndefined();
  });

  it('defines the single table exactly as the shared schema (keys, GSI, TTL, stream)', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: tableKeyDefinitions.KeySchema,
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: tableSchema.ttlAttribute, Enabled: true },
      StreamSpecification: { StreamViewType: tableSchema.streamView },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: tableKeyDefinitions.GlobalSecondaryIndexes,
    });
  });

  it('has one route per route-table entry, each with its own Lambda', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    const expected = [
      ...httpRoutes.map((r) => `${r.method} ${r.path}`),
      ...wsRoutes.map((r) => r.routeKey),
      ...wsGatewayReplies.map((r) => r.routeKey),
    ];
    expect(routes.sort()).toEqual(expected.sort());
    const functions =
      1 +
      httpRoutes.length +
      wsRoutes.length +
      streamConsumers.length +
      queues.length +
      schedules.length;
    template.resourceCountIs('AWS::Lambda::Function', functions);
  });

  it('answers ping in API Gateway itself: a MOCK integration, a pong template and a route response', () => {
    const mocks = template.findResources('AWS::ApiGatewayV2::Integration', {
      Properties: { IntegrationType: 'MOCK' },
    });
    expect(Object.keys(mocks)).toHaveLength(wsGatewayReplies.length);
    const responses = Object.values(
      template.findResources('AWS::ApiGatewayV2::IntegrationResponse'),
    ).map((r) => (r as { Properties: { ResponseTemplates: Record<string, string> } }).Properties);
    expect(responses.some((r) => r.ResponseTemplates.$default?.includes('"event":"pong"'))).toBe(
      true,
    );
    expect(responses.some((r) => r.ResponseTemplates.$default?.includes('requestTimeEpoch'))).toBe(
      true,
    );
    template.resourceCountIs('AWS::ApiGatewayV2::RouteResponse', wsGatewayReplies.length);
  });

  it('runs every function on Node.js 22, arm64; the authorizer alone gets the JWT settings', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const props = (fn as { Properties: Record<string, unknown> }).Properties;
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
    }
    // Each function's own environment is checked in least-privilege.test.ts.
    const withIssuer = Object.values(template.findResources('AWS::Lambda::Function'))
      .map(
        (fn) =>
          (fn as { Properties: { Environment?: { Variables?: Record<string, unknown> } } })
            .Properties.Environment?.Variables ?? {},
      )
      .filter((variables) => variables.JWT_ISSUER);
    expect(withIssuer).toHaveLength(1);
    // No -c jwksUri: no guessed JWKS URL; the authorizer reads the issuer's openid-configuration.
    expect(withIssuer[0]).toMatchObject({
      JWT_ISSUER: CONTEXT.jwtIssuer,
      JWT_AUDIENCE: CONTEXT.jwtAudience,
    });
    expect(withIssuer[0]).not.toHaveProperty('JWKS_URI');
  });

  it("pays per message for no trace and no platform log line: X-Ray pass-through, JSON logs with Lambda's own lines at WARN, memory from the sizing table", () => {
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const props = (fn as { Properties: Record<string, unknown> }).Properties;
      expect(props.TracingConfig, id).toEqual({ Mode: 'PassThrough' });
      expect(props.LoggingConfig, id).toMatchObject({ LogFormat: 'JSON', SystemLogLevel: 'WARN' });
      expect(props.MemorySize, id).toBeLessThanOrEqual(DEFAULT_MEMORY_MB);
    }
  });

  it('guards every HTTP route with the JWT authorizer (issuer and audience from context)', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: CONTEXT.jwtIssuer, Audience: [CONTEXT.jwtAudience] },
    });
    const httpRoutesInTemplate = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route'),
    ).filter((r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey.includes(' '));
    expect(httpRoutesInTemplate).toHaveLength(httpRoutes.length);
    for (const r of httpRoutesInTemplate)
      expect((r as { Properties: Record<string, unknown> }).Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: expect.anything(),
      });
  });

  it('throttles each stage, tighter on the send routes, naming only routes that exist', () => {
    const stages = Object.values(template.findResources('AWS::ApiGatewayV2::Stage')).map(
      (s) => s as { Properties: Record<string, never>; DependsOn?: string[] },
    );
    const routeKeys = new Set([
      ...httpRoutes.map((r) => `${r.method} ${r.path}`),
      ...wsRoutes.map((r) => r.routeKey),
    ]);
    const settings = stages.map((s) => s.Properties.RouteSettings ?? {});
    const throttled = Object.assign({}, ...settings) as Record<string, Record<string, number>>;
    expect(Object.keys(throttled).sort()).toEqual(
      [...Object.keys(HTTP_THROTTLE.routes), ...Object.keys(WS_THROTTLE.routes)].sort(),
    );
    for (const [key, value] of Object.entries(throttled)) {
      expect(routeKeys.has(key), key).toBe(true);
      expect(value.ThrottlingRateLimit).toBeLessThan(HTTP_THROTTLE.default.rateLimit);
    }
    for (const stage of stages) {
      expect(stage.Properties.DefaultRouteSettings).toMatchObject({
        ThrottlingRateLimit: expect.any(Number),
        ThrottlingBurstLimit: expect.any(Number),
      });
      // CloudFormation refuses route settings for a route the stage may not see yet.
      if (Object.keys(stage.Properties.RouteSettings ?? {}).length)
        expect(stage.DependsOn?.length).toBeGreaterThan(0);
    }
  });

  it('guards $connect with the Lambda authorizer and the chosen identity sources', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: [...wsConnectIdentitySource],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('gives every queue a DLQ and every DLQ an alarm', () => {
    const all = template.findResources('AWS::SQS::Queue');
    const withRedrive = Object.values(all).filter(
      (q) => (q as { Properties: { RedrivePolicy?: unknown } }).Properties.RedrivePolicy,
    );
    expect(withRedrive).toHaveLength(queues.length);
    const dlqCount = Object.keys(all).length - withRedrive.length;
    expect(dlqCount).toBe(queues.length + 1);
    const dlqAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) =>
        (a as { Properties: { MetricName: string } }).Properties.MetricName ===
        'ApproximateNumberOfMessagesVisible',
    );
    expect(dlqAlarms).toHaveLength(dlqCount);
  });

  it('reads the stream with bisect, partial batch responses, a retry cap and an on-failure destination', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    const sqsMappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping'),
    ).filter((m) => !(m as { Properties: Record<string, unknown> }).Properties.StartingPosition);
    expect(sqsMappings).toHaveLength(queues.filter((q) => q.consumer).length);
    for (const m of sqsMappings) {
      expect(
        (m as { Properties: Record<string, unknown> }).Properties.FunctionResponseTypes,
      ).toEqual(['ReportBatchItemFailures']);
    }
  });

  it('keeps each queue visible for at least six times its consumer timeout', () => {
    const timeouts = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => (f as { Properties: { Timeout: number } }).Properties.Timeout,
    );
    for (const q of Object.values(template.findResources('AWS::SQS::Queue'))) {
      const props = (q as { Properties: { RedrivePolicy?: unknown; VisibilityTimeout?: number } })
        .Properties;
      if (props.RedrivePolicy)
        expect(props.VisibilityTimeout).toBeGreaterThanOrEqual(6 * Math.max(...timeouts));
    }
  });

  it('schedules the presence sweeper on EventBridge', () => {
    template.resourceCountIs('AWS::Events::Rule', schedules.length);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });
});

describe('stage options', () => {
  const synthWith = (context: Record<string, unknown>) =>
    Template.fromStack(
      buildApp(new App({ context: { ...CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } }))
        .stack,
    );

  it("-c capacity=provisioned: a provisioned table whose reads and writes, and each index's, auto scale on utilization", () => {
    const provisioned = synthWith({ capacity: 'provisioned' });
    provisioned.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: Match.absent(),
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
    });
    const dimensions = Object.values(
      provisioned.findResources('AWS::ApplicationAutoScaling::ScalableTarget'),
    ).map((t) => (t as { Properties: { ScalableDimension: string } }).Properties.ScalableDimension);
    const indexes = tableSchema.globalIndexes.length;
    expect(dimensions.sort()).toEqual(
      [
        'dynamodb:table:ReadCapacityUnits',
        'dynamodb:table:WriteCapacityUnits',
        ...Array(indexes).fill('dynamodb:index:ReadCapacityUnits'),
        ...Array(indexes).fill('dynamodb:index:WriteCapacityUnits'),
      ].sort(),
    );
    provisioned.resourcePropertiesCountIs(
      'AWS::ApplicationAutoScaling::ScalingPolicy',
      {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 70 }),
      },
      2 + 2 * indexes,
    );
  });

  it('-c tracing=active turns X-Ray on for every function', () => {
    const traced = synthWith({ tracing: 'active' });
    for (const fn of Object.values(traced.findResources('AWS::Lambda::Function')))
      expect((fn as { Properties: Record<string, unknown> }).Properties.TracingConfig).toEqual({
        Mode: 'Active',
      });
  });

  /** Each function's PUSH_APPLICATIONS, parsed; functions without it left out. */
  const pushSettingsOf = (template: Template) =>
    Object.values(template.findResources('AWS::Lambda::Function')).flatMap((fn) => {
      const value = (fn as { Properties: { Environment?: { Variables?: Record<string, string> } } })
        .Properties.Environment?.Variables?.PUSH_APPLICATIONS;
      return value === undefined ? [] : [JSON.parse(value) as Record<string, string>];
    });
  const APNS = 'arn:aws:sns:eu-west-1:123456789012:app/APNS/chat';
  const SANDBOX = 'arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/chat-dev';
  const FCM = 'arn:aws:sns:eu-west-1:123456789012:app/GCM/chat';

  it('-c pushApnsArn, pushApnsSandboxArn, pushFcmArn: one application per platform, to the push functions', () => {
    const both = pushSettingsOf(synthWith({ pushApnsArn: APNS, pushFcmArn: FCM }));
    expect(both).toHaveLength(2);
    for (const setting of both) expect(setting).toEqual({ apns: APNS, fcm: FCM });
    expect(pushSettingsOf(synthWith({ pushApnsSandboxArn: SANDBOX }))[0]).toEqual({
      apns_sandbox: SANDBOX,
    });
    // None: no setting, and (least-privilege.test.ts) no SNS grants.
    expect(pushSettingsOf(synthWith({}))).toEqual([]);
  });

  it('still reads the deprecated -c pushPlatformApplicationArn, by its app/<platform>/ segment', () => {
    expect(pushSettingsOf(synthWith({ pushPlatformApplicationArn: FCM }))[0]).toEqual({
      fcm: FCM,
    });
    expect(
      pushSettingsOf(synthWith({ pushPlatformApplicationArn: APNS, pushFcmArn: FCM }))[0],
    ).toEqual({ apns: APNS, fcm: FCM });
    expect(pushSettingsOf(synthWith({ pushPlatformApplicationArn: SANDBOX }))[0]).toEqual({
      apns_sandbox: SANDBOX,
    });
  });

  it('refuses push applications it cannot route, in one line naming the keys', () => {
    expect(() => synthWith({ pushApnsArn: FCM })).toThrow(
      /^-c pushApnsArn must be an SNS platform application ARN, arn:aws:sns:<region>:<account>:app\/APNS\/<name> \(got "[^"]+"\)$/,
    );
    expect(() => synthWith({ pushApnsArn: APNS, pushApnsSandboxArn: SANDBOX })).toThrow(
      /^Set -c pushApnsArn .* or -c pushApnsSandboxArn .*, not both: [^\n]+$/,
    );
    expect(() =>
      synthWith({
        pushPlatformApplicationArn: 'arn:aws:sns:eu-west-1:123456789012:app/ADM/chat',
      }),
    ).toThrow(
      /^-c pushPlatformApplicationArn \(deprecated: use pushApnsArn, pushApnsSandboxArn, pushFcmArn\)/,
    );
    expect(() =>
      synthWith({
        pushPlatformApplicationArn: FCM,
        pushFcmArn: 'arn:aws:sns:eu-west-1:123456789012:app/GCM/other',
      }),
    ).toThrow(/^-c pushPlatformApplicationArn and -c pushFcmArn name different applications/);
  });

  it('refuses an unknown capacity or tracing value in one line', () => {
    expect(() => synthWith({ capacity: 'reserved' })).toThrow(
      /^-c capacity must be "on-demand" or "provisioned" \(got "reserved"\)$/,
    );
    expect(() => synthWith({ tracing: 'yes' })).toThrow(
      /^-c tracing must be "active" or "off" \(got "yes"\)$/,
    );
  });
});

describe('cdk-nag', () => {
  it('fails synthesis on a finding that was not reviewed', () => {
    // Without bundling (placeholder assets) and without the acknowledgements.
    const app = new App({ context: { ...CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    new ChatStack(app, 'Unreviewed', {
      ...CONTEXT,
      jwksUri: 'https://issuer.example.com/jwks',
      jwtAudience: '',
      pushApplications: '',
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // The failure is cdk-nag's report, not any other synth error: the findings the
    // reviewed stack acknowledges (acknowledgeReviewedFindings) are reported here.
    let thrown: unknown;
    try {
      app.synth();
    } catch (error) {
      thrown = error;
    }
    // cdk-nag's report is the message (each finding with its rule and construct),
    // or, when the report went to a file, the message names that file.
    let report = thrown instanceof Error ? thrown.message : String(thrown);
    const file = report.match(/found in: (\S+validation-report\.json)\s*$/)?.[1];
    if (file) report = readFileSync(file, 'utf8');
    expect(report).toContain('AwsSolutions');
    for (const rule of ['AwsSolutions-APIG4', 'AwsSolutions-IAM4', 'AwsSolutions-IAM5'])
      expect(report).toContain(rule);
    // The unauthorized routes it names are the WebSocket's own (authorized at $connect).
    expect(report).toContain('Unreviewed/WebSocket/Api/send-message-Route/Resource');
  });
});
