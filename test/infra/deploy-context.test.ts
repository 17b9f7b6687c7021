import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { buildApp, UsageError } from '../../lib/app.ts';
import { deployContextProblem } from '../../lib/deploy-context.ts';

/**
 * Issue 11 hole 6 / issue 13 item 9 / issue 24 B4: only the local stage synthesizes
 * with cdk.json's placeholder issuer or an empty audience; any other stage needs a
 * real issuer and audience.
 */
describe('deploy context', () => {
  const real = { jwtIssuer: 'https://auth.chat.acme.io/', jwtAudience: 'chat-mobile' };
  const placeholders = { jwtIssuer: 'https://issuer.example.com', jwtAudience: '' };

  it('lets only the local stage keep the placeholders', () => {
    expect(deployContextProblem({ stage: 'local', ...placeholders })).toBeUndefined();
    expect(deployContextProblem({ stage: 'prod', ...real })).toBeUndefined();
    expect(deployContextProblem({ stage: 'test', ...real })).toBeUndefined();
    for (const [stage, issuer, audience] of [
      ['test', 'https://issuer.example.com', ''],
      ['test', 'https://issuer.example.com', 'chat-test'],
      ['test', 'https://auth.chat.acme.io/', ''],
      ['e2e', 'https://localhost/', 'chat-local'],
      ['prod', 'https://issuer.example.com', 'chat-mobile'],
      ['dev', 'https://auth.chat.acme.io/', ''],
      ['prod', 'https://auth.chat.acme.io/', '   '],
      ['prod', 'http://auth.chat.acme.io/', 'chat-mobile'],
      ['prod', '', 'chat-mobile'],
      ['staging', 'not a url', 'chat-mobile'],
      ['Local', 'https://issuer.example.com', ''],
    ] as const) {
      const problem = deployContextProblem({ stage, jwtIssuer: issuer, jwtAudience: audience });
      expect(problem, `${stage} ${issuer} ${audience}`).toMatch(
        /^Stage "\w+" needs real JWT settings: .*Only the local stage synthesizes with placeholders\.$/,
      );
      expect(problem).not.toContain('\n');
    }
  });

  it('refuses a test stage with the placeholders in buildApp itself, the path the tests take', () => {
    for (const context of [
      { stage: 'test', ...placeholders },
      { stage: 'test', jwtIssuer: placeholders.jwtIssuer, jwtAudience: 'chat-test' },
    ]) {
      const build = () =>
        buildApp(new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } }));
      expect(build).toThrow(UsageError);
      expect(build).toThrow(/^Stage "test" needs real JWT settings/);
    }
  });

  it('takes -c jwksUri as an https override of OpenID discovery, and refuses anything else in one line', () => {
    const build = (jwksUri: string) =>
      buildApp(
        new App({
          context: {
            stage: 'test',
            region: 'eu-west-1',
            ...real,
            jwksUri,
            'aws:cdk:bundling-stacks': [],
          },
        }),
      );
    expect(() => build('https://keys.acme.io/certs')).not.toThrow();
    for (const jwksUri of ['http://keys.acme.io/certs', 'keys.acme.io/certs', 'https://']) {
      expect(() => build(jwksUri), jwksUri).toThrow(UsageError);
      expect(() => build(jwksUri), jwksUri).toThrow(/^-c jwksUri must be an https URL/);
    }
  });

  /** `bin/app.ts` as the CDK CLI runs it: cdk.json's context with the command line's on top. */
  const synth = (context: Record<string, unknown>) =>
    spawnSync(process.execPath, [resolve('node_modules/tsx/dist/cli.mjs'), 'bin/app.ts'], {
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({
          ...JSON.parse(readFileSync('cdk.json', 'utf8')).context,
          ...context,
        }),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('makes `cdk synth` of any stage but local with the placeholders fail in one line, before any bundling', () => {
    for (const stage of ['prod', 'test']) {
      const run = synth({ stage });
      expect(run.status, run.stderr).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`Stage "${stage}"`);
      expect(lines[0]).toContain('jwtIssuer');
      expect(lines[0]).toContain('jwtAudience');
      expect(lines[0]).toContain('auth=cognito');
    }
  });
});

