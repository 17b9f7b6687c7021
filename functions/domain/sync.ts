import pLimit from 'p-limit';
import type * as z from 'zod/mini';
import type { Caller } from '#platform/auth.ts';
import { AppError } from '#platform/errors.ts';
import { LIMITS } from '#platform/limits.ts';
import type { ServerEvent } from '#platform/post-to-connection.ts';
import { openCursor, sealCursor } from '#store/cursor.ts';
import { roomEventsAfter, userEventsAfter } from '#store/event-log.ts';
import { listAllMembers } from '#store/members.ts';
import { listMessagesSince, messagePosition, parseMessageId } from '#store/messages.ts';
import { getRoomHeads } from '#store/room-head.ts';
import { getRooms } from '#store/rooms.ts';
import { events } from './events.ts';
import type { LoggedEvent, MemberState, MessageRecord, RoomHead, RoomRecord } from './model.ts';
import { deletedOriginals } from './replies.ts';
import type { syncPage } from './responses.ts';
import { seesMessage } from './unread.ts';
import { messageView } from './views.ts';

/**
 * Sync (docs/architecture.md "Sync"): a device that was away catches up from its own cursor.
 *
 * Nothing is written per recipient for it. Messages are their own log (read
 * per room since the cursor's time); the rarer events are logged once where
 * they happen (store/event-log.ts): per room for what every member hears, per
 * user for what only their devices hear. A sync reads the user's member items,
 * their rooms' heads (which say which rooms changed since the cursor), and only
 * the changed rooms' messages and events.
 *
 * The cursor is sealed for the user (store/cursor.ts) and holds the position of
 * the last event returned. A page that caught up hands out a "tail" cursor,
 * which the next call reads from a few seconds earlier: a send takes its time
 * before it is stored, so a message can land just behind a cursor. For the
 * same reason a page with more to come ends before its last few seconds when it
 * can. Delivery is at least once; clients de-duplicate by id.
 *
 * A page reads about a page per source, never the whole backlog: each changed
 * room's messages from where the cursor falls in it (store/messages.ts
 * listMessagesSince), each event log `limit + 1` past the cursor. A source read
 * only in part says up to where it is complete; the page ends there at the
 * latest, so what it left unread comes on the next page, never skipped.
 *
 * A page also ends early, with `has_more`, once its events would pass
 * LIMITS.syncPageBytes serialized (withinBytes): the WebSocket answer is one
 * `sync-result` message, and API Gateway refuses one over 128 KB. The cursor
 * then holds the last event given, as for a page cut at `limit`. HTTP pages
 * follow the same rule, so both transports page alike.
 */
/** How late a message may land behind its own time: a slow send, and an eventually consistent read. */
const SKEW_MS = 5_000;
const ISO_LENGTH = 24;

interface SyncCursor {
  k: string;
  tail: boolean;
}

/** The wire shape of a page's events (responses.ts), which the logged frames were built as. */
type SyncEvent = z.infer<typeof syncPage>['events'][number];

interface Positioned {
  key: string;
  frame: ServerEvent;
}

/** One source's events past the cursor; `upTo`: it was read only that far (see listMessagesSince). */
interface Part {
  events: Positioned[];
  upTo: string | undefined;
}

const seal = (userId: string, cursor: SyncCursor) => sealCursor('sync', userId, cursor);

function open(userId: string, token: string): SyncCursor {
  const value = openCursor('sync', userId, token, 'since') as Partial<SyncCursor> | null;
  if (
    !value ||
    typeof value.k !== 'string' ||
    Number.isNaN(Date.parse(value.k.slice(0, ISO_LENGTH)))
  ) {
    throw new AppError('VALIDATION_ERROR', 'Invalid query: since: is not a sync cursor');
  }
  return { k: value.k, tail: value.tail === true };
}

