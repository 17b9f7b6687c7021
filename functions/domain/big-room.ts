import { ENV, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { enqueue } from '#platform/queues.ts';
import { chunk } from '#store/batch.ts';
import { getConnections } from '#store/connections.ts';
import { getMessage } from '#store/messages.ts';
import { type FanOutResult, postToUsers, sendersConnections } from './delivery.ts';
import { events } from './events.ts';
import type { LiveConnection, MessageRecord } from './model.ts';
import { queueForOffline } from './offline-delivery.ts';
import { messageView } from './views.ts';

/** Body of a fan-out queue message: one message, a chunk of members and their connections. */
export interface FanOutChunk {
  message_id: string;
  targets: { user_id: string; connections: LiveConnection[] }[];
}

/**
 * A big room's fan-out, off the request path: the send reads the members'
 * connections (one BatchGet per 100 members, in parallel), answers with who was
 * online when the message was stored (a big room's `delivered_to_count`, docs/architecture.md
 * "Real-time delivery"), and hands the posting to the fan-out queue in chunks
 * that consumers work in parallel.
 */
export async function fanOutMessage(
  userIds: readonly string[],
  message: MessageRecord,
): Promise<FanOutResult> {
  // Connections opened around the message are the stream's to post to (delivery.ts RECENT_CONNECT_MS).
  const { older, opening } = sendersConnections(await getConnections(userIds), message.created_at);
  const online = userIds.filter((u) => older.has(u));
  const chunks: FanOutChunk[] = chunk(online, LIMITS.fanOutChunkMembers).map((users) => ({
    message_id: message.id,
    targets: users.map((user_id) => ({ user_id, connections: older.get(user_id)! })),
  }));
  await enqueue(requireEnv(ENV.fanOutQueueUrl), chunks);
  const deliveredTo = new Set([...online, ...opening]);
  return {
    deliveredTo,
    unreachable: new Set(userIds.filter((u) => !deliveredTo.has(u))),
    // Nothing is posted yet: the chunks' consumers queue whom they miss.
    missed: new Set(),
  };
}

/**
 * One chunk: post to each connection. A member whose every post failed is
 * queued for offline delivery (the stream queues those who had no connection).
 */
export async function deliverChunk(body: FanOutChunk): Promise<void> {
  const message = await getMessage(body.message_id, { consistent: true });
  if (!message || message.is_deleted) return;
  const view = messageView(message);
  const userIds = body.targets.map((t) => t.user_id);
  const connections = new Map(body.targets.map((t) => [t.user_id, t.connections]));
  const result = await postToUsers(userIds, connections, events.newChatMessage(view));
  await queueForOffline(result.missed, view);
}
