import { ENV, requireEnv } from '#platform/env.ts';
import { LIMITS } from '#platform/limits.ts';
import { enqueue } from '#platform/queues.ts';
import { nowIso } from '#platform/time.ts';
import { getConnections } from '#store/connections.ts';
import { getRoomMemberStates } from '#store/members.ts';
import { getMessagesBySeq } from '#store/messages.ts';
import { recordDeletedSeqs } from '#store/room-head.ts';
import { getRoom } from '#store/rooms.ts';
import { openedAround, postToUsers } from './delivery.ts';
import { events } from './events.ts';
import type { LiveConnection, MemberState, MessageRecord } from './model.ts';
import { queueForOffline } from './offline-delivery.ts';
import { abandon } from './send-store.ts';
import { seesMessage } from './unread.ts';
import { messageView } from './views.ts';

/** Body of a room-purge queue message: reclaim storage in the background. */
export interface PurgeRequest {
  room_id: string;
  /** null: the whole room is gone; a number: cleared for everyone up to it. */
  up_to_seq: number | null;
}

/**
 * The outbox: the table stream hands over every stored message, so what the
 * send's own request could not do still happens (at least once):
 * - members with no live connection are queued for offline delivery (pending
 *   copy + push), whether or not the send's request lived to do it;
 * - connections opened around or after the send (connected less than
 *   RECENT_CONNECT_MS before it, delivery.ts) may have been missed by its read
 *   of connections: the send posts to none of them, and they get it here, once:
 *   through the pending flush when they are all the member has (a member just
 *   back, whose backlog it must not overtake), else posted directly.
 * One room read and one connection read per room per stream batch, however
 * many of its messages the batch holds. Nothing is written per recipient.
 */
/**
 * A member who joined this long before a message was stamped joined before it
 * took its number, so may see it; one who joined later may not (joining sets
 * their clear marker to the room's seq then), and their member item decides.
 */
const JOINED_BEFORE_MS = 5_000;

export async function deliverStoredMessages(
  roomId: string,
  messages: readonly MessageRecord[],
): Promise<void> {
  const room = await getRoom(roomId);
  if (!room) return;
  const members = Object.keys(room.members);
  // The room's members now, which may include some who joined after a message: the
  // stream can run seconds late. Those are asked their clear marker, and are not
  // told of a message from before they joined (live or through the offline queue).
  const oldest = messages.map((m) => m.created_at).sort()[0] ?? '';
  const joinedSince = new Date(Date.parse(oldest) - JOINED_BEFORE_MS).toISOString();
  const recent = new Set(members.filter((u) => (room.members[u] ?? '') >= joinedSince));
  const [connections, recentStates] = await Promise.all([
    getConnections(members),
    recent.size > 0 ? getRoomMemberStates(roomId, [...recent]) : new Map<string, MemberState>(),
  ]);
  const sees = (userId: string, message: MessageRecord) => {
    if (!recent.has(userId)) return true;
    const state = recentStates.get(userId);
    // The member item may not be readable yet (the read is eventually consistent):
    // then the join time on the room item decides.
    if (state === undefined) return (room.members[userId] ?? '') < message.created_at;
    return seesMessage(state, room, message.seq);
  };
  for (const message of messages) {
    const others = members.filter((u) => u !== message.sender_id && sees(u, message));
    const view = messageView(message);
    const offline: string[] = [];
    const young = new Map<string, LiveConnection[]>();
    const hasOlder = new Set<string>();
    for (const userId of others) {
      const conns = connections.get(userId) ?? [];
      if (conns.length === 0) offline.push(userId);
      // Opened around the send: the send left these to this post (delivery.ts RECENT_CONNECT_MS).
      const fresh = conns.filter((c) => openedAround(c.connected_at, message.created_at));
      if (fresh.length > 0) young.set(userId, fresh);
      if (fresh.length < conns.length) hasOlder.add(userId);
    }
    // The stream may run long after the send: a message deleted since then must not
    // reach a connection as live (sync gives it as message-deleted). Re-read only
    // when there is someone to post to, which is rare (a connection of the last 3 s).
    // A member whose only connections are this young has just come back, and their
    // backlog is being flushed (the flush after $connect): the message joins that
    // backlog (pending, then the same serialized flush, in send order) instead of
    // overtaking it. Another device's young connection is posted to directly.
    const returning = [...young.keys()].filter((u) => !hasOlder.has(u));
    const beside = new Map([...young].filter(([u]) => hasOlder.has(u)));
    if (beside.size > 0 && !(await wasDeleted(message)))
      await postToUsers([...beside.keys()], beside, events.newChatMessage(view));
    await queueForOffline([...offline, ...returning], view);
  }
}

async function wasDeleted(message: MessageRecord): Promise<boolean> {
  const [now] = await getMessagesBySeq(message.room_id, [message.seq]);
  return !now || now.is_deleted;
}

/** A deleted message or a tombstone stops counting as unread (idempotent: a set add). */
export async function rememberDeletion(message: MessageRecord): Promise<void> {
  await recordDeletedSeqs(message.room_id, [message.seq], LIMITS.deletedSeqsKept);
}

/** Body of a seq-gaps queue message: a number handed out whose message had not appeared. */
export interface TakenNumber {
  room_id: string;
  seq: number;
}

/**
 * Numbers the room head handed out whose message the stream has not seen. A
 * send that dies (a timeout, a crash) after taking its number and before
 * storing anything leaves one; most are just in flight. Each missing one is
 * looked at again after LIMITS.gapCheckDelaySeconds, well past a send's timeout.
 */
export async function checkTakenNumbers(roomId: string, seqs: readonly number[]): Promise<void> {
  const present = new Set((await getMessagesBySeq(roomId, seqs)).map((m) => m.seq));
  const missing = seqs.filter((seq) => !present.has(seq));
  if (missing.length === 0) return;
  const checks: TakenNumber[] = missing.map((seq) => ({ room_id: roomId, seq }));
  await enqueue(requireEnv(ENV.gapQueueUrl), checks, LIMITS.gapCheckDelaySeconds);
}

/**
 * Still no message at that number: it gets a tombstone (a conditional put, so a
 * message that did arrive stays), joins the deletions set and stops being the
 * room's last message. Unread counts and lists then see no gap.
 */
export async function fillGap(gap: TakenNumber): Promise<void> {
  // Dated like the message before it, so the room's times keep following its seqs
  // (sync pages by time within a few seconds of the seq order).
  const [before] = gap.seq > 1 ? await getMessagesBySeq(gap.room_id, [gap.seq - 1]) : [];
  const createdAt = before?.created_at ?? nowIso();
  await abandon([{ room_id: gap.room_id, seq: gap.seq, sender_id: '', created_at: createdAt }]);
}

/** Storage of a removed room, or of messages cleared for everyone, is reclaimed in the background. */
export async function purge(request: PurgeRequest): Promise<void> {
  await enqueue(requireEnv(ENV.purgeQueueUrl), [request]);
}
