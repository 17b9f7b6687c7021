import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { allHandlers } from '#functions/routes.ts';

/**
 * Bundles every Lambda the way lib/chat-function.ts does (minified ESM, @aws-sdk
 * external because the Node 22 runtime provides it), then times a cold import of
 * each bundle in a fresh Node process.
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
  JWKS_URI: 'https://issuer.example.com/.well-known/jwks.json',
  OFFLINE_QUEUE_URL: 'http://127.0.0.1:1/q',
  PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/p',
  PUSH_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:push',
  AWS_REGION: 'us-east-1',
};

export async function measureBundles(): Promise<BundleReport[]> {
  // Inside the project so the bundles resolve @aws-sdk/* from node_modules, as the
  // Lambda runtime resolves its own copy; the import time includes loading it.
  const outdir = resolve('.bench/bundles');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const reports: BundleReport[] = [];
  for (const handler of allHandlers()) {
    const outfile = join(outdir, `${handler.replaceAll('/', '-')}.mjs`);
    await build({
      entryPoints: [resolve('functions', `${handler}.ts`)],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      external: ['@aws-sdk/*'],
      outfile,
      banner: {
        js: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    reports.push({ handler, bytes: statSync(outfile).size, importMs: timeImport(outfile, outdir) });
  }
  return reports;
}

/** Median of 3 cold imports, each in a new process (what a Lambda cold start pays for module init). */
function timeImport(file: string, dir: string): number {
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t);`,
  );
  const runs = [0, 1, 2].map(() =>
    Number(
      execFileSync(process.execPath, [probe], {
        env: { ...process.env, ...ENV },
        cwd: resolve('.'),
      })
        .toString()
        .trim(),
    ),
  );
  return runs.sort((a, b) => a - b)[1]!;
}
