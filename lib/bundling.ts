import { resolve } from 'node:path';
import type { Access } from '#functions/access.ts';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * How every Lambda is bundled; lib/chat-function.ts and the bundle benchmark
 * (bench/bundles.ts) both use it, so the benchmark measures what ships.
 *
 * The AWS SDK is bundled, not left to the runtime: production then runs the
 * exact SDK version the tests ran (the runtime's copy changes under us), and a
 * tree-shaken ESM bundle loads faster than the runtime's node_modules. Three SDK
 * parts are swapped for stand-ins: the credential chain, trimmed to Lambda's
 * environment credentials, event-stream serde, which no service called here uses,
 * and DynamoDB's endpoint discovery, which no operation sent here applies.
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
    '@smithy/core/event-streams': resolve(ROOT, 'functions/platform/no-event-streams.ts'),
    '@aws-sdk/middleware-endpoint-discovery': resolve(
      ROOT,
      'functions/platform/no-endpoint-discovery.ts',
    ),
  },
  // Some CommonJS dependencies call require(); ESM bundles need it defined.
  banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
} as const;

/**
 * Clients a function's bundle leaves out because its declaration
 * (functions/access.ts) says it never calls that service: only clients loaded
 * by a dynamic import() behind a variable such a function is not given (the
 * cursor secret, read at cold start by the functions that page). `npm run
 * test:deployed` runs the bundles with no node_modules, so a function that did
 * load one would fail there.
 */
export function leftOutOf(access: Access): string[] {
  return access.cursorKey ? [] : ['@aws-sdk/client-secrets-manager'];
}
