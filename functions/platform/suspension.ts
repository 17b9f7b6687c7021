import type { SuspensionRecord } from '#model';
import { getSuspension } from '#store/suspensions.ts';
import { AppError } from './errors.ts';

/**
 * The suspension check every request makes (CONTRACT §9): one eventually
 * consistent GetItem of the caller's suspension item (0.5 read units). "Not
 * suspended" is kept in this container's memory for at most a minute, so a
 * user's requests to a warm container cost one read a minute whatever their
 * number, and a new suspension reaches every container within a minute (the
 * moderator's request closes the user's sockets at once, and `$connect` reads it
 * consistently). "Suspended" is never kept: a lifted or ended suspension frees
 * the user at once, and a suspended user's refused requests are few (their rate
 * limits still apply).
 */
export const SUSPENSION_CACHE_MS = 60_000;
const CACHE_MAX = 10_000;

/** When this container last read that the user is not suspended (epoch ms). */
const clearedAt = new Map<string, number>();

export const suspendedError = (suspension: { until: string | null }) =>
  new AppError(
    'SUSPENDED',
    suspension.until
      ? `Your account is suspended until ${suspension.until}`
      : 'Your account is suspended',
  );

const stands = (suspension: SuspensionRecord | undefined, now: number) =>
  suspension !== undefined && (!suspension.until || Date.parse(suspension.until) > now);

/**
 * Throws 403 SUSPENDED while the user's suspension stands. `fresh`: read it
 * consistently now (a `$connect`, which must not race a suspension).
 */
export async function requireNotSuspended(
  userId: string,
  options: { fresh?: boolean; now?: number } = {},
): Promise<void> {
  const now = options.now ?? Date.now();
  const cleared = options.fresh ? undefined : clearedAt.get(userId);
  if (cleared !== undefined && now - cleared < SUSPENSION_CACHE_MS) return;
  const suspension = await getSuspension(userId, options.fresh === true);
  if (stands(suspension, now)) {
    clearedAt.delete(userId);
    throw suspendedError(suspension!);
  }
  if (clearedAt.size >= CACHE_MAX) clearedAt.clear();
  clearedAt.set(userId, now);
}

/** This container wrote the user's suspension: its next check reads it again. */
export function forgetSuspension(userId: string): void {
  clearedAt.delete(userId);
}

/**
 * Runs checks side by side and throws the first one's refusal (in the order
 * given, not in time), once all have settled: a suspended user hears SUSPENDED,
 * not that they were also over a rate limit.
 */
export async function firstRefusal(
  checks: readonly (Promise<unknown> | undefined)[],
): Promise<void> {
  for (const outcome of await Promise.allSettled(checks)) {
    if (outcome.status === 'rejected') throw outcome.reason;
  }
}
