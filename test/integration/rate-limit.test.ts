import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAws } from './support.ts';

/**
 * The per-user limiter against DynamoDB Local: the GCRA buckets' conditional
 * writes, under a fake clock and under concurrency, and that invalid frames are
 * charged to the frame budget alone. Small limits through RATE_LIMITS, as a stage would set them.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let limiter: typeof import('#platform/rate-limit.ts');
let store: typeof import('#store/rate-limits.ts');

beforeAll(async () => {
  aws = await localAws();
  process.env.RATE_LIMITS = JSON.stringify({
    send: '10/s burst 5',
    forward: '1/min burst 10',
    frames: '1/min burst 100',
    keyRead: '200/s burst 30',
    typing: '1/min burst 1',
  });
  limiter = await import('#platform/rate-limit.ts');
  store = await import('#store/rate-limits.ts');
});
afterAll(async () => aws?.stop());

async function rateItem(userId: string): Promise<Record<string, unknown> | undefined> {
  const out = await aws.dynamo.client.send(
    new GetItemCommand({
      TableName: aws.dynamo.tableName,
      Key: { pk: { S: `RATE#${userId}` }, sk: { S: 'RATE' } },
      ConsistentRead: true,
    }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
}

describe('token buckets in DynamoDB', () => {
  it('judges a frame at its arrival time, not when the function got round to it', async () => {
    // send: 10/s burst 5. Six sends that arrived together, two seconds ago, charged
    // 150 ms apart: judged by the clock, the bucket refills between them and all
    // six pass; judged at arrival, the sixth is over the burst.
    const arrived = Date.now() - 2_000;
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 150));
      outcomes.push(
        await limiter.chargeWsFrame(['send'], 'rl_arrival', 1, arrived).then(
          (o) => o,
          (e: Error) => e.message,
        ),
      );
    }
    expect(outcomes.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(outcomes[5]).toMatch(/retry/);
    // A claimed arrival in the future, or long ago, is held to the last minute up to now.
    const clock = limiter.arrivalClock(Date.now() + 60_000);
    expect(clock()).toBeLessThanOrEqual(Date.now());
    expect(limiter.arrivalClock(0)()).toBeGreaterThanOrEqual(Date.now() - 60_001);
    expect(Math.abs(limiter.arrivalClock(undefined)() - Date.now())).toBeLessThan(50);
  });

  it('takes a burst, refuses with the exact wait, and refills one token per interval', async () => {
    let now = Date.now();
    const clock = () => now;
    const take = () => limiter.takeTokens('rl_burst', ['send'], clock);
    for (let i = 0; i < 5; i++) expect(await take()).toEqual({ allowed: true });
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 100 });
    // Another container, with no memory of this user, gets the same answer from the table.
    limiter.forgetSeenTats();
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 100 });
    now += 99;
    expect((await take()).allowed).toBe(false);
    now += 1;
    expect(await take()).toEqual({ allowed: true });
    expect((await take()).allowed).toBe(false);
    // Idle long enough and the bucket is full again, but never fuller than the burst.
    now += 60_000;
    limiter.forgetSeenTats();
    const after = [];
    for (let i = 0; i < 6; i++) after.push((await take()).allowed);
    expect(after).toEqual([true, true, true, true, true, false]);
  });

  it('concurrent checks never let more than the bucket through', async () => {
    limiter.forgetSeenTats();
    const results = await Promise.all(
      Array.from({ length: 40 }, () => limiter.takeTokens('rl_race', ['forward'])),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const refused = results.filter((r) => !r.allowed);
    expect(refused.every((r) => !r.allowed && r.retryAfterMs >= 1)).toBe(true);
  });

  it('a burst within the bucket all passes, even when it refills faster than a round trip', async () => {
    limiter.forgetSeenTats();
    // 30 requests arrive at the same instant; the clock then runs on while they race.
    const arrival = Date.now();
    let reads = 0;
    const clock = () => (reads++ < 30 ? arrival : Date.now());
    const results = await Promise.all(
      Array.from({ length: 30 }, () => limiter.takeTokens('rl_fast', ['keyRead', 'frames'], clock)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(30);
  });

  it('a check on two buckets charges both or neither', async () => {
    limiter.forgetSeenTats();
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, () => limiter.takeTokens('rl_pair', ['frames', 'forward'])),
    );
    const finished = Date.now();
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    // frames (burst 100) had room for all 30, but its TAT shows exactly the 10 charges.
    const item = await rateItem('rl_pair');
    const framesTat = item?.frames as number;
    expect(framesTat).toBeGreaterThanOrEqual(started + 10 * 60_000);
    expect(framesTat).toBeLessThanOrEqual(finished + 10 * 60_000);
    expect(item?.ttl).toBeGreaterThan(finished / 1000);
  });

  it('a check is one conditional write of one capacity unit, for one bucket or two', async () => {
    const now = Date.now();
    const one = await store.chargeRateBuckets(
      'rl_cost',
      [{ bucket: 'send', kind: 'fresh', now, tat: now + 100 }],
      Math.ceil(now / 1000) + 3600,
    );
    expect(one).toMatchObject({ charged: true, capacityUnits: 1 });
    const two = await store.chargeRateBuckets(
      'rl_cost',
      [
        { bucket: 'send', kind: 'queue', now, add: 100, maxTat: now + 400 },
        { bucket: 'frames', kind: 'fresh', now, tat: now + 600 },
      ],
      Math.ceil(now / 1000) + 3600,
    );
    expect(two).toMatchObject({ charged: true, capacityUnits: 1 });
    expect(two.tats).toEqual({ send: now + 200, frames: now + 600 });
    // A failed condition writes nothing and tells the stored state.
    const failed = await store.chargeRateBuckets(
      'rl_cost',
      [{ bucket: 'send', kind: 'fresh', now, tat: now + 100 }],
      Math.ceil(now / 1000) + 3600,
    );
    expect(failed).toEqual({ charged: false, tats: { send: now + 200 }, capacityUnits: 1 });
  });

  it('measures a check: latency of sequential checks on DynamoDB Local', async () => {
    limiter.forgetSeenTats();
    // Counts the requests that reach DynamoDB (a middleware on the real client, not a mock).
    const { ddb } = await import('#platform/clients.ts');
    let requests = 0;
    ddb().middlewareStack.add(
      (next) => async (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const timings: number[] = [];
    for (let i = 0; i < 100; i++) {
      const start = performance.now();
      // A different user each time: every check is a real conditional write.
      const result = await limiter.takeTokens(`rl_lat_${i % 10}`, ['forward']);
      timings.push(performance.now() - start);
      expect(result.allowed).toBe(true);
    }
    ddb().middlewareStack.remove('countRequests');
    // One round trip per check: the first guess of each write is right.
    expect(requests).toBe(100);
    // The baseline: one plain GetItem round trip to the same DynamoDB Local, measured alongside.
    const baseline: number[] = [];
    for (let i = 0; i < 100; i++) {
      const start = performance.now();
      await rateItem(`rl_lat_${i % 10}`);
      baseline.push(performance.now() - start);
    }
    const p = (xs: number[], q: number) =>
      [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!.toFixed(1);
    console.log(
      `rate-limit check on DynamoDB Local: ${requests / 100} request/check, ` +
        `p50 ${p(timings, 0.5)} ms, p95 ${p(timings, 0.95)} ms ` +
        `(a plain GetItem: p50 ${p(baseline, 0.5)} ms, p95 ${p(baseline, 0.95)} ms)`,
    );
  });
});

describe('what a refusal looks like', () => {
  it('over a quiet bucket (typing) the frame is dropped; over any other it is RATE_LIMITED', async () => {
    expect(await limiter.chargeWsFrame(['frames', 'typing'], 'rl_quiet')).toBe('ok');
    expect(await limiter.chargeWsFrame(['frames', 'typing'], 'rl_quiet')).toBe('drop');
    for (let i = 0; i < 5; i++) await limiter.chargeWsFrame(['frames', 'send'], 'rl_loud');
    const refused = await limiter.chargeWsFrame(['frames', 'send'], 'rl_loud').catch((e) => e);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.message).toMatch(/retry in \d+ s/);
  });

  it('$connect over its bucket answers 429 with Retry-After; $disconnect is never charged', async () => {
    for (let i = 0; i < 30; i++) {
      expect(await limiter.chargeLifecycle('$connect', 'rl_conn')).toBeUndefined();
    }
    expect(await limiter.chargeLifecycle('$connect', 'rl_conn')).toMatchObject({
      statusCode: 429,
      headers: { 'Retry-After': expect.stringMatching(/^[1-9]\d*$/) },
    });
    expect(await limiter.chargeLifecycle('$disconnect', 'rl_conn')).toBeUndefined();
  });
});

describe('only valid requests are charged', () => {
  const frame = (body: unknown, userId: string) => ({
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      connectionId: 'conn-rl',
      routeKey: 'send-message',
      eventType: 'MESSAGE',
      authorizer: {
        principalId: userId,
        user_id: userId,
        name: userId,
        exp: String(Math.floor(Date.now() / 1000) + 600),
      },
    },
  });

  it('an invalid frame draws on the frame budget only; a valid one draws on send and frames', async () => {
    const { handler } = await import('#functions/ws/send-message.ts');
    const invoke = handler as unknown as (event: unknown, context: unknown) => Promise<unknown>;
    const context = { getRemainingTimeInMillis: () => 10_000, functionName: 'test' };
    const before = Date.now();
    for (const bad of [
      { action: 'send-message' },
      { action: 'send-message', room_id: 'no spaces allowed', content: 'x' },
      { action: 'send-message', room_id: 'r1', content: 'x'.repeat(10_001) },
    ]) {
      await invoke(frame(bad, 'rl_invalid'), context);
    }
    const afterInvalid = await rateItem('rl_invalid');
    expect(afterInvalid?.send).toBeUndefined();
    // Exactly three frames' worth of the frame budget (1/min), taken from a full bucket.
    const framesTat = afterInvalid?.frames as number;
    expect(framesTat).toBeGreaterThanOrEqual(before + 3 * 60_000);
    expect(framesTat).toBeLessThanOrEqual(Date.now() + 3 * 60_000);
    // Valid, for a room that does not exist: charged, then refused by the domain.
    await invoke(
      frame({ action: 'send-message', room_id: 'r1', content: 'hi' }, 'rl_invalid'),
      context,
    );
    expect(Object.keys((await rateItem('rl_invalid')) ?? {})).toEqual(
      expect.arrayContaining(['send', 'frames']),
    );
  });
});
