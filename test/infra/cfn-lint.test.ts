import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';

/**
 * Issue 24 B8: cfn-lint, CloudFormation's own linter, finds no error and no
 * warning but those .cfnlintrc leaves out (each with its reason) in any template
 * the app synthesizes. cfn-lint is a Python tool: the machine has it, and .ci/run
 * installs it where missing; without it this test fails, it never skips.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const CONFIG = join(ROOT, '.cfnlintrc');
const real = { jwtIssuer: 'https://auth.chat.acme.io', jwtAudience: 'chat-mobile' };

/**
 * Each context that yields a different template, as the other infra tests and the
 * docs/deploy.md uses them. Bundling is skipped (placeholder assets): the
 * templates then differ only in asset hashes, which cfn-lint does not read.
 */
const VARIANTS: Record<string, { region: string; context: Record<string, unknown> }> = {
  // A fresh clone's `npx cdk synth`: cdk.json as it is, region-agnostic, placeholder
  // issuer, no audience. Linted against cfn-lint's default region.
  local: {
    region: 'us-east-1',
    context: JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context,
  },
  // Every option on: pushes, both email subscriptions, the account's API Gateway role,
  // X-Ray traces (`-c tracing=active`), provisioned capacity with auto scaling, per-stage limits; a stage that retains its data.
  prod: {
    region: 'eu-west-1',
    context: {
      stage: 'prod',
      region: 'eu-west-1',
      ...real,
      pushApnsArn: 'arn:aws:sns:eu-west-1:123456789012:app/APNS/chat',
      pushFcmArn: 'arn:aws:sns:eu-west-1:123456789012:app/GCM/chat',
      alarmEmail: 'ops@acme.io',
      reportsEmail: 'safety@acme.io',
      moderatorGroup: 'staff',
      tracing: 'active',
      capacity: 'provisioned',
      rateLimits: '{"send":"5/s burst 20"}',
      limits: { groupMembers: 500, contentChars: 4000 },
    },
  },
  // Every option off: no pushes, no emails, the account's role left to the account;
  // dev destroys its data on teardown.
  dev: {
    region: 'eu-west-1',
    context: { stage: 'dev', region: 'eu-west-1', ...real, apiGatewayCloudWatchRole: 'false' },
  },
  // A first deploy (docs/deploy.md): the stack's own user pool with its hosted sign-in,
  // and one browser origin.
  first: {
    region: 'eu-west-1',
    context: {
      stage: 'first',
      region: 'eu-west-1',
      auth: 'cognito',
      cognitoDomain: 'acme-chat-first',
      cognitoCallbackUrls: 'acmechat://signed-in,https://app.acme.io/signed-in',
      corsOrigins: 'https://app.acme.io',
    },
  },
};

type Finding = {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Location: { Path: (string | number)[] };
  Message: string;
  Rule: { Id: string };
};

/** Runs cfn-lint with .cfnlintrc; refuses to pass when cfn-lint is missing or fails to run. */
function cfnLint(region: string, templates: string[]): Finding[] {
  const run = spawnSync(
    'cfn-lint',
    ['--config-file', CONFIG, '--format', 'json', '--regions', region, '--', ...templates],
    { cwd: ROOT, encoding: 'utf8', timeout: 150_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.error)
    throw new Error(
      `cannot run cfn-lint (${run.error.message}): install it with \`python3 -m pip install cfn-lint\` (bash .ci/run does)`,
    );
  // Its exit code is a bit set of the levels found (2 error, 4 warning, 8 informational);
  // anything else (1, a signal) means it could not lint.
  if (run.status === null || run.status % 2 === 1 || !run.stdout.trim().startsWith('['))
    throw new Error(`cfn-lint failed (exit ${run.status ?? run.signal}): ${run.stderr.trim()}`);
  return JSON.parse(run.stdout) as Finding[];
}

const outdir = mkdtempSync(join(tmpdir(), 'chat-cfn-lint-'));
const templates: Record<string, string> = {};

beforeAll(() => {
  for (const [name, { context }] of Object.entries(VARIANTS)) {
    const dir = join(outdir, name);
    // cdk-nag runs here too, as on every synth.
    const { app } = buildApp(
      new App({ outdir: dir, context: { ...context, 'aws:cdk:bundling-stacks': [] } }),
    );
    app.synth();
    const files = readdirSync(dir).filter((f) => f.endsWith('.template.json'));
    expect(files, name).toHaveLength(1);
    templates[name] = join(dir, files[0]!);
  }
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('cfn-lint over the synthesized templates', () => {
  it('is installed', () => {
    const run = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    expect(
      run.error,
      'cfn-lint is not on PATH: `python3 -m pip install cfn-lint` (bash .ci/run does)',
    ).toBeUndefined();
    expect(run.stdout).toMatch(/^cfn-lint \d+\./);
  });

  it('leaves out no E-level rule (.cfnlintrc)', () => {
    const ignored = [...readFileSync(CONFIG, 'utf8').matchAll(/^\s*-\s*([A-Z]\d+)\b/gm)].map(
      (m) => m[1],
    );
    expect(ignored.length).toBeGreaterThan(0);
    expect(ignored.filter((id) => !id?.startsWith('W'))).toEqual([]);
  });

  it.each(Object.keys(VARIANTS))('finds nothing in the %s stage template', (name) => {
    const findings = cfnLint(VARIANTS[name]!.region, [templates[name]!]);
    expect(
      findings.map(
        (f) =>
          `${f.Rule.Id} (${f.Level}) at ${f.Location.Path.join('/')}: ${f.Message.split('\n')[0]}`,
      ),
    ).toEqual([]);
  });
});
