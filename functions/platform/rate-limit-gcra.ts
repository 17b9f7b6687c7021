import type { BucketRule } from './rate-limit-rules.ts';

/**
 * GCRA (the generic cell rate algorithm): a token bucket kept as one number,
 * the bucket's "theoretical arrival time" (TAT). Each request pushes the TAT one
 * interval further; a request is allowed when the pushed TAT stays within
 * `burst` intervals of now. So at most `burst + (t / interval)` requests pass in
 * any stretch of t, wherever it starts: unlike fixed windows, there is no
 * boundary to time a double burst across.
 *
 * Why GCRA and not a classic bucket (tokens + last refill): the whole state is
 * one timestamp, so a check is one conditional UpdateItem whose condition is a
 * comparison DynamoDB can evaluate, and `SET tat = tat + interval` is exact
 * under concurrency. A TAT at or before now means "full", so an absent or
 * expired item needs no special case.
 */

/** The plan of a write: start from now (the bucket was full) or queue behind the stored TAT. */
export type Plan = 'fresh' | 'queue';

export type Decision =
  | { allowed: true; plan: Plan; tat: number }
  | { allowed: false; retryAfterMs: number };

/**
 * A request's cost in tokens: work, not requests. A frame marking 100 messages
 * seen writes 100 receipts and draws 100 tokens. A cost above the burst is
 * let through only when the bucket is full, and then empties it for longer
 * than a burst: the rate stays what it is, whatever a request weighs.
 */
const room = (rule: BucketRule, cost: number) => Math.max(rule.burst, cost) * rule.intervalMs;

/** The decision for one request of `cost` tokens at `now`, given the stored TAT (undefined: never used). */
export function decide(tat: number | undefined, now: number, rule: BucketRule, cost = 1): Decision {
  const fresh = tat === undefined || tat <= now;
  const next = (fresh ? now : tat) + cost * rule.intervalMs;
  const limit = now + room(rule, cost);
  if (next <= limit) return { allowed: true, plan: fresh ? 'fresh' : 'queue', tat: next };
  return { allowed: false, retryAfterMs: next - limit };
}

/**
 * The largest stored TAT that still lets a request of `cost` through at `now`:
 * the condition a "queue" write puts on the item.
 */
export const maxQueuedTat = (now: number, rule: BucketRule, cost = 1) =>
  now + room(rule, cost) - cost * rule.intervalMs;

/** Tokens left at `now` (for tests and diagnostics). */
export function remaining(tat: number | undefined, now: number, rule: BucketRule): number {
  const level = tat === undefined || tat <= now ? 0 : tat - now;
  return Math.floor((rule.burst * rule.intervalMs - level) / rule.intervalMs);
}

/** Retry-After in whole seconds, at least 1 (the 429 of the HTTP API, docs/openapi.json). */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
