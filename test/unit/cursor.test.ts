import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { openCursor, sealCursor } = await import('#store/cursor.ts');
const { AppError } = await import('#platform/errors.ts');

/** Cursors are sealed (AES-256-GCM) and bound to their list and user (issue 11, hole 7). */
const KEY = process.env.CURSOR_KEY!;
afterEach(() => {
  process.env.CURSOR_KEY = KEY;
});

const payload = { gsi1pk: 'USER#ann#INBOX', gsi1sk: '2026-01-01T00:00:00.000Z#ROOM#r1', n: 7 };

/** The 400 a client sees, or 'opened' when the cursor was accepted. */
function outcome(open: () => unknown): string {
  try {
    open();
    return 'opened';
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return `${error.status} ${error.code} ${error.message}`;
  }
}

describe('sealed cursors', () => {
  it('opens for the same list and user, and shows nothing of the payload', () => {
    const token = sealCursor('room-list', 'ann', payload);
    expect(openCursor('room-list', 'ann', token)).toEqual(payload);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const decoded = Buffer.from(token, 'base64url').toString('latin1');
    for (const leak of ['USER#', 'ROOM#', 'gsi1', 'ann', '2026']) {
      expect(decoded).not.toContain(leak);
      expect(token).not.toContain(leak);
    }
    // A fresh IV each time: equal payloads do not give equal tokens.
    expect(sealCursor('room-list', 'ann', payload)).not.toBe(token);
  });

  it.each([
    ['another user', 'room-list', 'bob'],
    ['another list', 'sync', 'ann'],
    ['a user id that is a prefix', 'room-list', 'an'],
  ])('refuses a cursor presented by %s with 400 naming the field', (_who, purpose, user) => {
    const token = sealCursor('room-list', 'ann', payload);
    expect(outcome(() => openCursor(purpose, user, token))).toMatch(
      /^400 VALIDATION_ERROR Invalid query: cursor: /,
    );
  });

  it('names the field the client used', () => {
    expect(outcome(() => openCursor('sync', 'ann', 'nope', 'since'))).toMatch(
      /^400 VALIDATION_ERROR Invalid query: since: /,
    );
  });

  it('refuses a cursor sealed under another key', () => {
    const token = sealCursor('room-list', 'ann', payload);
    process.env.CURSOR_KEY = 'another-deployment-key-material-0123456789';
    expect(outcome(() => openCursor('room-list', 'ann', token))).toMatch(/^400 /);
  });

  it('refuses every single-bit change and every truncation (property)', () => {
    const token = sealCursor('room-list', 'ann', payload);
    const raw = Buffer.from(token, 'base64url');
    fc.assert(
      fc.property(
        fc.nat({ max: raw.length * 8 - 1 }),
        fc.nat({ max: raw.length - 1 }),
        (bit, cut) => {
          const flipped = Buffer.from(raw);
          flipped[bit >> 3]! ^= 1 << (bit & 7);
          expect(
            outcome(() => openCursor('room-list', 'ann', flipped.toString('base64url'))),
          ).toMatch(/^400 /);
          expect(
            outcome(() =>
              openCursor('room-list', 'ann', raw.subarray(0, cut).toString('base64url')),
            ),
          ).toMatch(/^400 /);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses arbitrary strings, including forged JSON in base64 (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 3000 }),
          fc
            .jsonValue()
            .map((v) => Buffer.from(JSON.stringify(v) ?? '', 'utf8').toString('base64url')),
        ),
        (token) => {
          expect(outcome(() => openCursor('room-list', 'ann', token))).toMatch(/^400 /);
        },
      ),
      { numRuns: 300 },
    );
  });
});

it('refuses the old unsealed form (base64 JSON of a table key)', () => {
  const old = Buffer.from(JSON.stringify({ pk: 'USER#ann', sk: 'ROOM#r1' })).toString('base64url');
  expect(outcome(() => openCursor('room-list', 'ann', old))).toMatch(/^400 VALIDATION_ERROR/);
});

it('keeps the local key in DATA_DIR, so cursors survive a restart of npm start', async () => {
  const { mkdtempSync, statSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { loadOrCreateCursorKey } = await import('#local/cursor-key.ts');
  const dir = mkdtempSync(`${tmpdir()}/cursor-key-`);
  try {
    const first = loadOrCreateCursorKey(dir);
    process.env.CURSOR_KEY = first;
    const token = sealCursor('room-list', 'ann', 'position');
    // A restart reads the same material back; a stack without DATA_DIR makes a new one.
    process.env.CURSOR_KEY = loadOrCreateCursorKey(dir);
    expect(openCursor('room-list', 'ann', token)).toBe('position');
    expect(statSync(`${dir}/cursor-key`).mode & 0o777).toBe(0o600);
    process.env.CURSOR_KEY = loadOrCreateCursorKey(undefined);
    expect(outcome(() => openCursor('room-list', 'ann', token))).toMatch(/^400 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
