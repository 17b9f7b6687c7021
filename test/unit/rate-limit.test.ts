import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpRoutes, wsRoutes } from '#functions/routes.ts';
import { decide, remaining, retryAfterSeconds } from '#platform/rate-limit-gcra.ts';
import {
  type BucketRule,
  DEFAULT_RATE_LIMITS,
  FRAME_BUCKET,
  horizonMs,
  parseRule,
  rateLimitConfig,
  rateLimitsFromContext,
} from '#platform/rate-limit-rules.ts';
import { setTestEnv } from './support.ts';

setTestEnv();
const limiter = await import('#platform/rate-limit.ts');

/** Runs arrivals (ms, in order) through a GCRA bucket, as the stored TAT would evolve. */
function gcra(rule: BucketRule, arrivals: readonly number[]): boolean[] {
  let tat: number | undefined;
  return arrivals.map((now) => {
    const d = decide(tat, now, rule);
    if (d.allowed) tat = d.tat;
    return d.allowed;
  });
}

/**
 * The oracle: a classic token bucket, kept in integer "credit" (tokens × interval)
 * so no rounding can blur the comparison. Full at the start, refilled continuously.
 */
function tokenBucket(rule: BucketRule, arrivals: readonly number[]): boolean[] {
  const capacity = rule.burst * rule.intervalMs;
  let credit = capacity;
  let last = arrivals[0] ?? 0;
  return arrivals.map((now) => {
    credit = Math.min(capacity, credit + (now - last));
    last = now;
    if (credit < rule.intervalMs) return false;
    credit -= rule.intervalMs;
    return true;
  });
}

const arrivalsArb = fc
  .array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 })
  .map((gaps) => {
    let t = 1_700_000_000_000;
    return gaps.map((g) => {
      t += g;
      return t;
    });
  });
const ruleArb = fc.record({
  intervalMs: fc.integer({ min: 1, max: 500 }),
  burst: fc.integer({ min: 1, max: 50 }),
});

