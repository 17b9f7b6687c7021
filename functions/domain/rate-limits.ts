import { AppError } from '#platform/errors.ts';
import { takeToken } from '#store/rate-limits.ts';

/** Per-user limits for the costly or abusable actions (CONTRACT §7). */
export const RATE_LIMITS = {
  forward: { windowSeconds: 60, limit: 30 },
  keyUpload: { windowSeconds: 3600, limit: 20 },
  keyRead: { windowSeconds: 60, limit: 120 },
  keyVerify: { windowSeconds: 60, limit: 60 },
} as const;

export type RateLimitedAction = keyof typeof RATE_LIMITS;

/** Throws RATE_LIMITED (429 with Retry-After) when the caller is over the action's limit. */
export async function enforceRateLimit(
  userId: string,
  action: RateLimitedAction,
  now = Date.now(),
) {
  const { windowSeconds, limit } = RATE_LIMITS[action];
  const result = await takeToken(userId, action, windowSeconds, limit, now);
  if (!result.allowed) {
    throw new AppError(
      'RATE_LIMITED',
      `Too many requests; retry in ${result.retryAfterSeconds} s`,
      result.retryAfterSeconds,
    );
  }
}
