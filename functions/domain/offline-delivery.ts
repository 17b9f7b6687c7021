import { randomUUID } from 'node:crypto';
import { ENV, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { postToConnection } from '#platform/post-to-connection.ts';
import { publishPush } from '#platform/push.ts';
import { enqueue } from '#platform/queues.ts';
import { nowMs } from '#platform/time.ts';
import { getConnection, getConnections } from '#store/connections.ts';
import { getMember } from '#store/members.ts';
import { getMessagesByIds } from '#store/messages.ts';
import {
  claimFlush,
  deletePending,
  listPending,
  putPending,
  releaseFlush,
  wantFlush,
} from '#store/pending.ts';
import { claimPushSlot, confirmPushSent, listDevices } from '#store/push.ts';
import { attachmentsPushText } from './attachment-rules.ts';
import { events } from './events.ts';
import type { MessageRecord } from './model.ts';
import { isMutedNow, type MessageView, messageView } from './views.ts';

/*
 * Offline delivery, end to end: members a message could not reach are queued
 * (queueForOffline: the send, the big-room fan-out, the table stream's
 * consumer); the offline-delivery consumer keeps the message pending for each
 * and pushes (acceptOfflineDelivery); a new connection, or a `sync` without
 * `since`, gets what is pending (flushPending, flushNewConnection).
 *
 * The functions that only queue (the send path, the big-room fan-out, the
 * table stream's consumer) must not carry the SNS client, and they don't:
 * nothing they call reaches publishPush, and esbuild drops what is unreachable
 * (@aws-sdk/client-sns declares "sideEffects": false, and platform/push.ts runs
 * nothing at load). Keep it so: no top-level work here or in push.ts.
 *
 * The import is static on purpose. lib/bundling.ts bundles without code
 * splitting, so a dynamic import('#platform/push.ts') would be inlined all the
 * same, keep push.ts's whole namespace (every SNS command) and wrap the shared
 * SDK modules in lazy initializers: measured with lib/bundling.ts's options,
 * +4.3 kB for streams/room-activity and +22 kB for queues/offline-delivery,
 * against +18 B and +6 B with this static import. (The Secrets Manager client
 * is kept out by a dynamic import *and* an `external` from leftOutOf; that is
 * for a package a function must not load at all.)
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
  /** The queue message's own id: the same across its redeliveries, another for a second copy. */
  deliveryId: string,
  now = nowMs(),
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
  if (!(await claimPushSlot(user_id, message.id, now, LIMITS.pushBurstWindowMs, deliveryId)))
    return { pushed: false };
  const devices = await listDevices(user_id);
  // Each device through its own platform's application (platform/push.ts).
  await publishPush(user_id, devices, {
    title: message.sender_name,
    // The server cannot read encrypted content, and never forwards it to a push service.
    body: pushBody(message),
    data: { room_id: message.room_id, message_id: message.id },
  });
  await confirmPushSent(user_id, message.id);
  return { pushed: true };
}

/**
 * Delivers a user's pending messages to the given connections, in send order,
 * and removes each once at least one connection took it. It stops at the first
 * message no connection took, so order is kept and nothing is dropped.
 * Each message is re-read first (one BatchGet per batch): one deleted, cleared
 * or purged since it was queued is dropped instead of delivered, and the rest go
 * out as they are now.
 *
 * One flush per user at a time (store/pending.ts claimFlush): two at once
 * would each post every pending message. A flush that finds another running
 * asks it for one more pass and returns; the one running makes that pass to
 * the user's connections as they are then (the asker's may be newer than the
 * ones it was given), whether or not its own pass was blocked.
 */
export async function flushPending(
  userId: string,
  connectionIds: readonly string[],
): Promise<{ delivered: number; blocked: boolean }> {
  const owner = randomUUID();
  for (let tries = 0; !(await claimFlush(userId, owner, nowMs())); tries++) {
    if (await wantFlush(userId, nowMs())) return { delivered: 0, blocked: false };
    // The holder let go between the two: take it now (a queue consumer is retried).
    if (tries >= 5) throw new Error('Flush lease kept changing hands');
  }
  let delivered = 0;
  let targets = connectionIds;
  try {
    for (;;) {
      const { delivered: n, blocked } = await flushPages(userId, targets, owner);
      delivered += n;
      // Another flush asked meanwhile: what it came for may have been stored after the last
      // page, and for a connection this one was not given.
      if ((await releaseFlush(userId, owner)) !== 'again') return { delivered, blocked };
      const current = (await getConnections([userId])).get(userId) ?? [];
      targets = [...new Set([...targets, ...current.map((c) => c.id)])];
    }
  } catch (error) {
    // Let the next flush (a retry of this one, the next connection) start at once.
    await releaseFlush(userId, owner, true).catch(() => undefined);
    throw error;
  }
}

async function flushPages(userId: string, connectionIds: readonly string[], owner: string) {
  let delivered = 0;
  for (let page = 0; ; page++) {
    // A long backlog renews the lease page by page; one lost (it ran out) leaves the rest to its taker.
    if (page > 0 && !(await claimFlush(userId, owner, nowMs())))
      return { delivered, blocked: false };
    const batch = await listPending(userId, LIMITS.pendingFlushBatch, nowMs());
    if (batch.length === 0) return { delivered, blocked: false };
    const current = new Map((await getMessagesByIds(batch.map((m) => m.id))).map((m) => [m.id, m]));
    const done: typeof batch = [];
    let blocked = false;
    for (const queued of batch) {
      const now = current.get(queued.id);
      if (now && !now.is_deleted) {
        const outcomes = await Promise.all(
          connectionIds.map((id) => postToConnection(id, events.newChatMessage(messageView(now)))),
        );
        if (!outcomes.includes('delivered')) {
          blocked = true;
          break;
        }
      }
      done.push(queued);
    }
    await deletePending(userId, done);
    delivered += done.length;
    if (blocked || batch.length < LIMITS.pendingFlushBatch) return { delivered, blocked };
  }
}

/** A connection younger than this that refuses a post may still be inside $connect. */
const STILL_CONNECTING_MS = 10_000;
/** Tries at one-second steps before leaving the messages to the next connection (or sync). */
const MAX_FLUSH_TRIES = 10;

/**
 * The flush queued by $connect. If the new connection refused the post while
 * it is seconds old, it may still be inside $connect: the flush is queued again
 * with a one-second delay (not left to the queue's visibility timeout, which is
 * minutes on AWS), so pending messages still arrive within about 2 s. An older
 * connection is gone; its messages stay pending for the next one.
 */
export async function flushNewConnection(
  userId: string,
  connectionId: string,
  retry: (tries: number) => Promise<void>,
  tries = 0,
) {
  const { blocked } = await flushPending(userId, [connectionId]);
  if (!blocked || tries + 1 >= MAX_FLUSH_TRIES) return;
  const conn = await getConnection(connectionId);
  if (conn && nowMs() - Date.parse(conn.connected_at) < STILL_CONNECTING_MS) {
    await retry(tries + 1);
  }
}

/**
 * What a push says: the text, or what kind of file arrived ("📷 Photo"), never a
 * URL or a file name. The server cannot read encrypted content, and never
 * forwards it to a push service.
 */
export function pushBody(
  message: Pick<MessageRecord, 'is_encrypted' | 'content' | 'attachments'>,
): string {
  if (message.is_encrypted) return 'New encrypted message';
  const text = message.content.slice(0, 180);
  const files = attachmentsPushText(message.attachments.map((a) => a.content_type));
  if (files) return text ? `${files}: ${text}` : files;
  return text || 'New message';
}
