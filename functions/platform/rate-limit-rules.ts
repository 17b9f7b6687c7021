/**
 * Per-user rate limits (docs/limits.md): the buckets, their defaults, and how a
 * stage overrides them. Pure data and parsing, so CDK (lib/) can validate an
 * override at synth time with the same code the functions run.
 *
 * A rule reads "<tokens>/<s|min|h|day> burst <n>": the bucket holds at most
 * `burst` tokens and refills at `tokens` per period; "off" disables it.
 */

import { ENV, jsonSettingFromContext } from './env.ts';
import { ConfigError } from './errors.ts';

export const RATE_LIMITS_ENV = ENV.rateLimits;

/**
 * Defaults. Which route charges which bucket is declared beside each route in
 * functions/routes.ts; `frames` is charged by every valid WebSocket frame on
 * top of its action's bucket; `roomsCreated` by each room actually created;
 * `addedToGroup` by each user added to a group, against that user.
 */
export const DEFAULT_RATE_LIMITS = {
  /** Every valid WebSocket frame of a user, whatever its action. */
  frames: '20/s burst 100',
  /**
   * Sends over HTTP and WebSocket share one bucket. The contract promises that
   * 5/s sustained with bursts of 20 always passes; twice that leaves room for
   * arrival jitter and the resends of unconfirmed messages after a reconnect.
   */
  send: '10/s burst 40',
  /** One token per copy: a forward to 10 rooms draws 10. */
  forward: '30/min burst 30',
  /** Room, member, message, device and chat-state changes, and asking for a room. */
  write: '5/s burst 50',
  /**
   * Members added to groups, one token per user (a member item each): an admin
   * can add 500 at once and 50 a second after that.
   */
  members: '50/s burst 500',
  /**
   * Read markers and seen receipts, sent as the user scrolls: one token per
   * receipt or marker a request may write (a frame marking 100 messages seen
   * draws 100), so a user's receipts write at most 50 items a second.
   */
  receipts: '50/s burst 300',
  /**
   * Room lists, rooms, message pages and unread counts. A person opens a room
   * and scrolls a page or two a second; a script reading in parallel is held
   * to this, so it cannot take the table's (or a shared room's partition's)
   * throughput from everyone else.
   */
  reads: '10/s burst 50',
  keyUpload: '20/h burst 20',
  /**
   * Upload slots (CONTRACT §8): a person shares an album of 30 photos at once,
   * then a file every few seconds; each slot is a signed form and a table item.
   */
  uploads: '20/min burst 30',
  /** Reports (CONTRACT §9): a person reports now and then; a flood of them is noise for moderators. */
  reports: '10/h burst 10',
  /** Key lookups take any user id: bounded so they cannot enumerate users cheaply. */
  keyRead: '2/s burst 120',
  keyVerify: '1/s burst 60',
  /** A catch-up can read up to 500 events. */
  sync: '1/s burst 20',
  /**
   * Extra typing frames are dropped quietly (the protocol allows it), not
   * answered. Kept in each container's memory, never in the table
   * (rate-limit.ts takeLocalTokens).
   */
  typing: '2/s burst 5',
  connect: '30/min burst 30',
  /** A cap rather than a rate: new rooms (direct or group) a user may create. */
  roomsCreated: '100/day burst 100',
  /**
   * Charged to each TARGET user added to a group (a new group's members, or
   * POST …/members), never to the adder: two accounts once put one user into
   * 200 groups in a minute, and the adders' own buckets (`roomsCreated`,
   * `write`) cannot see that they share a victim. People are added to a few
   * groups a week; 20 at once covers a busy day (joining a team and its
   * channels), then one every 3 minutes: at most 40 in the first hour and
   * 20 an hour after, so the audit's 200 a minute stops at the 21st.
   * Over it the add is refused (429) and nothing is stored.
   */
  addedToGroup: '20/h burst 20',
} as const satisfies Record<string, string>;

export type RateBucket = keyof typeof DEFAULT_RATE_LIMITS;

/** Buckets whose refusals are dropped without an answer, charged in memory only. */
export const QUIET_BUCKETS: ReadonlySet<RateBucket> = new Set(['typing']);

/** The budget every valid WebSocket frame draws on, besides its action's own bucket. */
export const FRAME_BUCKET: RateBucket = 'frames';

/** One token every `intervalMs`, at most `burst` tokens banked. */
export interface BucketRule {
  intervalMs: number;
  burst: number;
}

const PERIOD_MS = { s: 1_000, min: 60_000, h: 3_600_000, day: 86_400_000 } as const;
const SPEC = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|min|h|day)\s+burst\s+(\d+)\s*$/;

/**
 * Parses a rule; undefined for "off". The interval is whole milliseconds (the
 * stored timestamps are integers), so 3/s is one token every 333 ms.
 */
export function parseRule(spec: string): BucketRule | undefined {
  if (spec.trim() === 'off') return undefined;
  const match = SPEC.exec(spec);
  if (!match)
    throw new ConfigError(`Rate limit "${spec}" is not "<n>/<s|min|h|day> burst <n>" or "off"`);
  const tokens = Number(match[1]);
  const burst = Number(match[3]);
  const period = PERIOD_MS[match[2] as keyof typeof PERIOD_MS];
  if (!(tokens > 0) || !(burst >= 1)) {
    throw new ConfigError(`Rate limit "${spec}" needs a positive rate and a burst of at least 1`);
  }
  return { intervalMs: Math.max(1, Math.round(period / tokens)), burst };
}

export type RateLimitConfig = ReadonlyMap<RateBucket, BucketRule | undefined>;

/**
 * The defaults with a stage's overrides: a JSON object of bucket → rule, e.g.
 * `{"send":"20/s burst 80","typing":"off"}`. An unknown bucket or a malformed
 * rule throws, so a bad override fails at synth time and at cold start.
 */
export function rateLimitConfig(overrides: string | undefined): RateLimitConfig {
  const specs: Record<string, string> = { ...DEFAULT_RATE_LIMITS };
  if (overrides?.trim()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(overrides);
    } catch (cause) {
      throw new ConfigError(`${RATE_LIMITS_ENV} must be a JSON object of bucket → rule`, cause);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`${RATE_LIMITS_ENV} must be a JSON object of bucket → rule`);
    }
    for (const [bucket, spec] of Object.entries(parsed)) {
      if (!Object.hasOwn(DEFAULT_RATE_LIMITS, bucket)) {
        throw new ConfigError(`${RATE_LIMITS_ENV}: unknown bucket "${bucket}"`);
      }
      if (typeof spec !== 'string')
        throw new ConfigError(`${RATE_LIMITS_ENV}: ${bucket} must be a string`);
      specs[bucket] = spec;
    }
  }
  return new Map(
    Object.entries(specs).map(([bucket, spec]) => [bucket as RateBucket, parseRule(spec)]),
  );
}

/** How long any bucket can stay away from full: stored state older than this is void (TTL). */
export function horizonMs(config: RateLimitConfig): number {
  let max = 0;
  for (const rule of config.values()) if (rule) max = Math.max(max, rule.intervalMs * rule.burst);
  return max;
}

/**
 * A stage's `rateLimits` CDK context value (an object in cdk.json, a JSON
 * string on the command line) as the RATE_LIMITS value, checked with the
 * parser the functions use: a bad override fails `cdk synth`, not a request.
 */
export const rateLimitsFromContext = (value: unknown) =>
  jsonSettingFromContext(value, rateLimitConfig);
