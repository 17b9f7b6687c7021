import { LIMITS } from '#platform/limits.ts';
import { publishPush } from '#platform/push.ts';
import { getConnections } from '#store/connections.ts';
import { getMember } from '#store/members.ts';
import { putPending } from '#store/pending.ts';
import { claimPushSlot, confirmPushSent, listDevices } from '#store/push.ts';
import type { OfflineDelivery } from './offline-queue.ts';
import { flushPending } from './pending.ts';
import { isMutedNow } from './views.ts';

/**
 * The offline-delivery consumer's work for one message. Every step is safe to
 * repeat under SQS redelivery:
 * 1. keep the message pending (a conditional put: the same message, the same key);
 * 2. if the user connected meanwhile, their flush may already have run: flush now;
 * 3. push, unless the room is muted or a push already went out in this burst.
 *    The burst slot is claimed for this message, then confirmed once published:
 *    a replay after the confirmation sends none, a replay after a crash before
 *    it sends the push that was lost.
 */
export async function acceptOfflineDelivery(
  { user_id, message }: OfflineDelivery,
  now = Date.now(),
) {
  await putPending(user_id, message, now);
  const live = (await getConnections([user_id], now)).get(user_id) ?? [];
  if (live.length > 0) {
    const { blocked } = await flushPending(
      user_id,
      live.map((c) => c.id),
    );
    if (!blocked) return { pushed: false };
  }
  const member = await getMember(user_id, message.room_id);
  if (!member || isMutedNow(member, now)) return { pushed: false };
  if (!(await claimPushSlot(user_id, message.id, now, LIMITS.pushBurstWindowMs)))
    return { pushed: false };
  const devices = await listDevices(user_id);
  await publishPush(
    user_id,
    devices.flatMap((d) => (d.endpoint_arn ? [d.endpoint_arn] : [])),
    {
      title: message.sender_name,
      // The server cannot read encrypted content, and never forwards it to a push service.
      body: message.is_encrypted
        ? 'New encrypted message'
        : message.content.slice(0, 180) || 'New message',
      data: { room_id: message.room_id, message_id: message.id },
    },
  );
  await confirmPushSent(user_id, message.id);
  return { pushed: true };
}
