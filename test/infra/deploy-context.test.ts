import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployContextProblem } from '../../bin/deploy-context.ts';

/** Issue 11 hole 6 / issue 13 item 9: a real stage cannot synthesize without a real issuer and audience. */
describe('deploy context', () => {
  const real = { jwtIssuer: 'https://auth.chat.acme.io/', jwtAudience: 'chat-mobile' };

  it('lets only the local and test stages keep the placeholders', () => {
    const placeholders = { jwtIssuer: 'https://issuer.example.com', jwtAudience: '' };
    expect(deployContextProblem({ stage: 'local', ...placeholders })).toBeUndefined();
    expect(deployContextProblem({ stage: 'test', ...placeholders })).toBeUndefined();
    expect(deployContextProblem({ stage: 'prod', ...real })).toBeUndefined();
    for (const [stage, issuer, audience] of [
      ['prod', 'https://issuer.example.com', 'chat-mobile'],
      ['dev', 'https://auth.chat.acme.io/', ''],
      ['prod', 'https://auth.chat.acme.io/', '   '],
      ['prod', 'http://auth.chat.acme.io/', 'chat-mobile'],
      ['prod', '', 'chat-mobile'],
      ['staging', 'not a url', 'chat-mobile'],
    ] as const) {
      const problem = deployContextProblem({ stage, jwtIssuer: issuer, jwtAudience: audience });
      expect(problem, `${stage} ${issuer} ${audience}`).toMatch(
        /^Stage "\w+" needs real JWT settings/,
      );
      expect(problem).not.toContain('\n');
    }
  });

  it('makes `cdk synth` of a real stage with the placeholders fail in one line, before any bundling', () => {
    const run = spawnSync(
      process.execPath,
      [resolve('node_modules/tsx/dist/cli.mjs'), 'bin/app.ts'],
      {
        // What the CDK CLI passes the app: cdk.json's context with the command line's on top.
        env: {
          ...process.env,
          CDK_CONTEXT_JSON: JSON.stringify({
            stage: 'prod',
            jwtIssuer: 'https://issuer.example.com',
            jwtAudience: '',
          }),
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('jwtIssuer');
    expect(lines[0]).toContain('jwtAudience');
  });
});
