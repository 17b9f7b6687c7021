import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '#lib/app.ts';
import { DEPLOYED_ASSEMBLY_ENV, DEPLOYED_RECORD_DIR_ENV } from '#local/deployed/env.ts';
import { type Grant, type Judged, unusedGrants } from '#local/deployed/policy.ts';
import { LOCAL_REGION } from '#local/ports.ts';
import { localApplicationArn } from '#local/push-platform.ts';

/**
 * `npm run test:deployed`: the end-to-end suite against the handlers as
 * synthesized. It synthesizes the stack into cdk.out (or, with --reuse, takes
 * the assembly already there), runs test/e2e with the local stack switched to
 * those bundles (local/deployed/), then judges every AWS call each function made
 * against that function's synthesized IAM policies and prints the grants no
 * call used. It fails when a test fails or any call was refused.
 */
const started = performance.now();
const ROOT = resolve(import.meta.dirname, '../..');
const assemblyDir = resolve(ROOT, 'cdk.out');
const reuse = process.argv.includes('--reuse');
const vitestArgs = process.argv.slice(2).filter((a) => a !== '--reuse');

/**
 * Context for the synthesized stack: what a deployer passes, with values the
 * local cloud matches (its SNS platform application, its audience). The issuer
 * is replaced at run time by the local issuer, as every app setting the
 * template declares may be (local/deployed/index.ts).
 */
const CONTEXT = {
  stage: 'e2e',
  region: LOCAL_REGION,
  jwtIssuer: 'https://issuer.e2e.invalid',
  jwtAudience: 'chat-local',
  // The local push platform's applications (local/push-platform.ts), both platforms.
  pushApnsArn: localApplicationArn('apns'),
  pushFcmArn: localApplicationArn('fcm'),
  presenceGraceSeconds: 30,
  // Present, so the per-user limits a test sets reach the functions as on a real stage.
  rateLimits: {},
  // As the CDK CLI does: resources name their construct path and bundle folder.
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
};

if (reuse && existsSync(join(assemblyDir, 'manifest.json'))) {
  console.log(`test:deployed: reusing the assembly in ${assemblyDir}`);
} else {
  const t = performance.now();
  rmSync(assemblyDir, { recursive: true, force: true });
  const { app } = buildApp(new App({ outdir: assemblyDir, context: CONTEXT }));
  app.synth();
  console.log(
    `test:deployed: synthesized ${assemblyDir} in ${((performance.now() - t) / 1000).toFixed(1)} s (cdk-nag passed)`,
  );
}

const recordDir = mkdtempSync(join(tmpdir(), 'chat-deployed-calls-'));
// The JSON report names the failed tests again at the end, where a CI log's tail shows them.
const reportFile = join(recordDir, 'vitest-report.json');
const t = performance.now();
const vitest = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--project',
    'e2e',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
    ...vitestArgs,
  ],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      [DEPLOYED_ASSEMBLY_ENV]: assemblyDir,
      [DEPLOYED_RECORD_DIR_ENV]: recordDir,
    },
  },
);
const e2eSeconds = (performance.now() - t) / 1000;

type Record_ = {
  calls: (Judged & { count: number })[];
  grants: Grant[];
  coldStarts: Record<string, number>;
};
type Report = {
  testResults?: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
};
const report: Report = existsSync(reportFile)
  ? (JSON.parse(readFileSync(reportFile, 'utf8')) as Report)
  : {};
rmSync(reportFile, { force: true });
const firstLine = (text: string | undefined) => (text ?? '').split('\n')[0];
const failedTests = (report.testResults ?? []).flatMap((file) => {
  const failed = file.assertionResults
    .filter((a) => a.status === 'failed')
    .map((a) => ({
      name: `${relative(ROOT, file.name)} > ${a.fullName}`,
      why: firstLine(a.failureMessages[0]),
    }));
  // A file that failed as a whole (an import or a beforeAll) has no failed test of its own.
  return failed.length === 0 && file.status === 'failed'
    ? [{ name: relative(ROOT, file.name), why: firstLine(file.message) }]
    : failed;
});

const records = readdirSync(recordDir).map(
  (f) => JSON.parse(readFileSync(join(recordDir, f), 'utf8')) as Record_,
);
rmSync(recordDir, { recursive: true, force: true });

const calls = records.flatMap((r) => r.calls);
const grants = new Map<string, Grant>();
for (const g of records.flatMap((r) => r.grants))
  grants.set(`${g.fn} ${g.action} ${g.resource}`, g);
const handlerOf = new Map([...grants.values()].map((g) => [g.fn, g.handler]));
const name = (fn: string) => handlerOf.get(fn) ?? fn;

const refused = new Map<string, Judged>();
for (const c of calls)
  if (c.decision !== 'Allowed') refused.set(`${c.fn} ${c.action} ${c.evaluated}`, c);

console.log('\n## AWS calls made by the deployed handlers');
const perFunction = new Map<string, { calls: number; actions: Set<string> }>();
for (const c of calls) {
  const entry = perFunction.get(c.fn) ?? { calls: 0, actions: new Set<string>() };
  entry.calls += c.count;
  entry.actions.add(c.action);
  perFunction.set(c.fn, entry);
}
for (const [fn, { calls: n, actions }] of [...perFunction].sort((a, b) =>
  name(a[0]).localeCompare(name(b[0])),
)) {
  console.log(
    `${name(fn).padEnd(28)} ${String(n).padStart(6)} calls  ${[...actions].sort().join(', ')}`,
  );
}

const unused = unusedGrants([...grants.values()], calls);
console.log('\n## Grants no call used');
const byFn = new Map<string, Grant[]>();
for (const g of unused) byFn.set(g.fn, [...(byFn.get(g.fn) ?? []), g]);
for (const [fn, list] of [...byFn].sort((a, b) => name(a[0]).localeCompare(name(b[0])))) {
  const code = list.filter((g) => !g.service);
  const service = list.length - code.length;
  if (code.length === 0) continue;
  console.log(
    `${name(fn)}${service ? ` (and ${service} used by the Lambda service, not the code)` : ''}`,
  );
  for (const g of code) console.log(`  ${g.action}  ${g.resource}`);
}
const never = [...new Set([...grants.values()].map((g) => g.fn))].filter(
  (fn) => !perFunction.has(fn),
);
if (never.length) console.log(`\nNo AWS call recorded for: ${never.map(name).sort().join(', ')}`);

if (refused.size > 0) {
  console.log('\n## Calls the synthesized IAM policies refuse');
  for (const c of refused.values()) {
    console.log(`${name(c.fn)}: ${c.action} on ${c.evaluated}${c.error ? ` (${c.error})` : ''}`);
  }
}

if (failedTests.length > 0) {
  console.log('\n## Failed tests');
  for (const f of failedTests) console.log(`${f.name}\n  ${f.why}`);
} else if (vitest.status !== 0) {
  console.log(`\nvitest exited with ${vitest.status} (no failed test in its report)`);
}

const total = (performance.now() - started) / 1000;
console.log(
  `\ntest:deployed: ${calls.reduce((n, c) => n + c.count, 0)} calls recorded, ${failedTests.length} tests failed, ${refused.size} refused, ${unused.filter((g) => !g.service).length} grants unused; e2e ${e2eSeconds.toFixed(0)} s, total ${total.toFixed(0)} s`,
);
process.exit(vitest.status !== 0 || refused.size > 0 ? 1 : 0);
