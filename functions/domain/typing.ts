import type { Caller } from '#platform/auth.ts';
import { getRoom } from '#store/rooms.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireInRoom } from './membership.ts';

/**
 * `typing` (docs/asyncapi.json): the other members' live connections hear `user-typing`.
 * It is ephemeral by design: nothing is written, queued or pushed (its rate
 * limit is charged in memory, platform/rate-limit.ts takeLocalTokens), and a
 * frame costs one consistent read of the room (membership) and one BatchGet of
 * the members' connections. A member who is offline simply misses it; the
 * client clears a stale indicator itself (README "Typing indicators").
 */
export async function sendTyping(caller: Caller, roomId: string, isTyping: boolean) {
  const room = requireInRoom(caller.userId, await getRoom(roomId));
  const others = Object.keys(room.members).filter((u) => u !== caller.userId);
  await fanOut(
    others,
    events.userTyping(roomId, { user_id: caller.userId, user_name: caller.name }, isTyping),
  );
}
