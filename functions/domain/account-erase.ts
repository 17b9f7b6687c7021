import type { Caller } from '#platform/auth.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { conflict } from '#platform/errors.ts';
import { deleteDeviceEndpoint } from '#platform/push.ts';
import { enqueue } from '#platform/queues.ts';
import { nowIso } from '#platform/time.ts';
import {
  blankHeadSummary,
  blankMessagesPage,
  deleteAccountItemsPage,
  deleteMemberItem,
  detachFromDirectRoom,
  memberRoomIds,
} from '#store/account-erase.ts';
import { removeConnection } from '#store/connections.ts';
import { deleteDevice, listDevices } from '#store/push.ts';
import { deleteLastMember } from '#store/room-membership.ts';
import { getRoom } from '#store/rooms.ts';
import { announce } from './announce.ts';
import { leave } from './chat-state.ts';
import { closeAllConnections } from './close-connections.ts';
import { events } from './events.ts';
import { isMember } from './model.ts';
import { recordRoomEvent } from './sync-log.ts';

/**
 * Erasing an account (CONTRACT §9, DELETE /api/chat/me). The request only
 * queues a job; the account-erase consumer runs it in bounded steps:
 * 1. every socket of the user is closed (DeleteConnection) and its records go;
 * 2. for each room the user has a member item in (listed into a continuation of
 *    the job first, so the list survives a crash):
 *    with `erase_messages`, their messages there are blanked (content, ciphertext,
 *    file, media, attachments; ids, seqs and times stay, so order and the others'
 *    unread counts hold); then they leave it: a group with the usual hand-over
 *    (chat-state.ts leave: never a group without an admin, one transaction), a
 *    direct room stays for the other member with the erased user off its
 *    `members` (sends into it: 403, membership.ts requireConversationPartner);
 *    the remaining members hear `room-member-removed`;
 * 3. rooms that appeared meanwhile are listed again and left the same way;
 * 4. devices (and their push endpoints), then everything else the account owns
 *    in its partition (store/account-erase.ts ACCOUNT_ITEMS, the other side of
 *    each block included), page by page. A suspension and moderation records stay.
 * Every step is idempotent and the job's state is the table plus the job body:
 * a crash anywhere is redelivered and finishes the same way (a room whose
 * member item is gone but which the body still lists is announced again). Past its time
 * budget an invocation queues the rest as a continuation. Events are at least
 * once: a redelivery may announce a room's removal again.
 */
export interface EraseJob {
  user_id: string;
  erase_messages: boolean;
  requested_at: string;
  /** Rooms still to leave (absent: not listed yet). */
  rooms?: string[] | undefined;
  /** Where blanking stopped in a room (a page key), by room. */
  blank_from?: Record<string, Record<string, unknown>> | undefined;
  /** Where the partition sweep stopped (a page key). */
  wipe_from?: Record<string, unknown> | undefined;
  /** How many continuations came before (a log field). */
  part?: number | undefined;
}

export interface EraseOptions {
  /** Stop and queue a continuation after this time (ms since epoch). */
  deadline?: number;
  /** Rooms handled at once. */
  concurrency?: number;
  /** Called after each step (tests inject crashes here). */
  afterStep?: (step: string) => void | Promise<void>;
}

/** What an invocation may spend before it hands the rest on (consumers time out at 30 s). */
const BUDGET_MS = 20_000;
const ROOMS_AT_ONCE = 8;
const ROOMS_PER_LIST = 2_000;

/** DELETE /api/chat/me: 202 once the job is queued. */
export async function requestErase(caller: Caller, eraseMessages: boolean) {
  const job: EraseJob = {
    user_id: caller.userId,
    erase_messages: eraseMessages,
    requested_at: nowIso(),
  };
  await enqueue(requireEnv(ENV.eraseQueueUrl), [job]);
  return {
    user_id: job.user_id,
    erase_messages: job.erase_messages,
    requested_at: job.requested_at,
  };
}

