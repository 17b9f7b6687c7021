import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { describeIssues } from '#platform/issues.ts';

// Schemas shaped like the handlers' (functions/domain/schemas.ts), so the test
// does not depend on any one route's current rules.
const body = z.object({
  is_read: z.boolean(),
  limit: z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)),
  room_ids: z.array(z.string()).check(z.minLength(1), z.maxLength(2)),
  platform: z.enum(['apns', 'fcm']),
  name: z.string().check(z.minLength(1), z.maxLength(5)),
  file_url: z.optional(z.url()),
  user_id: z.optional(z.string().check(z.regex(/^[^#\s]+$/, 'must not contain # or spaces'))),
});
const valid = { is_read: true, limit: 10, room_ids: ['r'], platform: 'fcm', name: 'ok' };

const describeFor = (input: unknown) => {
  const parsed = body.safeParse(input);
  if (parsed.success) throw new Error('expected a validation failure');
  return describeIssues(parsed.error.issues);
};

describe('validation errors name the field and what was expected', () => {
  it.each([
    [{ is_read: 'true' }, 'is_read: expected boolean, got string'],
    [{ is_read: null }, 'is_read: expected boolean, got null'],
    [{ is_read: undefined }, 'is_read: required (boolean)'],
    [{ limit: 0 }, 'limit: must be at least 1'],
    [{ limit: 1.5 }, 'limit: expected integer, got number'],
    [{ limit: 'lots' }, 'limit: expected number, got NaN'],
    [{ room_ids: [] }, 'room_ids: must not be empty'],
    [{ room_ids: ['a', 'b', 'c'] }, 'room_ids: must be at most 2 items'],
    [{ platform: 'sms' }, 'platform: expected one of "apns", "fcm"'],
    [{ name: 'far too long' }, 'name: must be at most 5 characters'],
    [{ file_url: 'not a url' }, 'file_url: expected a valid url'],
    [{ user_id: 'a b' }, 'user_id: must not contain # or spaces'],
  ])('%j → %s', (change, message) => {
    expect(describeFor({ ...valid, ...change })).toBe(message);
  });

  it('names the discriminator a union expected', () => {
    const union = z.discriminatedUnion('type', [
      z.object({ type: z.literal('direct') }),
      z.object({ type: z.literal('group') }),
    ]);
    const parsed = union.safeParse({ type: 'channel' });
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!.issues)).toBe('type: expected one of "direct", "group"');
  });
});
