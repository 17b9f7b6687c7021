import { httpRouteOf, wsRoutes } from '#functions/routes.ts';
import { type BucketWrite, chargeRateBuckets } from '#store/rate-limits.ts';
import { AppError, ConfigError } from './errors.ts';
import { decide, maxQueuedTat, retryAfterSeconds } from './rate-limit-gcra.ts';
import {
  type BucketRule,
  FRAME_BUCKET,
  horizonMs,
  QUIET_BUCKETS,
  RATE_LIMITS_ENV,
  type RateBucket,
  type RateLimitConfig,
  rateLimitConfig,
} from './rate-limit-rules.ts';

/**
 * The per-user limiter: draws tokens from GCRA buckets kept in DynamoDB
 * (store/rate-limits.ts), one conditional UpdateItem per check. The http and
 * ws wrappers call it after auth and validation, before the domain runs, so
 * only valid requests are charged. Typing frames are the exception: they are
 * charged in the container's memory (takeLocalTokens), never in the table.
 */

let configValue: RateLimitConfig | undefined;
let ttlHorizonMs = 0;
/** Read once per cold start; a malformed RATE_LIMITS fails the first request loudly. */
function config(): RateLimitConfig {
  if (!configValue) {
    configValue = rateLimitConfig(process.env[RATE_LIMITS_ENV]);
    ttlHorizonMs = horizonMs(configValue);
  }
  return configValue;
}

/**
 * The last TAT this container saw per user and bucket. A TAT only ever moves
 * forward, so this is a lower bound of the stored one: it picks the write that
 * is most likely to succeed first time, and it may refuse a request without a
 * round trip (the table would refuse it too). It never lets a request through:
 * only the conditional write does. Losing it costs at most one extra call.
 * (Deleting a user's item by hand resets the table, not warm containers: they
 * may refuse until the TATs they saw have passed, at most one burst's length.)
 */
const seenTats = new Map<string, number>();
const HINTS_MAX = 10_000;
const hintKey = (userId: string, bucket: string) => `${userId}\n${bucket}`;

function remember(userId: string, bucket: string, tat: number | undefined) {
  if (tat === undefined) return;
  const key = hintKey(userId, bucket);
  if (seenTats.size >= HINTS_MAX) seenTats.clear();
  // Several requests of one user may answer out of order: keep the latest TAT seen.
  seenTats.set(key, Math.max(tat, seenTats.get(key) ?? tat));
}

/** What a cold container knows: nothing (tests use it to stand for another container). */
export function forgetSeenTats() {
  seenTats.clear();
}

/**
 * A write whose condition failed learns the stored TATs and tries again. Every
 * attempt judges the request at its arrival time, never a later clock: TATs
 * only grow, so once a bucket is seen past that time a "queue" write can fail
 * only by being over the limit, and a check ends after at most one wrong guess
 * and one lost race per bucket. (Re-reading the clock instead lets a bucket whose
 * interval is shorter than a round trip flip between plans under a burst, and
 * refuse requests the bucket had room for.)
 */
const MAX_ATTEMPTS = 4;

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * What a request draws: a bucket's one token, or `cost` tokens where a request
 * weighs what it writes (receipts per message id, rooms per batch read marker).
 */
export type Charge = RateBucket | { bucket: RateBucket; cost: number };

interface ActiveCharge {
  bucket: RateBucket;
  rule: BucketRule;
  cost: number;
}

/** The charges whose buckets are on, one entry per bucket (costs of a repeated bucket add up). */
function activeCharges(charges: readonly Charge[]): ActiveCharge[] {
  const byBucket = new Map<RateBucket, ActiveCharge>();
  for (const charge of charges) {
    const { bucket, cost } = typeof charge === 'string' ? { bucket: charge, cost: 1 } : charge;
    const rule = config().get(bucket);
    if (!rule || cost <= 0) continue;
    const known = byBucket.get(bucket);
    if (known) known.cost += Math.ceil(cost);
    else byBucket.set(bucket, { bucket, rule, cost: Math.ceil(cost) });
  }
  return [...byBucket.values()];
}

