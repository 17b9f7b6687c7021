import type { Context, DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalAws } from '#local/stack.ts';
import type { Caller } from '#platform/auth.ts';
import { tapStream } from '../support/stream-tap.ts';

/**
 * Issue 5's property: random sends, reads, reads up to a message, manual
 * unread marks, clears, deletions and forwards, with the stream delivered late,
 * out of order across items, partially, and with replays — then every user's
 * every count, read from the counters, equals an oracle computed from the
 * messages as the requirements define it.
 */
type Aws = Awaited<ReturnType<typeof startLocalAws>>;
let aws: Aws;
let tap: Awaited<ReturnType<typeof tapStream>>;
let app: {
  createRoom: typeof import('#domain/rooms.ts').createRoom;
  sendMessage: typeof import('#domain/messages.ts').sendMessage;
  deleteMessage: typeof import('#domain/messages.ts').deleteMessage;
  setReadStatus: typeof import('#domain/read-status.ts').setReadStatus;
  getAllUnreadCounts: typeof import('#domain/read-status.ts').getAllUnreadCounts;
  getRoomUnreadCount: typeof import('#domain/read-status.ts').getRoomUnreadCount;
  clearChat: typeof import('#domain/chat-state.ts').clearChat;
  forwardMessage: typeof import('#domain/forwarding.ts').forwardMessage;
  consume: (event: { Records: DynamoDBRecord[] }, context: Context) => Promise<unknown>;
};

beforeAll(async () => {
  aws = await startLocalAws();
  // No client is connected in this test, so nothing is ever posted.
  process.env.WS_ENDPOINT = 'http://127.0.0.1:9';
  tap = await tapStream(aws.dynamo.endpoint, aws.dynamo.streamArn);
  const [rooms, messages, readStatus, chatState, forwarding, stream] = await Promise.all([
    import('#domain/rooms.ts'),
    import('#domain/messages.ts'),
    import('#domain/read-status.ts'),
    import('#domain/chat-state.ts'),
    import('#domain/forwarding.ts'),
    import('#functions/streams/room-activity.ts'),
  ]);
  app = {
    createRoom: rooms.createRoom,
    sendMessage: messages.sendMessage,
    deleteMessage: messages.deleteMessage,
    setReadStatus: readStatus.setReadStatus,
    getAllUnreadCounts: readStatus.getAllUnreadCounts,
    getRoomUnreadCount: readStatus.getRoomUnreadCount,
    clearChat: chatState.clearChat,
    forwardMessage: forwarding.forwardMessage,
    consume: stream.handler as never,
  };
});
afterAll(async () => {
  tap?.close();
  await aws?.stop();
});

const user = fc.integer({ min: 0, max: 2 });
const room = fc.integer({ min: 0, max: 1 });
const action = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), user, room }),
  fc.record({ kind: fc.constant('send' as const), user, room }),
  fc.record({ kind: fc.constant('read' as const), user, room }),
  fc.record({ kind: fc.constant('readUpTo' as const), user, room, pick: fc.nat() }),
  fc.record({ kind: fc.constant('unread' as const), user, room }),
  fc.record({ kind: fc.constant('clear' as const), user, room }),
  fc.record({ kind: fc.constant('delete' as const), user, room, pick: fc.nat() }),
  fc.record({ kind: fc.constant('forward' as const), user, room, pick: fc.nat(), to: room }),
  fc.record({
    kind: fc.constant('stream' as const),
    seed: fc.integer(),
    hold: fc.double({ min: 0, max: 0.9, noNaN: true }),
  }),
);

interface ModelMessage {
  id: string;
  seq: number;
  sender: string;
  deleted: boolean;
}

/** A small seeded PRNG, so a failing case replays exactly. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const itemKey = (r: DynamoDBRecord) => JSON.stringify(r.dynamodb?.Keys);

/**
 * Delivers part of the pending records: a held record holds back every later
 * record of its item (order is kept per item only), the rest is interleaved at
 * random across items, and some delivered records are replayed later.
 */
async function deliver(
  pending: DynamoDBRecord[],
  random: () => number,
  hold: number,
): Promise<DynamoDBRecord[]> {
  const held = new Set<string>();
  const queues = new Map<string, DynamoDBRecord[]>();
  const kept: DynamoDBRecord[] = [];
  for (const record of pending) {
    const key = itemKey(record);
    if (held.has(key) || random() < hold) {
      held.add(key);
      kept.push(record);
      continue;
    }
    queues.set(key, [...(queues.get(key) ?? []), record]);
  }
  const order: DynamoDBRecord[] = [];
  while (queues.size > 0) {
    const keys = [...queues.keys()];
    const key = keys[Math.floor(random() * keys.length)]!;
    const queue = queues.get(key)!;
    order.push(queue.shift()!);
    if (queue.length === 0) queues.delete(key);
  }
  const withReplays = [...order];
  for (const record of order)
    if (random() < 0.3)
      withReplays.splice(Math.floor(random() * (withReplays.length + 1)), 0, record);
  for (let i = 0; i < withReplays.length; i += 7) {
    const result = (await app.consume({ Records: withReplays.slice(i, i + 7) }, {} as Context)) as {
      batchItemFailures: unknown[];
    };
    expect(result.batchItemFailures).toEqual([]);
  }
  return kept;
}

let run = 0;

