import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * The push-disabled pass of `npm run test:deployed` (run.ts): the files that
 * register devices and deliver to offline members, against an assembly
 * synthesized with no push platform application (the default deploy). Kept
 * out of `npm test` (`*.e2e.ts`, not `*.test.ts`).
 */
export default defineConfig({
  test: {
    root: resolve(import.meta.dirname, '../..'),
    include: ['test/deployed/**/*.e2e.ts', 'test/e2e/limits-devices.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
