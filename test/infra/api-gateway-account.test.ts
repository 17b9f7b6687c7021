import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';

/**
 * Issue 24 B7. API Gateway's CloudWatch role is one setting per account and
 * region (AWS::ApiGateway::Account, lib/api-gateway-account.ts): what a second
 * stack of this app in the same account does, and what a teardown leaves. Bundling
 * is skipped (placeholder assets): these checks are about resources.
 */
const ACCOUNT = '123456789012';
const CONTEXT = {
  region: 'eu-west-1',
  jwtIssuer: 'https://auth.chat.acme.io',
  jwtAudience: 'chat-app',
  'aws:cdk:bundling-stacks': [],
};

const savedAccount = process.env.CDK_DEFAULT_ACCOUNT;
// Every stack below deploys to the same account (the CLI passes it as CDK_DEFAULT_ACCOUNT).
process.env.CDK_DEFAULT_ACCOUNT = ACCOUNT;
afterAll(() => {
  if (savedAccount === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
  else process.env.CDK_DEFAULT_ACCOUNT = savedAccount;
});

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

function synth(context: Record<string, unknown>) {
  const { app, stack } = buildApp(new App({ context: { ...CONTEXT, ...context } }));
  app.synth();
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  return { stack, resources };
}

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);

/** The account setting and the role it names. */
function accountSetting(resources: Record<string, Resource>) {
  const accounts = ofType(resources, 'AWS::ApiGateway::Account');
  if (accounts.length === 0) return undefined;
  expect(accounts).toHaveLength(1);
  const [[, account]] = accounts as [[string, Resource]];
  const [roleId] = (account.Properties.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })[
    'Fn::GetAtt'
  ];
  return { account, role: resources[roleId]! };
}

/** Each API stage that logs, with the LogGroup it writes to. */
function accessLogs(resources: Record<string, Resource>) {
  return ofType(resources, 'AWS::ApiGatewayV2::Stage').map(([id, stage]) => {
    const settings = stage.Properties.AccessLogSettings as
      | { DestinationArn: { 'Fn::GetAtt': [string, string] } }
      | undefined;
    expect(settings, `${id} writes access logs`).toBeDefined();
    const [groupId, attribute] = settings!.DestinationArn['Fn::GetAtt'];
    expect(attribute).toBe('Arn');
    const group = resources[groupId]!;
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    return { id, stage, group };
  });
}

describe('a second stack in the same account and region', () => {
  const first = synth({ stage: 'prod' });
  const second = synth({ stage: 'staging', apiGatewayCloudWatchRole: 'false' });

  it('both stacks deploy to the same account and region', () => {
    expect([first.stack.account, first.stack.region]).toEqual([ACCOUNT, 'eu-west-1']);
    expect([second.stack.account, second.stack.region]).toEqual([ACCOUNT, 'eu-west-1']);
  });

  it('the first sets the account role and keeps it, and the setting, when it is deleted', () => {
    const setting = accountSetting(first.resources);
    expect(setting).toBeDefined();
    expect(setting!.account).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(setting!.role).toMatchObject({ Type: 'AWS::IAM::Role', DeletionPolicy: 'Retain' });
    expect(JSON.stringify(setting!.role.Properties.ManagedPolicyArns)).toContain(
      'service-role/AmazonAPIGatewayPushToCloudWatchLogs',
    );
  });

  it('with -c apiGatewayCloudWatchRole=false the second sets no account role and makes none', () => {
    expect(accountSetting(second.resources)).toBeUndefined();
    expect(JSON.stringify(second.resources)).not.toContain('AmazonAPIGatewayPushToCloudWatchLogs');
    expect(
      ofType(second.resources, 'AWS::IAM::Role').filter(([, role]) =>
        JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes(
          'apigateway.amazonaws.com',
        ),
      ),
    ).toEqual([]);
  });

  it("the second still writes its stages' access logs, through the role the account already has", () => {
    const stages = accessLogs(second.resources);
    // The HTTP API's $default stage and the WebSocket stage.
    expect(stages.map(({ stage }) => stage.Properties.StageName).sort()).toEqual([
      '$default',
      'staging',
    ]);
    // Nothing in the second stack to wait for: the setting is the first stack's.
    for (const { stage } of stages)
      for (const dependency of stage.DependsOn ?? [])
        expect(second.resources[dependency]?.Type).not.toBe('AWS::ApiGateway::Account');
  });

  it('two stacks that both set the role (the default) each keep their own role and setting on delete', () => {
    // The last deploy points the account at its role; either role can write the logs,
    // and deleting either stack leaves the setting and the role it names in place.
    const again = synth({ stage: 'staging' });
    const settings = [accountSetting(first.resources), accountSetting(again.resources)];
    for (const setting of settings) {
      expect(setting?.account.DeletionPolicy).toBe('Retain');
      expect(setting?.role.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('teardown of the access-log groups', () => {
  it('the dev stage (its data deleted on teardown) deletes the HTTP and WebSocket access logs too', () => {
    const { resources } = synth({ stage: 'dev' });
    const stages = accessLogs(resources);
    expect(stages).toHaveLength(2);
    for (const { id, group } of stages)
      expect({ id, policy: group.DeletionPolicy }).toEqual({ id, policy: 'Delete' });
  });

  it('every other stage keeps them', () => {
    for (const stage of ['prod', 'test']) {
      const { resources } = synth({ stage });
      const stages = accessLogs(resources);
      expect(stages).toHaveLength(2);
      for (const { id, group } of stages)
        expect({ stage, id, policy: group.DeletionPolicy }).toEqual({
          stage,
          id,
          policy: 'Retain',
        });
    }
  });
});