it('keeps every unread count exact under duplicated, reordered and late stream delivery, while records are held back too', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 22 }), async (actions) => {
      run++;
      const users: Caller[] = [0, 1, 2].map((i) => ({ userId: `r${run}_u${i}`, name: `U${i}` }));
      const group = (
        await app.createRoom(users[0]!, {
          type: 'group',
          name: 'g',
          member_ids: [users[1]!.userId, users[2]!.userId],
        })
      ).room;
      const direct = (
        await app.createRoom(users[0]!, { type: 'direct', member_ids: [users[1]!.userId] })
      ).room;
      const rooms = [group, direct];
      const members = (r: number) => (r === 0 ? [0, 1, 2] : [0, 1]);
      const messages: ModelMessage[][] = [[], []];
      const read = users.map(() => [0, 0]);
      const cleared = users.map(() => [0, 0]);
      const manual = users.map(() => [false, false]);
      let pending = await tap.drain();

      const onSent = (u: number, r: number, id: string) => {
        const seq = Number(id.split('.').pop());
        messages[r]!.push({ id, seq, sender: users[u]!.userId, deleted: false });
        read[u]![r] = Math.max(read[u]![r]!, seq);
        manual[u]![r] = false;
      };

      /**
       * Every user's every count against the oracle, now: whatever the stream has or
       * has not carried yet (`held` records are still held back), counts are exact
       * for what the table holds, never negative and never over.
       */
      const checkCounts = async (when: string, held: number) => {
        for (const [u, caller] of users.entries()) {
          const counts = await app.getAllUnreadCounts(caller);
          const byRoom = new Map(counts.rooms.map((r) => [r.room_id, r.unread_count]));
          let total = 0;
          for (const r of [0, 1]) {
            if (!members(r).includes(u)) continue;
            const floor = Math.max(read[u]![r]!, cleared[u]![r]!);
            const count = messages[r]!.filter(
              (m) => m.sender !== caller.userId && !m.deleted && m.seq > floor,
            ).length;
            const expected = manual[u]![r] ? Math.max(1, count) : count;
            total += expected;
            expect({ when, held, user: u, room: r, unread: byRoom.get(rooms[r]!.id) }).toEqual({
              when,
              held,
              user: u,
              room: r,
              unread: expected,
            });
            expect((await app.getRoomUnreadCount(caller, rooms[r]!.id)).unread_count).toBe(
              expected,
            );
          }
          expect(counts.total_unread).toBe(total);
        }
      };
      for (const [step, a] of actions.entries()) {
        if (a.kind === 'stream') {
          // Counts with everything since the last delivery still held back, then with
          // part of it delivered (late, reordered, replayed) and the rest held.
          pending = [...pending, ...(await tap.drain())];
          await checkCounts(`step ${step}, before a partial delivery`, pending.length);
          pending = await deliver(pending, prng(a.seed), a.hold);
          await checkCounts(`step ${step}, after a partial delivery`, pending.length);
          continue;
        }
        if (!members(a.room).includes(a.user)) continue;
        const caller = users[a.user]!;
        const roomId = rooms[a.room]!.id;
        const list = messages[a.room]!;
        switch (a.kind) {
          case 'send': {
            const sent = await app.sendMessage(caller, roomId, {
              content: 'hi',
              message_type: 'text',
              is_encrypted: false,
            });
            onSent(a.user, a.room, sent.message.id);
            break;
          }
          case 'read':
            await app.setReadStatus(caller, roomId, { is_read: true });
            read[a.user]![a.room] = Math.max(read[a.user]![a.room]!, list.length);
            manual[a.user]![a.room] = false;
            break;
          case 'readUpTo': {
            if (list.length === 0) break;
            const target = list[a.pick % list.length]!;
            await app.setReadStatus(caller, roomId, {
              is_read: true,
              last_read_message_id: target.id,
            });
            read[a.user]![a.room] = Math.max(read[a.user]![a.room]!, target.seq);
            manual[a.user]![a.room] = false;
            break;
          }
          case 'unread':
            await app.setReadStatus(caller, roomId, { is_read: false });
            manual[a.user]![a.room] = true;
            break;
          case 'clear':
            await app.clearChat(caller, roomId, false);
            cleared[a.user]![a.room] = list.length;
            manual[a.user]![a.room] = false;
            break;
          case 'delete': {
            const own = list.filter((m) => m.sender === caller.userId && !m.deleted);
            if (own.length === 0) break;
            const target = own[a.pick % own.length]!;
            // One the sender's clear marker hides is no longer theirs to delete: 404, nothing changes.
            if (target.seq <= cleared[a.user]![a.room]!) {
              await expect(app.deleteMessage(caller, target.id)).rejects.toMatchObject({
                status: 404,
              });
              break;
            }
            await app.deleteMessage(caller, target.id);
            target.deleted = true;
            break;
          }
          case 'forward': {
            if (!members(a.to).includes(a.user)) break;
            const visible = list.filter((m) => !m.deleted && m.seq > cleared[a.user]![a.room]!);
            if (visible.length === 0) break;
            const source = visible[a.pick % visible.length]!;
            const result = await app.forwardMessage(caller, source.id, [rooms[a.to]!.id]);
            onSent(a.user, a.to, result.forwarded_messages[0]!.id);
            break;
          }
        }
      }
      pending = await deliver([...pending, ...(await tap.drain())], prng(run), 0);
      expect(pending).toEqual([]);

      await checkCounts('after the last delivery', 0);
    }),
    { numRuns: 40 },
  );
});
