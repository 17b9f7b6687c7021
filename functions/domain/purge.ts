import { ENV, requireEnv } from '#platform/env.ts';
import { enqueue } from '#platform/queues.ts';
import { purgeRoomItems } from '#store/purge.ts';
import type { PurgeRequest } from './room-activity.ts';

/** Deletes a bounded number of pages, then hands the rest to a fresh invocation. */
export async function continuePurge(request: PurgeRequest) {
  const more = await purgeRoomItems(request.room_id, request.up_to_seq);
  if (more) await enqueue(requireEnv(ENV.purgeQueueUrl), [request]);
}
