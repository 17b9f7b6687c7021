import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { smoke } from '../../scripts/smoke.ts';
import { startStack } from '../support/stack.ts';

/** `npm run smoke` (scripts/smoke.ts) against the local stack: what a deployer runs after `cdk deploy`. */
let env: Awaited<ReturnType<typeof startStack>>;
beforeAll(async () => {
  env = await startStack();
}, 120_000);
afterAll(() => env?.stop());

it('passes every step with two users: token, room, send over WebSocket and HTTP, both received live and listed', async () => {
  const lines: string[] = [];
  await smoke({
    http: env.stack.httpUrl,
    ws: env.stack.wsUrl,
    token: await env.stack.issueToken('smoke_ann', 'Ann'),
    token2: await env.stack.issueToken('smoke_bob', 'Bob'),
    log: (line) => lines.push(line),
  });
  expect(lines).toEqual([
    '✓ the HTTP API accepts the token of smoke_ann',
    expect.stringMatching(/^✓ room \S+ \(direct with smoke_bob\)$/),
    '✓ WebSocket open for both users',
    expect.stringMatching(/^✓ sent over the WebSocket: message-confirmed \S+\.\d+$/),
    expect.stringMatching(/^✓ sent over HTTP: 201 \S+\.\d+$/),
    '✓ smoke_bob received both live (new-chat-message)',
    '✓ both are listed',
  ]);
}, 60_000);

it('as a command: passes with one token (a group of one), and fails in one line on a token the stack refuses', async () => {
  // Asynchronously: the stack answers from this very process.
  const run = (token: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        [
          resolve('node_modules/tsx/dist/cli.mjs'),
          'scripts/smoke.ts',
          '--http',
          env.stack.httpUrl,
          '--ws',
          env.stack.wsUrl,
          '--token',
          token,
        ],
        { encoding: 'utf8', timeout: 60_000 },
        (error, stdout, stderr) =>
          done({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const good = await run(await env.stack.issueToken('smoke_cy', 'Cy'));
  expect(good.status, good.stderr).toBe(0);
  expect(good.stdout).toContain('✓ room');
  expect(good.stdout.trim().split('\n').at(-1)).toBe('smoke: every step passed');

  const forged = (await env.stack.issueToken('smoke_dee', 'Dee')).replace(/.{8}$/, 'AAAAAAAA');
  const bad = await run(forged);
  expect(bad.status).toBe(1);
  expect(bad.stderr.trim().split('\n')).toEqual([
    expect.stringMatching(/^✗ GET \/api\/chat\/rooms: 401 .*check the stack's issuer and audience/),
  ]);
}, 90_000);
