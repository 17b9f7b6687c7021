import { LIMITS } from '#platform/limits.ts';
import { logger } from '#platform/observability.ts';
import { enforceRateLimit, rateLimited, takeTokens } from '#platform/rate-limit.ts';
import { getConnections } from '#store/connections.ts';
import { closeConnections } from './close-connections.ts';
import { userList } from './user-list.ts';

/**
 * Per-user caps (docs/limits.md "Caps"; the limits in functions/platform/limits.ts). The
 * rate buckets of routes and frames are charged by the http/ws wrappers; these
 * are the ones that depend on what the request turns out to do.
 */

/** A new room is about to be created (not an existing direct room returned): 429 over the cap. */
export async function chargeRoomCreation(userId: string) {
  await enforceRateLimit(userId, ['roomsCreated']);
}

/**
 * Each user about to be added to a group draws a token from their own
 * `addedToGroup` bucket (not the adder's): one conditional UpdateItem per
 * target, in parallel. Over it: 429 RATE_LIMITED naming the users, with the
 * longest Retry-After. Called before anything is stored, so a refusal stores
 * nothing; the tokens already taken from the other targets of that request
 * stay spent (a refund would be one more write each, and a refused request
 * costs them at most what an accepted one would).
 */
export async function chargeAddedToGroup(targets: readonly string[]) {
  const results = await Promise.all(
    targets.map(async (userId) => ({ userId, result: await takeTokens(userId, ['addedToGroup']) })),
  );
  let waitMs = 0;
  const limited: string[] = [];
  for (const { userId, result } of results) {
    if (result.allowed) continue;
    limited.push(userId);
    waitMs = Math.max(waitMs, result.retryAfterMs);
  }
  if (limited.length === 0) return;
  throw rateLimited(
    waitMs,
    `${userList(limited)} ${limited.length === 1 ? 'was' : 'were'} added to too many groups lately`,
  );
}

/**
 * At most LIMITS.connectionsPerUser open connections per user. Over it, the
 * oldest are closed, never the new one: a phone that lost signal leaves a
 * connection behind until the sweeper finds it, and refusing the new connect
 * would lock the user out behind their own dead sockets. Each closed one is
 * removed at once (a dead socket's close answers 410 and brings no $disconnect).
 */
export async function capConnections(userId: string, newConnectionId: string): Promise<string[]> {
  const live = (await getConnections([userId])).get(userId) ?? [];
  const excess = live.length - LIMITS.connectionsPerUser;
  if (excess <= 0) return [];
  const oldest = live
    .filter((c) => c.id !== newConnectionId)
    .sort((a, b) => a.connected_at.localeCompare(b.connected_at) || a.id.localeCompare(b.id))
    .slice(0, excess)
    .map((c) => c.id);
  await closeConnections(userId, oldest);
  logger.info('closed the oldest connections over the cap', { closed: oldest.length });
  return oldest;
}