/** Takes each charge's tokens from its bucket, all or none. Buckets turned "off" are skipped. */
export async function takeTokens(
  userId: string,
  charges: readonly Charge[],
  clock: () => number = Date.now,
): Promise<TakeResult> {
  const active = activeCharges(charges);
  if (active.length === 0) return { allowed: true };
  const now = clock();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const writes: BucketWrite[] = [];
    let refusedMs = 0;
    for (const { bucket, rule, cost } of active) {
      const decision = decide(seenTats.get(hintKey(userId, bucket)), now, rule, cost);
      if (!decision.allowed) refusedMs = Math.max(refusedMs, decision.retryAfterMs);
      else writes.push(writeFor(bucket, rule, cost, decision.plan, decision.tat, now));
    }
    if (refusedMs > 0) return { allowed: false, retryAfterMs: refusedMs };
    const ttl = Math.ceil((now + ttlHorizonMs) / 1000) + 60;
    const outcome = await chargeRateBuckets(userId, writes, ttl);
    for (const [bucket, tat] of Object.entries(outcome.tats)) remember(userId, bucket, tat);
    if (outcome.charged) return { allowed: true };
  }
  // Still losing races to the same user's other requests: that is too many at once.
  return { allowed: false, retryAfterMs: 1000 };
}

function writeFor(
  bucket: RateBucket,
  rule: BucketRule,
  cost: number,
  plan: 'fresh' | 'queue',
  tat: number,
  now: number,
): BucketWrite {
  return plan === 'fresh'
    ? { bucket, kind: 'fresh', now, tat }
    : {
        bucket,
        kind: 'queue',
        now,
        add: cost * rule.intervalMs,
        maxTat: maxQueuedTat(now, rule, cost),
      };
}

