import { ENV, presenceGraceSeconds, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import { nowDate } from '#platform/time.ts';
import { removeConnection } from '#store/connections.ts';
import { scheduleOffline } from '#store/presence.ts';

/** Body of a delayed presence-check message. */
export interface PresenceCheck {
  user_id: string;
  due_at: string;
}

/** SQS caps DelaySeconds at 15 minutes. */
const MAX_SQS_DELAY_SECONDS = 900;

/**
 * A connection found gone while posting to it (a 410 during a fan-out): it is
 * removed, and when it was the user's last the grace period starts on the
 * presence item, where the sweeper (every minute) finds it due. No queue: the
 * functions that fan out then carry no SQS client, and a client that vanished
 * without a $disconnect is shown offline within a minute of its grace period.
 * Returns the presence check a caller may queue for the exact moment.
 */
export async function dropConnection(
  userId: string,
  connectionId: string,
  lastSeen = nowDate(),
): Promise<PresenceCheck | undefined> {
  const remaining = await removeConnection(userId, connectionId);
  if (remaining.length > 0) return undefined;
  const dueAt = new Date(lastSeen.getTime() + presenceGraceSeconds() * 1000).toISOString();
  if (!(await scheduleOffline(userId, dueAt, lastSeen.toISOString()))) return undefined;
  return { user_id: userId, due_at: dueAt };
}

/**
 * A connection is gone ($disconnect, missed heartbeats, an expired token, the
 * per-user cap). When it was the user's last, the grace period starts, and a
 * delayed presence check is queued for the moment it ends (the sweeper backs it up).
 */
export async function connectionGone(userId: string, connectionId: string, lastSeen = nowDate()) {
  const check = await dropConnection(userId, connectionId, lastSeen);
  if (!check) return;
  await enqueue(
    requireEnv(ENV.presenceQueueUrl),
    [check],
    Math.min(MAX_SQS_DELAY_SECONDS, Math.ceil(presenceGraceSeconds())),
  );
}
