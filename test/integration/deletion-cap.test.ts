import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * Unread counts subtract the room's deleted seqs, and the room keeps only the
 * newest LIMITS.deletedSeqsKept of them (store/room-head.ts recordDeletedSeqs,
 * domain/unread.ts). Against DynamoDB Local, with a cap of 5 so it is cheap to
 * pass: the set stays bounded (also under concurrent deletions, in any order),
 * it holds exactly the newest ones, and every count is never negative, never
 * under the truth (at least safe), and exact whenever no more than the cap were
 * deleted since the member last read.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
beforeAll(async () => {
  aws = await localAws();
});
afterAll(async () => aws?.stop());

const KEEP = 5;

it('keeps the newest deleted seqs only, and counts stay at least safe beyond the cap', async () => {
  const { createRoom } = await import('#domain/rooms.ts');
  const { takeSequence, recordDeletedSeqs, getRoomHead } = await import('#store/room-head.ts');
  const { unreadCount } = await import('#domain/unread.ts');
  const room = (
    await createRoom(caller('dc_a'), { type: 'group', name: 'cap', member_ids: ['dc_b'] })
  ).room;
  const at = new Date().toISOString();
  const summary = {
    sender_id: 'dc_a',
    content: 'x',
    message_type: 'text',
    is_encrypted: false,
    created_at: at,
  };
  let top = 0;
  for (let i = 0; i < 30; i++) top = await takeSequence(room.id, summary, at);
  // 14 deletions, concurrently and out of order, two of them repeated (the stream repeats).
  const deleted = [3, 4, 5, 7, 9, 11, 12, 14, 17, 18, 21, 22, 25, 29];
  const order = [...deleted, 25, 7].sort((x, y) => ((x * 7919) % 31) - ((y * 7919) % 31));
  await Promise.all(order.map((seq) => recordDeletedSeqs(room.id, [seq], KEEP)));

  const head = await getRoomHead(room.id);
  expect(head.seq).toBe(top);
  expect([...head.deleted_seqs].sort((x, y) => x - y)).toEqual(deleted.slice(-KEEP));

  for (let read = 0; read <= top; read++) {
    const truth = top - read - deleted.filter((s) => s > read).length;
    const count = unreadCount(
      {
        user_id: 'u_reader',
        read_seq: read,
        cleared_seq: 0,
        manual_unread: false,
        manual_unread_seq: 0,
      },
      { cleared_seq: 0 },
      head,
    );
    expect({ read, count: Math.max(0, count) }).toEqual({ read, count });
    expect(count, `read ${read}`).toBeGreaterThanOrEqual(truth);
    if (deleted.filter((s) => s > read).length <= KEEP) expect(count, `read ${read}`).toBe(truth);
  }

  // Many more deletions later: still bounded.
  for (let seq = 1; seq <= top; seq += 2) await recordDeletedSeqs(room.id, [seq], KEEP);
  expect((await getRoomHead(room.id)).deleted_seqs.length).toBeLessThanOrEqual(KEEP);
});
