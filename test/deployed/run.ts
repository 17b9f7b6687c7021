import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '#lib/app.ts';
import { DEPLOYED_ASSEMBLY_ENV, DEPLOYED_RECORD_DIR_ENV } from '#local/deployed/env.ts';
import { type Grant, type Judged, unusedGrants } from '#local/deployed/policy.ts';
import type { TimeoutViolation } from '#local/deployed/runtime.ts';
import { LOCAL_REGION } from '#local/ports.ts';
import { localApplicationArn } from '#local/push-platform.ts';
import { grantLabel, SURVIVORS, survivorKey } from './survivors.ts';

/**
 * `npm run test:deployed`: the end-to-end suite against the handlers as
 * synthesized. It synthesizes the stack into cdk.out (or, with --reuse, takes
 * the assembly already there), runs test/e2e with the local stack switched to
 * those bundles (local/deployed/), then judges every AWS call each function made
 * against that function's synthesized IAM policies, on the call's real ARN.
 *
 * Two passes: the whole suite with push on (both platform applications), then
 * a small one over the files that register devices and deliver to offline
 * members (test/deployed/vitest.config.ts) on the default deploy, synthesized
 * with push disabled (no SNS push grant at all). The second runs after a
 * whole-suite run or with --push-off; --no-push-off skips it.
 *
 * It prints the grants no call used: those explained in survivors.ts with
 * their reason, and the unexplained ones. It fails when a test fails, a call
 * was refused or could not be read, or a function ran past its timeout or called
 * AWS past it. An unused, unexplained grant is printed, not failed: whether a
 * rare path (a 410 during a post, a gap the stream saw first) runs depends on
 * timing, so one run's unused list is not proof, and a flake here would block
 * every change; the list is for whoever edits functions/access.ts.
 */
const started = performance.now();
const ROOT = resolve(import.meta.dirname, '../..');
const assemblyDir = resolve(ROOT, 'cdk.out');
const FLAGS = ['--reuse', '--push-off', '--no-push-off'];
const reuse = process.argv.includes('--reuse');
/** The push-disabled pass runs after a whole-suite run, or when asked for; --no-push-off skips it. */
const pushOff = process.argv.includes('--push-off');
const noPushOff = process.argv.includes('--no-push-off');
const vitestArgs = process.argv.slice(2).filter((a) => !FLAGS.includes(a));

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

/** The default deploy: no push platform application, so no SNS push grant or setting. */
const PUSH_OFF_CONTEXT: Record<string, unknown> = Object.fromEntries(
  Object.entries(CONTEXT).filter(([key]) => key !== 'pushApnsArn' && key !== 'pushFcmArn'),
);

function synthesize(dir: string, context: Record<string, unknown>, label: string) {
  const t = performance.now();
  rmSync(dir, { recursive: true, force: true });
  const { app } = buildApp(new App({ outdir: dir, context }));
  app.synth();
  console.log(
    `test:deployed: synthesized ${label} into ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s (cdk-nag passed)`,
  );
}

if (reuse && existsSync(join(assemblyDir, 'manifest.json'))) {
  console.log(`test:deployed: reusing the assembly in ${assemblyDir}`);
} else {
  synthesize(assemblyDir, CONTEXT, 'the stack (push on, both platforms)');
}

type Record_ = {
  calls: (Judged & { count: number })[];
  grants: Grant[];
  coldStarts: Record<string, number>;
  timeouts?: TimeoutViolation[];
  longest?: Record<string, number>;
  timeoutSeconds?: Record<string, number>;
};
type Report = {
  testResults?: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
};
const firstLine = (text: string | undefined) => (text ?? '').split('\n')[0];