export async function sync(caller: Caller, since: string | undefined, limit: number) {
  const now = Date.now();
  const caughtUp = () => seal(caller.userId, { k: `${new Date(now).toISOString()}#`, tail: true });
  if (!since) return { events: [], next_since: caughtUp(), has_more: false };
  const cursor = open(caller.userId, since);
  const cursorAt = Date.parse(cursor.k.slice(0, ISO_LENGTH));
  if (now - cursorAt > LIMITS.syncWindowSeconds * 1000) {
    throw new AppError(
      'CURSOR_EXPIRED',
      'The sync cursor is older than the sync window; reload the rooms',
    );
  }
  const after = cursor.tail ? `${new Date(cursorAt - SKEW_MS).toISOString()}#` : cursor.k;
  const afterAt = after.slice(0, ISO_LENGTH);

  const members = await listAllMembers(caller.userId);
  const ids = members.map((m) => m.room_id);
  const [heads, rooms] = await Promise.all([getRoomHeads(ids), getRooms(ids)]);
  const changed = members.filter((m) => {
    const head = heads.get(m.room_id)!;
    return (
      rooms.has(m.room_id) &&
      (mayHaveMessages(head, afterAt) || (head.last_event_at ?? '') >= afterAt)
    );
  });
  const perRoom = pLimit(8);
  const [roomParts, own] = await Promise.all([
    Promise.all(
      changed.map((m) =>
        perRoom(() =>
          roomEventsSince(m, rooms.get(m.room_id)!, heads.get(m.room_id)!, after, limit, now),
        ),
      ),
    ),
    userEventsAfter(caller.userId, after, limit + 1, now),
  ]);
  const parts: Part[] = [
    ...roomParts.flat(),
    { events: own.map(logged), upTo: logBound(own, limit) },
  ];
  // Where the least complete source stops: nothing past it goes out on this page.
  const bound = parts.reduce<string | undefined>(
    (min, p) => (p.upTo !== undefined && (min === undefined || p.upTo < min) ? p.upTo : min),
    undefined,
  );
  const all = parts
    .flatMap((p) => p.events)
    .filter((e) => e.key > after && (bound === undefined || e.key <= bound))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let page = withinBytes(all.slice(0, limit), LIMITS.syncPageBytes);
  // The next page starts after the last event given, or after the bound when the page
  // holds everything up to it (possibly nothing, when all a room had up to it was tombstones).
  let end = page.length < all.length ? page.at(-1)!.key : bound;
  // A page that would end in the last SKEW_MS ends before that instead, when it has
  // anything older: a message sent then may still land behind its end.
  const settledAt = new Date(now - SKEW_MS).toISOString();
  if (end !== undefined && end.slice(0, ISO_LENGTH) >= settledAt) {
    const settled = page.filter((e) => e.key.slice(0, ISO_LENGTH) < settledAt);
    if (settled.length > 0) {
      page = settled;
      end = settled.at(-1)!.key;
    }
  }
  return {
    events: page.map((e) => e.frame as SyncEvent),
    next_since: end === undefined ? caughtUp() : seal(caller.userId, { k: end, tail: false }),
    has_more: end !== undefined,
  };
}

/**
 * The longest run of `events` from the first whose frames, serialized as a
 * page's `events` array, fit in `maxBytes` (limits.ts syncPageBytes: a
 * `sync-result` must stay within API Gateway's 128 KB message). Always the
 * first event at least, so a page always moves the cursor on.
 */
export function withinBytes<T extends { frame: ServerEvent }>(
  events: readonly T[],
  maxBytes: number,
): T[] {
  let bytes = 2; // [ and ]
  for (const [i, e] of events.entries()) {
    bytes += Buffer.byteLength(JSON.stringify(e.frame), 'utf8') + (i > 0 ? 1 : 0);
    if (bytes > maxBytes && i > 0) return events.slice(0, i);
  }
  return [...events];
}

/** A log read `limit + 1` past the cursor: when it filled that, it is complete only up to its last. */
const logBound = (events: readonly LoggedEvent[], limit: number) =>
  events.length > limit ? events.at(-1)!.key : undefined;

/**
 * The head's `last_activity` is the newest message's time; an older message may
 * be up to SKEW_MS newer than it (numbers are taken in time order, give or take).
 */
const mayHaveMessages = (head: RoomHead, afterAt: string) =>
  (head.last_activity ?? '') >= new Date(Date.parse(afterAt) - SKEW_MS).toISOString();

const logged = (e: LoggedEvent): Positioned => ({
  key: e.key,
  frame: { event: e.event, data: e.data },
});

/**
 * One room's parts: its messages since the cursor the member may see (after
 * their clear markers, and so after they joined), a deleted one as
 * `message-deleted` and never as a live message, and the room's logged events
 * since they joined. Messages are read only when the head says some may be new.
 */
async function roomEventsSince(
  member: MemberState,
  room: RoomRecord,
  head: RoomHead,
  after: string,
  limit: number,
  now: number,
): Promise<Part[]> {
  const floor = Math.max(member.cleared_seq, room.cleared_seq);
  const afterAt = after.slice(0, ISO_LENGTH);
  const [messages, log] = await Promise.all([
    mayHaveMessages(head, afterAt)
      ? listMessagesSince(room.id, floor, head.seq, after, limit, SKEW_MS)
      : { messages: [], upTo: undefined },
    (head.last_event_at ?? '') >= afterAt
      ? roomEventsAfter(room.id, after, limit + 1, now)
      : ([] as LoggedEvent[]),
  ]);
  const shown = messages.messages.filter((m) => !m.is_tombstone);
  const gone = await deletedOriginals(shown);
  const fromMessages = shown.map(
    (m): Positioned => ({ key: messagePosition(m), frame: messageFrame(m, gone) }),
  );
  const fromLog = log
    .filter((e) => e.at >= member.joined_at && !deletesUnseen(e, member, room))
    .map(logged);
  return [
    { events: fromMessages, upTo: messages.upTo },
    // The bound is the read's, whatever the filter left.
    { events: fromLog, upTo: logBound(log, limit) },
  ];
}

/**
 * A logged deletion of a message the member could never see, or cleared (from
 * before they joined, or at or below a clear marker): it tells them nothing they
 * may know, as the live event does not (messages.ts deleteMessage).
 */
function deletesUnseen(e: LoggedEvent, member: MemberState, room: RoomRecord): boolean {
  if (e.event !== 'message-deleted') return false;
  const where = parseMessageId(String(e.data.message_id));
  return !where || !seesMessage(member, room, where.seq);
}

const messageFrame = (m: MessageRecord, gone: ReadonlySet<string>): ServerEvent =>
  m.is_deleted
    ? events.messageDeleted(m.room_id, m.id)
    : events.newChatMessage(messageView(m, gone));
