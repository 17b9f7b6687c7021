/**
 * Builds the package into client/dist: ES2022 modules (one per source file)
 * and their `.d.ts`, compiled by the repository's TypeScript with
 * client/tsconfig.build.json (strict, exactOptionalPropertyTypes, no Node
 * types). `npm pack` in client/ runs it (prepack).
 *
 *   npx tsx client/scripts/build.ts
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const client = resolve(import.meta.dirname, '..');
const dist = resolve(client, 'dist');

export function buildClient(): string[] {
  rmSync(dist, { recursive: true, force: true });
  const tsc = resolve(client, '../node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', resolve(client, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  const files = readdirSync(dist).sort();
  for (const file of files) {
    const path = resolve(dist, file);
    let text = readFileSync(path, 'utf8');
    // The declarations keep the sources' `./x.ts` specifiers; a published package names its `.js`.
    if (file.endsWith('.d.ts')) {
      text = text.replace(/(from |import\()(['"])(\.\/[\w-]+)\.ts\2/g, '$1$2$3.js$2');
      writeFileSync(path, text);
    }
    // Nothing but the package's own files: no `functions/`, no zod, no Node.
    const specifiers = [
      ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)(['"])([^'"]+)\1/g),
      ...text.matchAll(/\/\/\/\s*<reference\s+\w+="([^"]+)"/g),
    ].map((m) => m[2] ?? m[1]!);
    const outside = specifiers.filter((s) => !/^\.\/[\w-]+\.js$/.test(s));
    if (outside.length > 0 || text.includes('../functions'))
      throw new Error(`client/dist/${file} refers outside the package: ${outside.join(', ')}`);
  }
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`client/dist: ${buildClient().join(', ')}`);
}
