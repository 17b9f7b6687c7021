import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateWire, wirePath } from '../../client/scripts/generate-wire.ts';

/**
 * The client's wire types are generated into the package (issue 25 item 1):
 * client/src/wire.ts spells out what the server's zod schemas give
 * (client/scripts/wire-spec.ts), so the package needs nothing of `functions/`.
 * A contract change that is not regenerated fails here; that each generated
 * type is exactly the schema's is checked by the compiler
 * (client/scripts/wire-check.ts, part of `npx tsc --noEmit`).
 */
describe('client wire types', () => {
  it('client/src/wire.ts is what client/scripts/generate-wire.ts makes from the schemas today', () => {
    const fresh = generateWire();
    expect(
      readFileSync(wirePath, 'utf8') === fresh,
      'client/src/wire.ts is stale: run npx tsx client/scripts/generate-wire.ts',
    ).toBe(true);
    expect(fresh).not.toMatch(/^import /m);
  }, 60_000);
});