/** Runs (or continues) a job. Returns 'done', or 'continued' when it queued the rest. */
export async function runErase(
  input: EraseJob,
  options: EraseOptions = {},
): Promise<'done' | 'continued'> {
  const deadline = options.deadline ?? Date.now() + BUDGET_MS;
  // Each invocation does at least one unit of work (a page, a room) before it may
  // hand on: a chain of continuations always gets somewhere.
  let progressed = false;
  const outOfTime = () => progressed && Date.now() > deadline;
  const step = async (name: string, work = true) => {
    if (work) progressed = true;
    await options.afterStep?.(name);
  };
  const job: EraseJob = { ...input, blank_from: { ...input.blank_from } };
  const userId = job.user_id;
  const continued = async () => {
    await enqueue(requireEnv(ENV.eraseQueueUrl), [{ ...job, part: (job.part ?? 0) + 1 }]);
    return 'continued' as const;
  };

  await closeSockets(userId);
  await step('sockets', false);

  for (;;) {
    if (!job.rooms) {
      // At most ROOMS_PER_LIST in the body (SQS takes 256 KB); the rest come with the next list.
      const listed = (await memberRoomIds(userId)).slice(0, ROOMS_PER_LIST);
      if (listed.length === 0) break;
      // The list is made durable (a continuation) before any room is touched: a crash
      // after a room's transaction and before its announcement is then redelivered
      // with the room still listed, and the members still hear of it.
      job.rooms = listed;
      await step('listed', false);
      return continued();
    }
    while (job.rooms.length > 0) {
      if (outOfTime()) return continued();
      const batch: string[] = job.rooms.slice(0, options.concurrency ?? ROOMS_AT_ONCE);
      const finished: (string | undefined)[] = await Promise.all(
        batch.map(async (roomId: string) => {
          const done = await eraseFromRoom(
            job,
            roomId,
            outOfTime,
            () => {
              progressed = true;
            },
            () => step(`left ${roomId}`, false),
          );
          if (done) await step(`room ${roomId}`);
          return done ? roomId : undefined;
        }),
      );
      job.rooms = job.rooms.filter((id) => !finished.includes(id));
    }
    // Rooms the user was put in meanwhile: list again (an empty list ends the loop).
    job.rooms = undefined;
  }

  await closeSockets(userId);
  await removeDevices(userId);
  await step('devices', false);
  for (;;) {
    if (outOfTime()) return continued();
    job.wipe_from = await deleteAccountItemsPage(userId, job.wipe_from);
    await step('wipe');
    if (!job.wipe_from) break;
  }
  return 'done';
}

/**
 * Closes every socket of the user and drops their connection records, with no
 * presence grace period: the erase deletes the presence item itself.
 */
const closeSockets = (userId: string) => closeAllConnections(userId, removeConnection);

async function removeDevices(userId: string) {
  await Promise.all(
    (await listDevices(userId)).map(async (device) => {
      const removed = await deleteDevice(userId, device.device_id);
      if (removed?.endpoint_arn) await deleteDeviceEndpoint(removed.endpoint_arn, userId);
    }),
  );
}

/**
 * One room: blank (when asked) and leave. False when the time ran out while
 * blanking; `job.blank_from` then says where to go on.
 */
async function eraseFromRoom(
  job: EraseJob,
  roomId: string,
  outOfTime: () => boolean,
  paged: () => void,
  left: () => Promise<void>,
): Promise<boolean> {
  const userId = job.user_id;
  const room = await getRoom(roomId);
  if (room && job.erase_messages) {
    const from = job.blank_from!;
    let next = from[roomId];
    do {
      if (outOfTime()) {
        if (next) from[roomId] = next;
        return false;
      }
      next = await blankMessagesPage(roomId, userId, job.requested_at, next);
      paged();
    } while (next);
    delete from[roomId];
    await blankHeadSummary(roomId, userId);
  }
  if (!room) {
    await deleteMemberItem(userId, roomId);
    return true;
  }
  const at = nowIso();
  const others = Object.keys(room.members).filter((u) => u !== userId);
  if (isMember(room, userId)) {
    if (room.type === 'group' || others.length === 0) {
      // A group (hand-over as when leaving), or a direct room the other member had
      // already erased themselves from: the last one out removes it.
      if (room.type === 'group') await leave(room, userId, at);
      else if (!(await deleteLastMember(roomId, userId))) await settle(userId, roomId);
    } else if (!(await detachFromDirectRoom(userId, roomId, others[0], at))) {
      await settle(userId, roomId);
    }
  } else {
    // The room no longer lists them (a redelivery after the transaction): any stray item goes.
    await deleteMemberItem(userId, roomId);
  }
  await left();
  if (others.length > 0) {
    const removed = events.roomMemberRemoved(roomId, userId, userId);
    await Promise.all([announce(others, removed), recordRoomEvent(roomId, removed, at)]);
  }
  return true;
}

/**
 * A room transaction of the erase failed its condition: if the room no longer
 * lists the user, someone else's change got there first and only a stray
 * member item can be left; if it still does, the room changed under us and the
 * job is retried (never a room half removed).
 */
async function settle(userId: string, roomId: string) {
  const room = await getRoom(roomId);
  if (room && isMember(room, userId)) throw conflict('The room changed while erasing; retrying');
  await deleteMemberItem(userId, roomId);
}
