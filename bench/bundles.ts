import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { access } from '#functions/access.ts';
import { allHandlers } from '#functions/routes.ts';
import { bundling, leftOutOf } from '#lib/bundling.ts';

/**
 * Bundles every Lambda exactly as lib/chat-function.ts does (lib/bundling.ts:
 * minified ESM with the AWS SDK inside), then times a cold import of each bundle
 * in a fresh Node process, from a folder with no node_modules (as in Lambda's
 * /var/task) and with the template's NODE_OPTIONS.
 */
export interface BundleReport {
  handler: string;
  bytes: number;
  importMs: number;
}

const ENV = {
  TABLE_NAME: 'bench',
  WS_ENDPOINT: 'http://127.0.0.1:1',
  JWT_ISSUER: 'https://issuer.example.com',
  JWT_AUDIENCE: 'bench',
  JWKS_URI: 'https://issuer.example.com/.well-known/jwks.json',
  OFFLINE_QUEUE_URL: 'http://127.0.0.1:1/q',
  PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/p',
  PUSH_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:push',
  CURSOR_KEY: 'bench-cursor-key-material-bench-cursor-key-material',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  NODE_OPTIONS: '--enable-source-maps',
};

export async function measureBundles(): Promise<BundleReport[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'chat-bundles-'));
  try {
    const reports: BundleReport[] = [];
    for (const handler of allHandlers()) {
      const dir = join(outdir, handler.replaceAll('/', '-'));
      mkdirSync(dir);
      const outfile = join(dir, 'index.mjs');
      await build({
        entryPoints: [resolve('functions', `${handler}.ts`)],
        bundle: true,
        minify: bundling.minify,
        format: bundling.format,
        platform: bundling.platform,
        target: bundling.target,
        mainFields: [...bundling.mainFields],
        external: [...bundling.external, ...leftOutOf(access[handler] ?? {})],
        alias: bundling.alias,
        banner: { js: bundling.banner },
        sourcemap: true,
        outfile,
        logLevel: 'silent',
      });
      reports.push({ handler, bytes: statSync(outfile).size, importMs: timeImport(outfile, dir) });
    }
    return reports;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Median of 5 cold imports, each in a new process (what a Lambda cold start pays for module init). */
function timeImport(file: string, dir: string): number {
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t);`,
  );
  const runs = [0, 1, 2, 3, 4].map(() =>
    Number(
      execFileSync(process.execPath, [probe], {
        env: ENV,
        cwd: dir,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .toString()
        .trim(),
    ),
  );
  return runs.sort((a, b) => a - b)[2]!;
}