describe('-c auth=cognito (issue 25: a first deploy without an identity provider of its own)', () => {
  const build = (context: Record<string, unknown>) =>
    buildApp(
      new App({
        context: {
          stage: 'test',
          region: 'eu-west-1',
          jwtIssuer: 'https://issuer.example.com',
          jwtAudience: '',
          'aws:cdk:bundling-stacks': [],
          ...context,
        },
      }),
    );

  it('creates a user pool, a public app client and the moderators group, and wires both authorizers to them', async () => {
    const { Template, Match } = await import('aws-cdk-lib/assertions');
    const { app, stack } = build({ auth: 'cognito' });
    app.synth(); // cdk-nag runs here: a finding would throw
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      ExplicitAuthFlows: Match.arrayWith(['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'moderators' });
    const pool = Object.keys(template.findResources('AWS::Cognito::UserPool'))[0]!;
    const client = Object.keys(template.findResources('AWS::Cognito::UserPoolClient'))[0]!;
    const issuer = {
      'Fn::Join': ['', ['https://cognito-idp.eu-west-1.amazonaws.com/', { Ref: pool }]],
    };
    // The HTTP API's JWT authorizer and every function's settings name the pool and client.
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: issuer, Audience: [{ Ref: client }] },
    });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }[];
    const authorizer = functions.filter((f) => f.Properties.Environment?.Variables?.JWT_ISSUER);
    expect(authorizer.length).toBeGreaterThan(0);
    for (const f of authorizer) {
      expect(f.Properties.Environment!.Variables!.JWT_ISSUER).toEqual(issuer);
      expect(f.Properties.Environment!.Variables!.JWT_AUDIENCE).toEqual({ Ref: client });
    }
    template.hasOutput('UserPoolId', { Value: { Ref: pool } });
    template.hasOutput('UserPoolClientId', { Value: { Ref: client } });
  });

  it('refuses an issuer of its own beside it, and a hosted domain without it, in one line', () => {
    expect(() => build({ auth: 'cognito', jwtIssuer: 'https://auth.chat.acme.io/' })).toThrow(
      /^-c auth=cognito makes the stack's user pool the issuer; drop -c jwtIssuer=/,
    );
    expect(() => build({ auth: 'okta' })).toThrow(/^-c auth must be "issuer"/);
    expect(() =>
      build({
        cognitoDomain: 'acme-chat',
        jwtIssuer: 'https://auth.chat.acme.io/',
        jwtAudience: 'x',
      }),
    ).toThrow(/^-c cognitoDomain needs -c auth=cognito/);
  });

  it('takes -c corsOrigins for the HTTP API and the attachment bucket, and refuses a path or a bad origin', async () => {
    const { Template } = await import('aws-cdk-lib/assertions');
    const origins = 'https://app.acme.io,http://localhost:5173';
    const template = Template.fromStack(build({ auth: 'cognito', corsOrigins: origins }).stack);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: { AllowOrigins: ['https://app.acme.io', 'http://localhost:5173'] },
    });
    const buckets = Object.values(template.findResources('AWS::S3::Bucket')) as {
      Properties: { CorsConfiguration?: { CorsRules: { AllowedOrigins: string[] }[] } };
    }[];
    const withCors = buckets.filter((b) => b.Properties.CorsConfiguration);
    expect(
      withCors.map((b) => b.Properties.CorsConfiguration!.CorsRules[0]!.AllowedOrigins),
    ).toEqual([['https://app.acme.io', 'http://localhost:5173']]);
    for (const bad of ['https://app.acme.io/path', 'app.acme.io', 'ftp://x.io'])
      expect(() => build({ auth: 'cognito', corsOrigins: bad }), bad).toThrow(
        /^-c corsOrigins takes/,
      );
  });
});