describe('GCRA maths (fake clock)', () => {
  it('lets a full bucket burst exactly `burst`, then one per interval', () => {
    const rule = parseRule('5/s burst 20')!;
    const t0 = 1_000_000;
    const burst = gcra(
      rule,
      Array.from({ length: 21 }, () => t0),
    );
    expect(burst.filter(Boolean)).toHaveLength(20);
    expect(burst[20]).toBe(false);
    // 200 ms later exactly one token is back, not two.
    expect(gcra(rule, [...Array.from({ length: 20 }, () => t0), t0 + 200, t0 + 200])).toEqual([
      ...Array.from({ length: 21 }, () => true),
      false,
    ]);
  });

  it('refuses with the exact wait until the next token', () => {
    fc.assert(
      fc.property(ruleArb, arrivalsArb, (rule, arrivals) => {
        let tat: number | undefined;
        for (const now of arrivals) {
          const d = decide(tat, now, rule);
          if (d.allowed) {
            tat = d.tat;
            continue;
          }
          expect(d.retryAfterMs).toBeGreaterThan(0);
          expect(decide(tat, now + d.retryAfterMs - 1, rule).allowed).toBe(false);
          expect(decide(tat, now + d.retryAfterMs, rule).allowed).toBe(true);
        }
      }),
    );
  });

  it('is a token bucket: the same decisions as the oracle for any arrivals', () => {
    fc.assert(
      fc.property(ruleArb, arrivalsArb, (rule, arrivals) => {
        expect(gcra(rule, arrivals)).toEqual(tokenBucket(rule, arrivals));
      }),
    );
  });

  it('cannot be gamed across a boundary: any stretch of t ms admits at most burst + t/interval', () => {
    fc.assert(
      fc.property(ruleArb, arrivalsArb, (rule, arrivals) => {
        const allowed = arrivals.filter((_, i) => gcra(rule, arrivals)[i]);
        for (let i = 0; i < allowed.length; i++) {
          for (let j = i; j < allowed.length; j++) {
            const span = allowed[j]! - allowed[i]!;
            expect(j - i + 1).toBeLessThanOrEqual(rule.burst + Math.floor(span / rule.intervalMs));
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('weighs requests: a request of cost c is a token bucket drawing c tokens, and one over the burst passes only from a full bucket', () => {
    const weighted = fc.array(
      fc.record({ gap: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 1, max: 80 }) }),
      {
        minLength: 1,
        maxLength: 200,
      },
    );
    fc.assert(
      fc.property(ruleArb, weighted, (rule, requests) => {
        let now = 1_700_000_000_000;
        let tat: number | undefined;
        const capacity = rule.burst * rule.intervalMs;
        // The oracle's credit may go below zero: an oversized request borrows ahead.
        let credit = capacity;
        let last = now;
        for (const { gap, cost } of requests) {
          now += gap;
          credit = Math.min(capacity, credit + (now - last));
          last = now;
          const expected = credit >= Math.min(cost, rule.burst) * rule.intervalMs;
          if (expected) credit -= cost * rule.intervalMs;
          const d = decide(tat, now, rule, cost);
          expect(d.allowed).toBe(expected);
          if (d.allowed) tat = d.tat;
        }
      }),
    );
  });

  it('a weighted request spends its cost: 100 receipts take what 100 one-receipt frames take', () => {
    const rule = parseRule(DEFAULT_RATE_LIMITS.receipts)!;
    const t0 = 1_000_000;
    const big = decide(undefined, t0, rule, 100);
    expect(big).toEqual({ allowed: true, plan: 'fresh', tat: t0 + 100 * rule.intervalMs });
    let tat: number | undefined;
    for (let i = 0; i < 100; i++) {
      const d = decide(tat, t0, rule);
      if (d.allowed) tat = d.tat;
    }
    expect(tat).toBe(big.allowed ? big.tat : -1);
    // Over a second, a flood of 100-id frames writes at most burst + rate receipts.
    let stored: number | undefined;
    let receipts = 0;
    for (let t = t0; t < t0 + 1000; t += 5) {
      const d = decide(stored, t, rule, 100);
      if (d.allowed) {
        stored = d.tat;
        receipts += 100;
      }
    }
    expect(receipts).toBeLessThanOrEqual(rule.burst + 1000 / rule.intervalMs);
  });

  it('the old fixed window let 60 forwards through in 10.7 s; the forward bucket lets 35', () => {
    const rule = parseRule(DEFAULT_RATE_LIMITS.forward)!;
    // 30 just before a minute boundary and 30 just after, 10.7 s apart: the audit's attack.
    const t0 = 60_000 * 1000 - 1;
    const arrivals = [
      ...Array.from({ length: 30 }, () => t0),
      ...Array.from({ length: 30 }, () => t0 + 10_700),
    ];
    const passed = gcra(rule, arrivals).filter(Boolean).length;
    expect(passed).toBe(30 + Math.floor(10_700 / rule.intervalMs));
    expect(passed).toBe(35);
    expect(passed).toBeLessThan(60);
  });

  it('counts what is left', () => {
    const rule = parseRule('1/s burst 3')!;
    expect(remaining(undefined, 0, rule)).toBe(3);
    expect(remaining(2_000, 0, rule)).toBe(1);
    expect(remaining(3_000, 0, rule)).toBe(0);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
  });
});

describe('the contract: a person typing fast is never limited', () => {
  /** What the contract promises to pass: 5 messages/s sustained with bursts of 20. */
  const promise: BucketRule = { intervalMs: 200, burst: 20 };
  const frames = parseRule(DEFAULT_RATE_LIMITS.frames)!;
  const send = parseRule(DEFAULT_RATE_LIMITS.send)!;

  it('every send pattern within 5/s and bursts of 20 passes the send and frame buckets', () => {
    fc.assert(
      fc.property(arrivalsArb, (arrivals) => {
        const typed = arrivals.filter((_, i) => gcra(promise, arrivals)[i]);
        expect(gcra(send, typed).every(Boolean)).toBe(true);
        expect(gcra(frames, typed).every(Boolean)).toBe(true);
      }),
    );
  });

  it('steady 5/s for a minute, then a burst of 20, passes', () => {
    const steady = Array.from({ length: 300 }, (_, i) => i * 200);
    const burst = Array.from({ length: 20 }, () => 60_000);
    expect(gcra(send, [...steady, ...burst]).every(Boolean)).toBe(true);
  });
});

describe('rules and overrides', () => {
  it('parses rules and refuses malformed ones', () => {
    expect(parseRule('5/s burst 20')).toEqual({ intervalMs: 200, burst: 20 });
    expect(parseRule('30/min burst 30')).toEqual({ intervalMs: 2_000, burst: 30 });
    expect(parseRule('100/day burst 100')).toEqual({ intervalMs: 864_000, burst: 100 });
    expect(parseRule('off')).toBeUndefined();
    for (const bad of ['5/s', '0/s burst 1', '5/s burst 0', '5/week burst 2', 'lots']) {
      expect(() => parseRule(bad)).toThrow();
    }
  });

  it('overrides per stage replace single buckets; unknown buckets are refused', () => {
    const config = rateLimitConfig('{"send":"1/s burst 2","typing":"off"}');
    expect(config.get('send')).toEqual({ intervalMs: 1_000, burst: 2 });
    expect(config.get('typing')).toBeUndefined();
    expect(config.get('forward')).toEqual(parseRule(DEFAULT_RATE_LIMITS.forward));
    expect(() => rateLimitConfig('{"sned":"1/s burst 2"}')).toThrow(/unknown bucket/);
    expect(() => rateLimitConfig('[1]')).toThrow();
    expect(() => rateLimitConfig('{"send":5}')).toThrow();
    // The TTL horizon is the slowest bucket's time from empty to full.
    expect(horizonMs(rateLimitConfig(undefined))).toBe(86_400_000);
  });
});

describe('a stage override from CDK context', () => {
  it('takes an object (cdk.json) or a JSON string (-c), and fails the synth on a bad one', () => {
    expect(rateLimitsFromContext(undefined)).toBe('');
    expect(rateLimitsFromContext({ send: '20/s burst 80' })).toBe('{"send":"20/s burst 80"}');
    expect(rateLimitsFromContext('{"typing":"off"}')).toBe('{"typing":"off"}');
    expect(() => rateLimitsFromContext({ send: '20 per second' })).toThrow(/send|20 per second/);
    expect(() => rateLimitsFromContext('{"sends":"1/s burst 1"}')).toThrow(/unknown bucket/);
  });
});

describe('every route declares its bucket', () => {
  it('every route is limited, reads included; HTTP and WebSocket sends share one bucket', () => {
    for (const route of httpRoutes) {
      expect(route.rateLimit, `${route.method} ${route.path}`).not.toBeNull();
      if (route.rateLimit) expect(DEFAULT_RATE_LIMITS).toHaveProperty(route.rateLimit);
    }
    // Unknown actions and invalid frames draw on the frame budget.
    expect(limiter.wsActionBuckets('$default')).toEqual([FRAME_BUCKET]);
    expect(limiter.wsActionBuckets('$disconnect')).toEqual([]);
    const httpSend = httpRoutes.find((r) => r.handler === 'http/send-message');
    const wsSend = wsRoutes.find((r) => r.routeKey === 'send-message');
    expect(httpSend?.rateLimit).toBe('send');
    expect(wsSend?.rateLimit).toBe('send');
    expect(wsRoutes.find((r) => r.routeKey === '$connect')?.rateLimit).toBe('connect');
    expect(DEFAULT_RATE_LIMITS).toHaveProperty(FRAME_BUCKET);
  });
});

describe('typing frames are charged in memory, never in the table', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  afterEach(() => {
    ddb.reset();
    vi.useRealTimers();
  });

  it('a typing charge makes no DynamoDB call, and frames over the typing bucket are dropped', async () => {
    ddb.onAnyCommand().resolves({});
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const typing = limiter.wsActionBuckets('typing');
    expect(typing).toEqual(['frames', 'typing']);
    const rule = parseRule(DEFAULT_RATE_LIMITS.typing)!;
    const burst = [];
    for (let i = 0; i < rule.burst + 5; i++) burst.push(await limiter.chargeWsFrame(typing, 'u_t'));
    expect(burst).toEqual([
      ...Array.from({ length: rule.burst }, () => 'ok'),
      ...Array.from({ length: 5 }, () => 'drop'),
    ]);
    // One interval later, one token is back: one more frame, then dropped again.
    vi.advanceTimersByTime(rule.intervalMs);
    expect(await limiter.chargeWsFrame(typing, 'u_t')).toBe('ok');
    expect(await limiter.chargeWsFrame(typing, 'u_t')).toBe('drop');
    // Per user: another user's frames pass.
    expect(await limiter.chargeWsFrame(typing, 'u_other')).toBe('ok');
    expect(ddb.calls()).toHaveLength(0);

    // Any other frame is still charged in the table: the mock does see those.
    expect(await limiter.chargeWsFrame(limiter.wsActionBuckets('room-archive'), 'u_t')).toBe('ok');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('keeps at most LOCAL_BUCKETS_MAX buckets in memory', () => {
    for (let i = 0; i < limiter.LOCAL_BUCKETS_MAX + 50; i++) {
      expect(limiter.takeLocalTokens(`u_many_${i}`, ['typing']).allowed).toBe(true);
    }
    expect(limiter.localBucketCount()).toBe(limiter.LOCAL_BUCKETS_MAX);
    expect(ddb.calls()).toHaveLength(0);
  });
});