/** One vitest run against an assembly: its failed tests and every function's recorded calls. */
function pass(label: string, assembly: string, args: readonly string[]) {
  const recordDir = mkdtempSync(join(tmpdir(), 'chat-deployed-calls-'));
  // The JSON report names the failed tests again at the end, where a CI log's tail shows them.
  const reportFile = join(recordDir, 'vitest-report.json');
  const t = performance.now();
  console.log(`\ntest:deployed: ${label}`);
  const vitest = spawnSync(
    'npx',
    [
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...args,
    ],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        [DEPLOYED_ASSEMBLY_ENV]: assembly,
        [DEPLOYED_RECORD_DIR_ENV]: recordDir,
      },
    },
  );
  const seconds = (performance.now() - t) / 1000;
  const report: Report = existsSync(reportFile)
    ? (JSON.parse(readFileSync(reportFile, 'utf8')) as Report)
    : {};
  rmSync(reportFile, { force: true });
  const failedTests = (report.testResults ?? []).flatMap((file) => {
    const failed = file.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => ({
        name: `${label}: ${relative(ROOT, file.name)} > ${a.fullName}`,
        why: firstLine(a.failureMessages[0]),
      }));
    // A file that failed as a whole (an import or a beforeAll) has no failed test of its own.
    return failed.length === 0 && file.status === 'failed'
      ? [{ name: `${label}: ${relative(ROOT, file.name)}`, why: firstLine(file.message) }]
      : failed;
  });
  const records = readdirSync(recordDir).map(
    (f) => JSON.parse(readFileSync(join(recordDir, f), 'utf8')) as Record_,
  );
  rmSync(recordDir, { recursive: true, force: true });
  return { label, status: vitest.status, failedTests, records, seconds };
}

const full = vitestArgs.length === 0;
const passes = [
  pass('push on (the whole e2e suite)', assemblyDir, ['--project', 'e2e', ...vitestArgs]),
];

