import { describe, expect, it } from 'vitest';
import { updateSettingsBody } from '#domain/schemas.ts';
import { userList } from '#domain/user-list.ts';
import { describeIssues } from '#platform/issues.ts';
import { decide } from '#platform/rate-limit-gcra.ts';
import {
  DEFAULT_RATE_LIMITS,
  parseRule,
  rateLimitConfig,
  rateLimitsFromContext,
} from '#platform/rate-limit-rules.ts';

/**
 * Consent to groups (CONTRACT §9): the settings body and the per-target
 * `addedToGroup` bucket's default. The routes and the refusals themselves are
 * checked over the local stack in test/e2e/group-consent.test.ts.
 */

const refusal = (input: unknown) => {
  const parsed = updateSettingsBody.safeParse(input);
  if (parsed.success) throw new Error(`expected ${JSON.stringify(input)} to be refused`);
  return describeIssues(parsed.error.issues);
};

describe('PUT /api/chat/me/settings body', () => {
  it('takes who_can_add_me "everyone" or "nobody"', () => {
    expect(updateSettingsBody.parse({ who_can_add_me: 'nobody' })).toEqual({
      who_can_add_me: 'nobody',
    });
    expect(updateSettingsBody.parse({ who_can_add_me: 'everyone' })).toEqual({
      who_can_add_me: 'everyone',
    });
  });

  it('refuses an unknown field by name, read_receipts included until its issue lands', () => {
    expect(refusal({ who_can_add_me: 'nobody', read_receipts: false })).toBe(
      'unknown field(s) read_receipts',
    );
    expect(refusal({ who_can_add_me: 'nobody', whoCanAddMe: 'x', extra: 1 })).toBe(
      'unknown field(s) whoCanAddMe, extra',
    );
  });

  it('refuses another value, another type and a missing setting', () => {
    expect(refusal({ who_can_add_me: 'contacts' })).toBe(
      'who_can_add_me: expected one of "everyone", "nobody"',
    );
    expect(refusal({ who_can_add_me: false })).toBe(
      'who_can_add_me: expected one of "everyone", "nobody"',
    );
    expect(refusal({})).toBe('who_can_add_me: expected one of "everyone", "nobody"');
  });
});

describe('the addedToGroup bucket (charged to each user added, not the adder)', () => {
  const rule = parseRule(DEFAULT_RATE_LIMITS.addedToGroup)!;
  /** How many of these arrivals (ms) one target's bucket lets through. */
  const passed = (arrivals: number[]) => {
    let tat: number | undefined;
    return arrivals.filter((now) => {
      const d = decide(tat, now, rule);
      if (d.allowed) tat = d.tat;
      return d.allowed;
    }).length;
  };
  const start = 1_700_000_000_000;

  it("stops the audit's 200 adds of one user in a minute at 20", () => {
    expect(passed(Array.from({ length: 200 }, (_, i) => start + i * 300))).toBe(20);
  });

  it('never limits a busy but normal user: 15 groups at once, then one an hour for a week', () => {
    const arrivals = [
      ...Array.from({ length: 15 }, (_, i) => start + i * 1_000),
      ...Array.from({ length: 7 * 24 }, (_, h) => start + (h + 1) * 3_600_000),
    ];
    expect(passed(arrivals)).toBe(arrivals.length);
  });

  it('can be overridden or turned off per stage, like every bucket', () => {
    expect(rateLimitConfig('{"addedToGroup":"5/h burst 5"}').get('addedToGroup')).toEqual({
      intervalMs: 720_000,
      burst: 5,
    });
    expect(rateLimitConfig('{"addedToGroup":"off"}').get('addedToGroup')).toBeUndefined();
    expect(rateLimitsFromContext({ addedToGroup: '10/h burst 10' })).toBe(
      '{"addedToGroup":"10/h burst 10"}',
    );
  });
});

describe('refusals name the users', () => {
  it('names up to five, then counts the rest', () => {
    expect(userList(['u_a'])).toBe('u_a');
    expect(userList(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c, d, e');
    expect(userList(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toBe('a, b, c, d, e and 2 more');
  });
});
