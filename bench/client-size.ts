import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * What the TypeScript client (client/) adds to an app: its whole entry point
 * bundled for the browser, minified, and gzipped (its wire types are types
 * only and leave nothing behind).
 */
export async function measureClient() {
  const result = await build({
    entryPoints: [resolve(import.meta.dirname, '../client/src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}
