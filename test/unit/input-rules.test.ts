import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sendMessageBody, storableJsonProblem, wsSendMessage } from '#domain/schemas.ts';
import { describeIssues } from '#platform/issues.ts';
import { LIMITS } from '#platform/limits.ts';

/**
 * Hostile input (issue 11, holes 7 and 9): free-form JSON is checked against
 * what DynamoDB stores, and the encryption flags must agree with the fields.
 * Each refusal names the field and what was expected.
 */
const send = (body: unknown) => {
  const parsed = sendMessageBody.safeParse(body);
  return parsed.success
    ? { ok: true as const, data: parsed.data }
    : { ok: false as const, error: describeIssues(parsed.error.issues) };
};

const nested = (levels: number, leaf: unknown = 1) => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

/** DynamoDB's own rules for a map/list attribute: depth ≤ 32, no empty key. */
function dynamoDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(dynamoDepth));
}

describe('media is JSON DynamoDB will store', () => {
  it.each([
    ['nesting deeper than 8 levels', { media: nested(9) }, /media(\.\w+)+: must nest at most 8/],
    ['an integer above 2^53', { media: { w: 2 ** 53 + 2 } }, /media\.w: must be a number within/],
    ['1e200', { media: { x: 1e200 } }, /media\.x: must be a number within/],
    ['-1e200', { media: [-1e200] }, /media\.0: must be a number within/],
    ['1e-200', { media: { x: 1e-200 } }, /media\.x: must be 0 or at least 1e-130/],
    ['an empty key', { media: { '': 1 } }, /media: must not have an empty key/],
    ['a nested empty key', { media: { a: { '': 1 } } }, /media\.a: must not have an empty key/],
    [
      '__proto__ (as JSON.parse makes it)',
      JSON.parse('{"media":{"__proto__":{"x":1}}}'),
      /media: must not have the key "__proto__"/,
    ],
    ['constructor', { media: { constructor: 1 } }, /media: must not have the key "constructor"/],
    ['prototype', { media: { a: [{ prototype: 1 }] } }, /media\.a\.0: must not have the key/],
    ['a lone surrogate', { media: { s: 'x\ud800' } }, /media\.s: must be valid Unicode text/],
    ['a key over 256 characters', { media: { ['k'.repeat(257)]: 1 } }, /media: keys must be/],
    [
      'more than the media size limit',
      { media: { blob: 'x'.repeat(LIMITS.mediaBytes) } },
      /media: must be at most 16384 bytes/,
    ],
  ])('refuses %s, naming the field', (_name, body, expected) => {
    const result = send({ content: 'hi', ...(body as object) });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toMatch(expected);
  });

  it.each([
    ['8 levels', nested(8)],
    ['the edges of the number range', [1e-130, -1e-130, Number.MAX_SAFE_INTEGER, -0, 0.1 + 0.2]],
    ['empty containers and strings', { a: [], b: {}, c: '', d: null, e: false }],
    ['a typical image', { type: 'image', width: 1080, height: 720, url: 'https://x/y.jpg' }],
  ])('accepts %s', (_name, media) => {
    expect(send({ media })).toMatchObject({ ok: true });
  });

  it('refuses a 5,000-level document without overflowing the stack', () => {
    const raw = `{"content":"x","media":${'['.repeat(5000)}1${']'.repeat(5000)}}`;
    const result = send(JSON.parse(raw));
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toMatch(/^media(\.0)+: must nest at most 8/);
  });

  it('stops reading a deep document at the limit instead of walking all 5,000 levels', () => {
    // Each level counts the reads of its contents; the check must open only the
    // first levels (its cost is a count of steps here; its time is not a unit test's).
    const opened = new Set<number>();
    let media: unknown = 1;
    for (let level = 5000; level >= 1; level--) {
      const inner = [media];
      media = new Proxy(inner, {
        get(target, key, receiver) {
          if (key !== 'length') opened.add(level);
          return Reflect.get(target, key, receiver);
        },
      });
    }
    const problem = storableJsonProblem(media, {
      maxDepth: LIMITS.mediaDepth,
      maxBytes: LIMITS.mediaBytes,
      maxKeyChars: 256,
    });
    expect(problem?.message).toMatch(/must nest at most 8/);
    expect(Math.max(...opened)).toBeLessThanOrEqual(LIMITS.mediaDepth + 1);
  });

  it('accepts only what the DynamoDB marshaller and its limits accept (property)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 12 }),
        fc.oneof(
          fc.double(),
          fc.constantFrom(1e-131, 1e-130, 2 ** 53, 1e200, Number.MAX_SAFE_INTEGER),
        ),
        (value, extra) => {
          const media = { v: value, n: extra };
          const problem = storableJsonProblem(media, {
            maxDepth: LIMITS.mediaDepth,
            maxBytes: LIMITS.mediaBytes,
            maxKeyChars: 256,
          });
          if (problem) {
            expect(send({ content: 'x', media }).ok).toBe(false);
            return;
          }
          // What the document client does before a put: it must not throw.
          const item = marshall({ media }, { convertClassInstanceToMap: false });
          expect(item.media).toBeDefined();
          expect(dynamoDepth(media)).toBeLessThanOrEqual(32);
          const magnitude = Math.abs(extra);
          expect(magnitude === 0 || (magnitude >= 1e-130 && magnitude <= 2 ** 53)).toBe(true);
          // No accepted key is empty or a prototype name (checked on the keys, not on JSON text,
          // where a key made of one quote, `"\""`, looks like an empty one).
          const keys: string[] = [];
          const walk = (v: unknown) => {
            if (Array.isArray(v)) v.forEach(walk);
            else if (v && typeof v === 'object')
              for (const [k, x] of Object.entries(v)) {
                keys.push(k);
                walk(x);
              }
          };
          walk(media);
          expect(keys.filter((k) => ['', '__proto__', 'constructor'].includes(k))).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('content and names are text', () => {
  it('refuses content with a lone surrogate', () => {
    expect(send({ content: 'hi \udc00' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^content: must be valid Unicode text/),
    });
  });
  it('accepts emoji (paired surrogates)', () => {
    expect(send({ content: 'hi 👋🏽' })).toMatchObject({ ok: true });
  });
});

describe('encryption flags must agree with the fields (hole 9)', () => {
  const encrypted = {
    is_encrypted: true,
    encryption_key_id: 'k1',
    encrypted_content: 'Y2lwaGVy',
  };

  it('accepts an encrypted message with no plaintext fields', () => {
    expect(send(encrypted)).toMatchObject({ ok: true, data: { content: '' } });
  });

  it.each([
    ['content', { content: 'plain' }, /^content: must be empty for encrypted messages/],
    ['media', { media: { url: 'https://x/y.jpg' } }, /^media: must be absent for encrypted/],
    ['file_url', { file_url: 'https://x/y.jpg' }, /^file_url: must be absent for encrypted/],
  ])('refuses an encrypted message with plaintext %s', (_field, extra, expected) => {
    const result = send({ ...encrypted, ...extra });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toMatch(expected);
  });

  it('names each missing encryption field', () => {
    const result = send({ is_encrypted: true });
    expect(result.ok ? '' : result.error).toMatch(/encrypted_content: is required/);
    expect(result.ok ? '' : result.error).toMatch(/encryption_key_id: is required/);
  });

  it.each([
    ['encrypted_content', { encrypted_content: 'Y2lwaGVy' }],
    ['encryption_key_id', { encryption_key_id: 'k1' }],
  ])('refuses %s on a message not flagged encrypted', (field, extra) => {
    for (const flag of [{ is_encrypted: false }, {}]) {
      const result = send({ content: 'hi', ...flag, ...extra });
      expect(result.ok).toBe(false);
      expect(result.ok ? '' : result.error).toContain(`${field}: needs is_encrypted: true`);
    }
  });

  it('applies the same rules to the WebSocket frame', () => {
    const result = wsSendMessage.safeParse({ room_id: 'r1', ...encrypted, file_url: 'https://x' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['file_url']);
    expect(wsSendMessage.safeParse({ room_id: 'r1', ...encrypted }).success).toBe(true);
  });

  it('lets null stand for an absent field on a plain message', () => {
    expect(
      send({ content: 'hi', encrypted_content: null, encryption_key_id: null, file_url: null }),
    ).toMatchObject({ ok: true });
  });
});

describe('user ids (hole 2)', () => {
  it('accepts ids named like built-ins, refuses __proto__ and key separators, in bodies and tokens', async () => {
    const { createRoomBody } = await import('#domain/schemas.ts');
    const { callerFromClaims } = await import('#platform/auth.ts');
    const asMember = (id: string) =>
      createRoomBody.safeParse({ type: 'group', name: 'g', member_ids: [id] }).success;
    const asSubject = (id: string) => {
      try {
        return callerFromClaims({ sub: id }).userId === id;
      } catch {
        return false;
      }
    };
    for (const id of ['toString', 'constructor', 'hasOwnProperty', 'valueOf', 'prototype', 'u_1']) {
      expect([id, asMember(id), asSubject(id)]).toEqual([id, true, true]);
    }
    for (const id of ['__proto__', 'a#INBOX', 'a b', '', 'x'.repeat(129)]) {
      expect([id, asMember(id), asSubject(id)]).toEqual([id, false, false]);
    }
  });
});

describe('user ids', () => {
  it('refuses a lone surrogate (DynamoDB refuses the write: the fuzz suite found a 500)', async () => {
    const { isStorableUserId } = await import('#platform/user-id.ts');
    expect(isStorableUserId('\ud800')).toBe(false);
    expect(isStorableUserId('ok\udc00')).toBe(false);
    expect(isStorableUserId('u_😀')).toBe(true);
    expect(isStorableUserId('u_bob')).toBe(true);
  });
});
