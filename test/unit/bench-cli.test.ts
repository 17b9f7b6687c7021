import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * First contact with the benchmarks: a mistyped name is refused with the list
 * of names and exit code 1, before any benchmark starts (bench/run.ts imports a
 * benchmark's module only when it runs, so nothing heavy loads first). How long
 * that takes is not asserted here: a shared machine's timing is no unit test.
 */
describe('npm run bench', () => {
  it('refuses an unknown benchmark with exit code 1 and the names to choose from', () => {
    const run = spawnSync('npm run --silent bench -- nosuch', {
      cwd: resolve(import.meta.dirname, '../..'),
      shell: true,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain('Unknown benchmark "nosuch"');
    for (const name of [
      'bundles',
      'costs',
      'hot-room',
      'big-room',
      'reads',
      'load',
      'noisy-neighbour',
      'client',
    ])
      expect(run.stderr).toContain(name);
    // No benchmark started (each prints a "## " heading first).
    expect(run.stdout).not.toContain('## ');
  }, 30_000);
});
