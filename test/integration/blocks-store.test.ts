import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * A block and a direct room made at the same moment (issue 23): the block's
 * transaction checks that no room exists, the room's that no block does, so
 * whichever commits second fails and no room exists past a block. Run here
 * with the first check already passed, as in the race.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
beforeAll(async () => {
  aws = await localAws();
});
afterAll(async () => aws?.stop());

it('stores no direct room past a block made after the room’s check', async () => {
  const { blockUser } = await import('#domain/blocks.ts');
  const { blockItemsBetween } = await import('#domain/blocks.ts');
  const { createRoom } = await import('#store/room-membership.ts');
  const { newRoom, newMemberState } = await import('#domain/model.ts');
  const { getDirectRoomId, getRoom } = await import('#store/rooms.ts');
  const at = new Date().toISOString();
  const room = newRoom('race-room', 'direct', null, 'bs_b', ['bs_a', 'bs_b'], at);
  const members = ['bs_a', 'bs_b'].map((u) => newMemberState(u, room.id, at));
  // The creator's check passed (no block yet); then the block lands; then the room's write.
  await blockUser(caller('bs_a'), 'bs_b');
  expect(await createRoom(room, members, blockItemsBetween('bs_a', 'bs_b'))).toBe(false);
  expect(await getDirectRoomId('bs_a', 'bs_b')).toBeUndefined();
  expect(await getRoom(room.id)).toBeUndefined();

  // The other order: a room made first gets the block's mark when the block comes.
  const other = newRoom('race-room-2', 'direct', null, 'bs_c', ['bs_c', 'bs_d'], at);
  const theirs = ['bs_c', 'bs_d'].map((u) => newMemberState(u, other.id, at));
  expect(await createRoom(other, theirs, blockItemsBetween('bs_c', 'bs_d'))).toBe(true);
  await blockUser(caller('bs_d'), 'bs_c');
  expect((await getRoom(other.id))?.blocked_by).toEqual(['bs_d']);
});
