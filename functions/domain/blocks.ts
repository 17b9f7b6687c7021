import type { Caller } from '#platform/auth.ts';
import { blocked, conflict, validationError } from '#platform/errors.ts';
import { nowIso } from '#platform/time.ts';
import {
  blockBetween,
  blockedEitherWay,
  blockKeysBetween,
  deleteBlock,
  listBlocks,
  putBlock,
  whoBlocks,
} from '#store/blocks.ts';
import { getDirectRoomId } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import type { RoomRecord } from './model.ts';
import { recordUserEvent } from './sync-log.ts';
import { userList } from './user-list.ts';

/**
 * Blocks (CONTRACT §9): per user pair. While A blocks B, neither can send into
 * their direct room, B cannot open one with A nor add A to a group, and
 * neither sees the other's presence or typing; groups they share are
 * otherwise unaffected. What each check costs (docs/safety.md "Blocks"): a send or a
 * direct room's typing none (the room carries `blocked_by`), a group's typing
 * frame and a presence broadcast one Query of the actor's own partition, a new
 * direct room one BatchGet of two keys, an add one BatchGet beside the consent
 * check's.
 */

/** A block's room write lost a race with the pair's direct room being made: try again once. */
const ATTEMPTS = 3;

/** PUT /blocks/:user_id: idempotent; the caller's other devices hear `user-blocked`. */
export async function blockUser(caller: Caller, userId: string) {
  if (userId === caller.userId) throw validationError('user_id: you cannot block yourself');
  const at = nowIso();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const room = await getDirectRoomId(caller.userId, userId);
    if (await putBlock(caller.userId, userId, at, room)) {
      const entry = (await listBlocks(caller.userId)).find((b) => b.user_id === userId);
      const blockedAt = entry?.blocked_at ?? at;
      const event = events.userBlocked(userId, blockedAt);
      await Promise.all([
        fanOut([caller.userId], event),
        recordUserEvent(caller.userId, event, at),
      ]);
      return { user_id: userId, blocked_at: blockedAt };
    }
  }
  throw conflict('The conversation with this user changed; try again');
}

/** DELETE /blocks/:user_id: idempotent; the caller's other devices hear `user-unblocked`. */
export async function unblockUser(caller: Caller, userId: string) {
  if (userId === caller.userId) throw validationError('user_id: you cannot block yourself');
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const room = await getDirectRoomId(caller.userId, userId);
    if (await deleteBlock(caller.userId, userId, room)) {
      const at = nowIso();
      const event = events.userUnblocked(userId);
      await Promise.all([
        fanOut([caller.userId], event),
        recordUserEvent(caller.userId, event, at),
      ]);
      return { user_id: userId, is_blocked: false as const };
    }
  }
  throw conflict('The conversation with this user changed; try again');
}

/** GET /blocks */
export async function myBlocks(caller: Caller) {
  return { blocked: await listBlocks(caller.userId) };
}

/** A send (or forward) into a direct room a block stands in: 403 BLOCKED, both ways, no read. */
export function requireUnblockedRoom(room: RoomRecord): void {
  if (room.type === 'direct' && (room.blocked_by?.length ?? 0) > 0) {
    throw blocked('A block stands between the members of this conversation');
  }
}

/** Opening a new direct room with someone a block stands between: 403 BLOCKED. */
export async function requireNoBlockBetween(a: string, b: string): Promise<void> {
  if (await blockBetween(a, b)) throw blocked(`You cannot start a conversation with ${b}`);
}

/** What a new direct room's transaction checks is absent: a block either way. */
export const blockItemsBetween = blockKeysBetween;

/** Putting users into a group who block the adder: 403 BLOCKED naming them. */
export async function requireNotBlockedBy(adder: string, targets: readonly string[]) {
  const refusing = await whoBlocks(adder, targets);
  if (refusing.length > 0) throw blocked(`You cannot add ${userList(refusing)}`);
}

/** `users` less those a block stands between `userId` and (presence, group typing). */
export async function withoutBlocked(userId: string, users: readonly string[]) {
  if (users.length === 0) return [];
  const away = await blockedEitherWay(userId);
  return away.size === 0 ? [...users] : users.filter((u) => !away.has(u));
}
