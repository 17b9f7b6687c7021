import type { Caller } from '#platform/auth.ts';
import { withoutBlocked } from './blocks.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import { requireInRoomWithPeers } from './membership.ts';

/**
 * `typing` (docs/asyncapi.json): the other members' live connections hear `user-typing`.
 * It is ephemeral by design: nothing is written, queued or pushed (its rate
 * limit is charged in memory, platform/rate-limit.ts takeLocalTokens), and a
 * frame costs one consistent read of the room (membership) and one BatchGet of
 * the members' connections; in a direct room also one BatchGet of the two
 * member states, and the head when one side deleted the room (neither side of
 * a deleted direct room reaches the other; the deleter gets NOT_FOUND). A
 * member who is offline simply misses it; the client clears a stale indicator
 * itself (docs/architecture.md "Typing indicators"). A block between two users hides it both
 * ways (CONTRACT §9).
 */
export async function sendTyping(caller: Caller, roomId: string, isTyping: boolean) {
  const { room, peers } = await requireInRoomWithPeers(roomId, caller.userId);
  // A block hides typing both ways: in a direct room the room says so; in a group,
  // one Query of the typist's own blocks.
  if (room.type === 'direct' && (room.blocked_by?.length ?? 0) > 0) return;
  const audience = room.type === 'direct' ? peers : await withoutBlocked(caller.userId, peers);
  await fanOut(
    audience,
    events.userTyping(roomId, { user_id: caller.userId, user_name: caller.name }, isTyping),
  );
}
