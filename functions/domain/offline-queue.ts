import { ENV, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import type { MessageView } from './views.ts';

/*
 * The send path's half of offline delivery: only the queueing, so a send
 * function does not load what the consumer needs (SNS, pending store).
 */
/** Body of an offline-delivery queue message: one member, one message. */
export interface OfflineDelivery {
  user_id: string;
  message: MessageView;
}

export async function queueForOffline(userIds: Iterable<string>, message: MessageView) {
  const bodies: OfflineDelivery[] = [...userIds].map((user_id) => ({ user_id, message }));
  if (bodies.length > 0) await enqueue(requireEnv(ENV.offlineQueueUrl), bodies);
}
