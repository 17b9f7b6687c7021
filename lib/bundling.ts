import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * How every Lambda is bundled; lib/chat-function.ts and the bundle benchmark
 * (bench/bundles.ts) both use it, so the benchmark measures what ships.
 *
 * The AWS SDK is bundled, not left to the runtime: production then runs the
 * exact SDK version the tests ran (the runtime's copy changes under us), and a
 * tree-shaken ESM bundle loads faster than the runtime's node_modules. Only the
 * credential chain is trimmed to Lambda's environment credentials.
 */
export const bundling = {
  format: 'esm',
  target: 'node22',
  platform: 'node',
  minify: true,
  mainFields: ['module', 'main'],
  /** Nothing is external: a bundle must run with no node_modules beside it. */
  external: [] as string[],
  alias: {
    '@aws-sdk/credential-provider-node': resolve(ROOT, 'functions/platform/lambda-credentials.ts'),
  },
  // Some CommonJS dependencies call require(); ESM bundles need it defined.
  banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
} as const;