/** RATE_LIMITED (429 with Retry-After): `what` says what was too much, the wait follows. */
export function rateLimited(retryAfterMs: number, what = 'Too many requests'): AppError {
  const seconds = retryAfterSeconds(retryAfterMs);
  return new AppError('RATE_LIMITED', `${what}; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}

/** Throws RATE_LIMITED (429 with Retry-After) when any bucket is empty. */
export async function enforceRateLimit(userId: string, charges: readonly Charge[]) {
  const result = await takeTokens(userId, charges);
  if (!result.allowed) throw rateLimited(result.retryAfterMs);
}

/** An HTTP route's bucket, by API Gateway's routeKey ("POST /api/chat/rooms"). */
export function httpRouteBucket(routeKey: string): RateBucket | null {
  const route = httpRouteOf(routeKey);
  // Refuse rather than serve a route whose limit nobody declared.
  if (route === undefined) throw new ConfigError(`Route ${routeKey} has no rate-limit declaration`);
  return route.rateLimit;
}

/**
 * The clock a request is judged by: when API Gateway received it (the event's
 * request time), not when the function got round to it. A burst that waited
 * for containers, or in a local lane, is judged as it arrived, like one served
 * at once. Bounded to the last minute and never in the future.
 */
export function arrivalClock(receivedAtMs: number | undefined): () => number {
  return () => {
    const now = Date.now();
    if (receivedAtMs === undefined || !Number.isFinite(receivedAtMs)) return now;
    return Math.min(now, Math.max(receivedAtMs, now - 60_000));
  };
}

/** Charges a valid HTTP request `cost` tokens of its route's bucket. */
export async function chargeHttpRoute(
  routeKey: string,
  userId: string,
  cost = 1,
  receivedAtMs?: number,
) {
  const bucket = httpRouteBucket(routeKey);
  if (!bucket) return;
  const result = await takeTokens(userId, [{ bucket, cost }], arrivalClock(receivedAtMs));
  if (!result.allowed) throw rateLimited(result.retryAfterMs);
}

/**
 * An invalid frame still draws on the frame budget, so a flood of them is
 * refused too (RATE_LIMITED); a charge that fails for another reason leaves the
 * frame its own answer.
 */
export async function chargeInvalidFrame(userId: string, receivedAtMs?: number) {
  const result = await takeTokens(userId, [FRAME_BUCKET], arrivalClock(receivedAtMs)).catch(
    () => ({ allowed: true }) as const,
  );
  if (!result.allowed) throw rateLimited(result.retryAfterMs);
}

const LIFECYCLE_ROUTES = new Set(['$connect', '$disconnect']);

/**
 * The buckets a frame of `action` draws on: the per-user frame budget and the
 * action's own. Frames of unknown actions ($default) and invalid frames draw on
 * the frame budget alone, so a flood of them is refused like any other.
 * Throws for an action the route table does not declare.
 */
export function wsActionBuckets(action: string): RateBucket[] {
  const route = wsRoutes.find((r) => r.routeKey === action);
  if (!route) throw new ConfigError(`WebSocket action ${action} has no route`);
  if (LIFECYCLE_ROUTES.has(action)) return route.rateLimit ? [route.rateLimit] : [];
  return route.rateLimit ? [FRAME_BUCKET, route.rateLimit] : [FRAME_BUCKET];
}

/**
 * Charges a frame: one token of the frame budget, and `cost` tokens of its
 * action's bucket. A frame of a quiet bucket (typing) is charged in memory
 * (takeLocalTokens) and is 'drop' over its limit: dropped without an answer.
 * Any other is charged in the table and is RATE_LIMITED over its limit.
 */
export async function chargeWsFrame(
  buckets: readonly RateBucket[],
  userId: string,
  cost = 1,
  receivedAtMs?: number,
): Promise<'ok' | 'drop'> {
  const clock = arrivalClock(receivedAtMs);
  if (buckets.some((b) => QUIET_BUCKETS.has(b))) {
    return takeLocalTokens(userId, buckets, clock).allowed ? 'ok' : 'drop';
  }
  const charges = buckets.map((bucket) => (bucket === FRAME_BUCKET ? bucket : { bucket, cost }));
  const result = await takeTokens(userId, charges, clock);
  if (result.allowed) return 'ok';
  throw rateLimited(result.retryAfterMs);
}

/**
 * Buckets kept in this container's memory only: the TAT per user and bucket,
 * for typing frames (issue 15: no DynamoDB write per typing frame, and still a
 * per-user limit). Same GCRA decisions as the table's buckets, with no write.
 *
 * Per container is enough for typing, though a user's frames that land on
 * several warm containers meet one bucket in each:
 * - the protocol lets extra typing frames be dropped quietly, and a frame that
 *   goes through only refreshes an indicator the receivers time out anyway:
 *   nothing is stored, queued or pushed, so a few more or fewer harm nobody;
 * - the limit is there to bound one user's fan-out reads and posts per second,
 *   which it does per container; what all containers together can pass is
 *   bounded by the stage's per-route throttling (lib/websocket-api.ts).
 * Bounded to LOCAL_BUCKETS_MAX entries, least recently charged out first: an
 * entry dropped early only lets that user one more burst.
 */
const localTats = new Map<string, number>();
export const LOCAL_BUCKETS_MAX = 10_000;

/** Takes one token from each bucket in memory, all or none; no I/O. */
export function takeLocalTokens(
  userId: string,
  buckets: readonly RateBucket[],
  clock: () => number = Date.now,
): TakeResult {
  const now = clock();
  const next: [string, number][] = [];
  let refusedMs = 0;
  for (const bucket of buckets) {
    const rule = config().get(bucket);
    if (!rule) continue;
    const key = hintKey(userId, bucket);
    const decision = decide(localTats.get(key), now, rule);
    if (!decision.allowed) refusedMs = Math.max(refusedMs, decision.retryAfterMs);
    else next.push([key, decision.tat]);
  }
  if (refusedMs > 0) return { allowed: false, retryAfterMs: refusedMs };
  for (const [key, tat] of next) {
    // Re-inserted, so the map's order is least recently charged first.
    localTats.delete(key);
    localTats.set(key, tat);
  }
  for (const key of localTats.keys()) {
    if (localTats.size <= LOCAL_BUCKETS_MAX) break;
    localTats.delete(key);
  }
  return { allowed: true };
}

/** How many in-memory buckets this container holds (tests). */
export const localBucketCount = () => localTats.size;

/**
 * $connect over its bucket: the upgrade is refused with 429 and Retry-After
 * (API Gateway answers the handshake with the status $connect returns).
 */
export async function chargeLifecycle(
  routeKey: string,
  userId: string,
  receivedAtMs?: number,
): Promise<{ statusCode: 429; headers: Record<string, string> } | undefined> {
  const result = await takeTokens(userId, wsActionBuckets(routeKey), arrivalClock(receivedAtMs));
  if (result.allowed) return undefined;
  return {
    statusCode: 429,
    headers: { 'Retry-After': String(retryAfterSeconds(result.retryAfterMs)) },
  };
}
