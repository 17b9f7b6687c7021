import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { it } from 'vitest';

/** Debian's Chromium, driven headless by the browser tests (.ci/run installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
/** CI services set CI=true; CI=false (or 0, or empty) is a developer's machine. */
const inCi = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());
const missing = `${CHROMIUM} is missing (install Debian's chromium, as .ci/run does, or set CHROMIUM_PATH)`;

/**
 * Call at the top of a browser test file. On a developer's machine without
 * Chromium the file is skipped with a warning; in CI a missing browser is a
 * failing test, not a silent skip.
 */
export function requireChromium(file: string) {
  if (!chromiumAvailable && !inCi) console.warn(`${file} skipped: ${missing}`);
  it.runIf(!chromiumAvailable && inCi)('has Chromium to drive (CI)', () => {
    throw new Error(`${missing}: in CI (CI=${process.env.CI}) this test must run`);
  });
}

/** Headless Chromium with what a test machine needs off. */
export const launchChromium = (extraArgs: readonly string[] = []) =>
  chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', ...extraArgs],
  });
