import { measureBundles } from './bundles.ts';

const BUNDLE_LIMIT_BYTES = 300 * 1024;
const IMPORT_LIMIT_MS = 150;

async function main() {
  console.log('## Lambda bundles (minified ESM, @aws-sdk external)');
  const bundles = await measureBundles();
  for (const b of bundles) {
    const flag =
      b.bytes > BUNDLE_LIMIT_BYTES || b.importMs > IMPORT_LIMIT_MS ? '  OVER TARGET' : '';
    console.log(
      `${b.handler.padEnd(28)} ${(b.bytes / 1024).toFixed(1).padStart(7)} KB ${b.importMs.toFixed(1).padStart(7)} ms${flag}`,
    );
  }
  const maxKb = Math.max(...bundles.map((b) => b.bytes)) / 1024;
  const maxMs = Math.max(...bundles.map((b) => b.importMs));
  console.log(
    `max bundle ${maxKb.toFixed(1)} KB (target ≤ 300), max import ${maxMs.toFixed(1)} ms (target ≤ 150)`,
  );
}

await main();
