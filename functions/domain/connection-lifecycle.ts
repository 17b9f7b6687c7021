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
 * A connection is gone ($disconnect, a 410 during a fan-out, or missed
 * heartbeats). When it was the user's last, the grace period starts: a delayed
 * presence check is queued for the moment it ends (the sweeper backs it up).
 */
export async function connectionGone(userId: string, connectionId: string, lastSeen = nowDate()) {
  const remaining = await removeConnection(userId, connectionId);
  if (remaining.length > 0) return;
  const grace = presenceGraceSeconds();
  const dueAt = new Date(lastSeen.getTime() + grace * 1000).toISOString();
  if (await scheduleOffline(userId, dueAt, lastSeen.toISOString())) {
    const check: PresenceCheck = { user_id: userId, due_at: dueAt };
    await enqueue(
      requireEnv(ENV.presenceQueueUrl),
      [check],
      Math.min(MAX_SQS_DELAY_SECONDS, Math.ceil(grace)),
    );
  }
}