// The default deploy, push disabled: a small pass over what registers devices and
// delivers to offline members, on an assembly synthesized without push applications.
if ((full && !noPushOff) || pushOff) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-deployed-push-off-'));
  try {
    synthesize(dir, PUSH_OFF_CONTEXT, 'the default deploy (push disabled)');
    passes.push(
      pass('push disabled (the default deploy)', dir, [
        '--config',
        'test/deployed/vitest.config.ts',
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const failedTests = passes.flatMap((p) => p.failedTests);
const records = passes.flatMap((p) => p.records);
const calls = records.flatMap((r) => r.calls);
// The grants judged unused are the main assembly's (push on: a superset of push off's).
const grants = new Map<string, Grant>();
for (const g of passes[0]!.records.flatMap((r) => r.grants))
  grants.set(`${g.fn} ${g.action} ${g.resource}`, g);
const handlerOf = new Map(records.flatMap((r) => r.grants).map((g) => [g.fn, g.handler]));
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

const unused = unusedGrants([...grants.values()], calls).filter((g) => !g.service);
const explained = unused.filter((g) => SURVIVORS[survivorKey(g)] !== undefined);
const unexplained = unused.filter((g) => SURVIVORS[survivorKey(g)] === undefined);
const byHandler = (list: readonly Grant[]) => {
  const out = new Map<string, Grant[]>();
  for (const g of [...list].sort((a, b) => survivorKey(a).localeCompare(survivorKey(b))))
    out.set(g.handler, [...(out.get(g.handler) ?? []), g]);
  return out;
};
console.log('\n## Grants no call used');
if (explained.length > 0) {
  console.log('Explained (test/deployed/survivors.ts): used on paths the e2e suite does not reach');
  for (const [handler, list] of byHandler(explained)) {
    console.log(handler);
    for (const g of list)
      console.log(`  ${g.action}  ${grantLabel(g)}: ${SURVIVORS[survivorKey(g)]}`);
  }
}
if (unexplained.length > 0) {
  console.log(
    '\nUnexplained: remove the grant from functions/access.ts, or say in test/deployed/survivors.ts which path uses it',
  );
  for (const [handler, list] of byHandler(unexplained)) {
    console.log(handler);
    for (const g of list) console.log(`  ${g.action}  ${g.resource}  (key "${survivorKey(g)}")`);
  }
}
// An explanation for a grant that no longer exists is stale; one for a grant this
// run happened to use stays (its path is taken in some runs only).
const granted = new Set([...grants.values()].filter((g) => !g.service).map(survivorKey));
const stale = Object.keys(SURVIVORS).filter((key) => !granted.has(key));
const usedThisRun = Object.keys(SURVIVORS).filter(
  (key) => granted.has(key) && !unused.some((g) => survivorKey(g) === key),
);
if (full && usedThisRun.length > 0)
  console.log(
    `\nExplained, and used in this run (a path some runs take): ${usedThisRun.join('; ')}`,
  );
if (stale.length > 0) {
  console.log('\nExplanations for grants that no longer exist (drop them from survivors.ts):');
  for (const key of stale) console.log(`  ${key}`);
}
const never = [...new Set([...grants.values()].map((g) => g.fn))].filter(
  (fn) => !perFunction.has(fn),
);
if (never.length) console.log(`\nNo AWS call recorded for: ${never.map(name).sort().join(', ')}`);

if (refused.size > 0) {
  console.log('\n## Calls the synthesized IAM policies refuse (or that could not be read)');
  for (const c of refused.values()) {
    console.log(`${name(c.fn)}: ${c.action} on ${c.evaluated}${c.error ? ` (${c.error})` : ''}`);
  }
}

const timeouts = records.flatMap((r) => r.timeouts ?? []);
const longest = new Map<string, number>();
const limits = new Map<string, number>();
for (const r of records) {
  for (const [h, ms] of Object.entries(r.longest ?? {}))
    longest.set(h, Math.max(longest.get(h) ?? 0, ms));
  for (const [h, s] of Object.entries(r.timeoutSeconds ?? {})) limits.set(h, s);
}
if (timeouts.length > 0) {
  console.log("\n## Past a function's timeout (the template's Timeout)");
  for (const v of timeouts)
    console.log(
      `${v.handler} (${v.limitMs / 1000} s): ${v.kind === 'invocation' ? 'invocation ' : 'call '}${v.detail}`,
    );
}
const closest = [...longest]
  .map(([h, ms]) => ({ h, ms, share: ms / ((limits.get(h) ?? 1) * 1000) }))
  .sort((a, b) => b.share - a.share)
  .slice(0, 3);
if (closest.length > 0)
  console.log(
    `\nLongest invocations against their timeout: ${closest.map((c) => `${c.h} ${(c.ms / 1000).toFixed(1)} s of ${limits.get(c.h)} s`).join(', ')}`,
  );

if (failedTests.length > 0) {
  console.log('\n## Failed tests');
  for (const f of failedTests) console.log(`${f.name}\n  ${f.why}`);
}
for (const p of passes)
  if (p.status !== 0 && !failedTests.some((f) => f.name.startsWith(`${p.label}:`)))
    console.log(`\nvitest (${p.label}) exited with ${p.status} (no failed test in its report)`);

const total = (performance.now() - started) / 1000;
for (const p of passes)
  console.log(
    `test:deployed [${p.label}]: ${p.records.flatMap((r) => r.calls).reduce((n, c) => n + c.count, 0)} calls, ${p.failedTests.length} tests failed, e2e ${p.seconds.toFixed(0)} s`,
  );
console.log(
  `\ntest:deployed: ${calls.reduce((n, c) => n + c.count, 0)} calls recorded, ${failedTests.length} tests failed, ${refused.size} refused, ${timeouts.length} past a timeout, ${unused.length} grants unused (${explained.length} explained, ${unexplained.length} unexplained); total ${total.toFixed(0)} s`,
);
process.exit(passes.some((p) => p.status !== 0) || refused.size > 0 || timeouts.length > 0 ? 1 : 0);
