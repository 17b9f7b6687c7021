import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newMessage } from '#model';
import { caller, localAws } from './support.ts';

/**
 * Issue 15's property: for random interleavings of sends, deletions, clears
 * and cursors taken along the way, paging through sync from any of those
 * cursors (with random page sizes) yields every message still visible to the
 * user positioned after the cursor (5 s before it for a caught-up "tail"
 * cursor), each exactly once without de-duplicating, nothing older, in order
 * per room; never a message below the user's clear markers;
 * and never a deleted message as a live one without its deletion.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let app: typeof import('#domain/messages.ts') &
  typeof import('#domain/rooms.ts') &
  typeof import('#domain/chat-state.ts') &
  typeof import('#domain/sync.ts');

beforeAll(async () => {
  aws = await localAws();
  app = {
    ...(await import('#domain/messages.ts')),
    ...(await import('#domain/rooms.ts')),
    ...(await import('#domain/chat-state.ts')),
    ...(await import('#domain/sync.ts')),
  };
  openCursor = (await import('#store/cursor.ts')).openCursor;
});
afterAll(async () => aws?.stop());

interface Frame {
  event: string;
  data: Record<string, unknown>;
}
interface Sent {
  id: string;
  room: number;
  seq: number;
  sender: number;
  at: number;
  createdAt: string;
  deleted: boolean;
}

const action = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), user: fc.nat(1), room: fc.nat(1) }),
  fc.record({ kind: fc.constant('send' as const), user: fc.nat(1), room: fc.nat(1) }),
  fc.record({ kind: fc.constant('delete' as const), user: fc.nat(1), pick: fc.nat() }),
  fc.record({ kind: fc.constant('clear' as const), room: fc.nat(1), everyone: fc.boolean() }),
  fc.record({ kind: fc.constant('cursor' as const) }),
);

let run = 0;
let openCursor: typeof import('#store/cursor.ts').openCursor;

it('pages every visible message since any cursor exactly once (counted), nothing from before the cursor, in order, and never a deleted one as live', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(action, { minLength: 4, maxLength: 16 }),
      fc.integer({ min: 1, max: 5 }),
      async (actions, pageSize) => {
        run++;
        const users = [caller(`sy${run}_a`), caller(`sy${run}_b`)];
        const [a] = users as [ReturnType<typeof caller>];
        const group = (
          await app.createRoom(a, { type: 'group', name: 'g', member_ids: [users[1]!.userId] })
        ).room.id;
        const direct = (await app.createRoom(a, { type: 'direct', member_ids: [users[1]!.userId] }))
          .room.id;
        const rooms = [group, direct];
        const sent: Sent[] = [];
        const floor = [0, 0]; // user a's clear floor per room
        const everyoneFloor = [0, 0]; // what a clear for everyone hides from b too
        const cursors: { token: string; at: number }[] = [
          { token: (await app.sync(a, undefined, 10)).next_since, at: Date.now() },
        ];
        for (const step of actions) {
          if (step.kind === 'send') {
            const r = await app.sendMessage(users[step.user]!, rooms[step.room]!, {
              content: `m${sent.length}`,
              message_type: 'text',
              is_encrypted: false,
            });
            const seq = Number(r.message.id.split('.').pop());
            sent.push({
              id: r.message.id,
              room: step.room,
              seq,
              sender: step.user,
              at: Date.parse(r.message.created_at),
              createdAt: r.message.created_at,
              deleted: false,
            });
          } else if (step.kind === 'delete') {
            const own = sent.filter((m) => m.sender === step.user && !m.deleted);
            if (own.length === 0) continue;
            const target = own[step.pick % own.length]!;
            // A message the sender's clear marker hides is theirs no more to delete: 404.
            const hidden = target.seq <= (step.user === 0 ? floor : everyoneFloor)[target.room]!;
            const outcome = await app.deleteMessage(users[step.user]!, target.id).then(
              () => 'deleted',
              (e: { code?: string }) => e.code ?? 'thrown',
            );
            expect(outcome).toBe(hidden ? 'NOT_FOUND' : 'deleted');
            target.deleted = !hidden;
          } else if (step.kind === 'clear') {
            // Clear for everyone only in the group (a is its admin); for a alone otherwise.
            const everyone = step.everyone && step.room === 0;
            await app.clearChat(a, rooms[step.room]!, everyone);
            floor[step.room] = Math.max(
              floor[step.room]!,
              ...sent.filter((m) => m.room === step.room).map((m) => m.seq),
            );
            if (everyone) everyoneFloor[step.room] = floor[step.room]!;
          } else {
            cursors.push({ token: (await app.sync(a, undefined, 10)).next_since, at: Date.now() });
          }
        }

        const visibleSinceOf = (at: number) =>
          sent.filter((m) => !m.deleted && m.seq > floor[m.room]! && m.at >= at);
        for (const cursor of cursors) {
          const frames: Frame[] = [];
          let since = cursor.token;
          for (let pages = 0; pages < 200; pages++) {
            const page = await app.sync(a, since, pageSize);
            expect(page.events.length).toBeLessThanOrEqual(pageSize);
            frames.push(...(page.events as Frame[]));
            since = page.next_since;
            if (!page.has_more) break;
          }
          // Where this cursor reads from: after its position, or 5 s before it for a
          // "tail" cursor (a page that caught up), which is the contract's only repeat
          // (at least once across syncs; docs/architecture.md "Sync"). Within one paging from one
          // cursor nothing repeats: each next page starts strictly after the last.
          const opened = openCursor('sync', a.userId, cursor.token, 'since') as {
            k: string;
            tail: boolean;
          };
          const after = opened.tail
            ? `${new Date(Date.parse(opened.k.slice(0, 24)) - 5000).toISOString()}#`
            : opened.k;
          const deletedIds = new Set<string>();
          const live: string[] = [];
          for (const f of frames) {
            if (f.event === 'message-deleted') deletedIds.add(f.data.message_id as string);
            if (f.event === 'new-chat-message') live.push((f.data.message as { id: string }).id);
          }
          // No duplicate at all (counted, not de-duplicated first).
          expect(live.length, `duplicates in ${live.join(',')}`).toBe(new Set(live).size);
          const byId = new Map(sent.map((m) => [m.id, m]));
          // Exactly the messages still visible and positioned after the cursor: none
          // missing, none from before the cursor, none deleted, none below a clear.
          const expected = sent.filter(
            (m) => !m.deleted && m.seq > floor[m.room]! && `${m.createdAt}#${m.id}` > after,
          );
          expect([...live].sort()).toEqual(expected.map((m) => m.id).sort());
          for (const m of visibleSinceOf(cursor.at)) expect(live).toContain(m.id);
          for (const id of live) {
            const m = byId.get(id)!;
            expect(`${m.createdAt}#${m.id}` > after).toBe(true);
            expect(m.seq).toBeGreaterThan(floor[m.room]!);
            expect(m.deleted).toBe(false);
          }
          // A message deleted after this cursor comes as its deletion.
          for (const m of sent)
            if (m.deleted && m.seq > floor[m.room]! && `${m.createdAt}#${m.id}` > after)
              expect(deletedIds.has(m.id)).toBe(true);
          // In order per room.
          for (const r of [0, 1]) {
            const seqs = live
              .map((id) => byId.get(id)!)
              .filter((m) => m.room === r)
              .map((m) => m.seq);
            expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
          }
        }
      },
    ),
    { numRuns: 12 },
  );
}, 180_000);

/**
 * The same from inside big rooms, whose messages are written straight to the
 * store with made-up times: taken in seq order but jittered up to 2 s either
 * way (a send stamps its time before it takes its number, so seq and time
 * disagree by up to the skew sync allows for), some numbers left as tombstones
 * and some messages deleted. Paging from a cursor anywhere among them, with
 * pages cut inside a room, still gives every visible message at or after the
 * cursor exactly once, in sync order; and a page reads about a page of
 * messages, however big the backlog behind the cursor.
 */
interface Made {
  id: string;
  at: string;
  deleted: boolean;
  tombstone: boolean;
}

async function makeMessages(
  roomId: string,
  senderId: string,
  times: readonly number[],
  tombstones: ReadonlySet<number>,
): Promise<Made[]> {
  const { takeSequence } = await import('#store/room-head.ts');
  const { storeMessages, putTombstones } = await import('#store/append-message.ts');
  const made: Made[] = [];
  const writes: Promise<unknown>[] = [];
  for (const [i, t] of times.entries()) {
    const at = new Date(t).toISOString();
    const summary = {
      sender_id: senderId,
      content: `b${i}`,
      message_type: 'text',
      is_encrypted: false,
      created_at: at,
    };
    const seq = await takeSequence(roomId, summary, at);
    const id = `${roomId}.${seq}`;
    const tombstone = tombstones.has(i);
    made.push({ id, at, deleted: false, tombstone });
    writes.push(
      tombstone
        ? putTombstones([{ room_id: roomId, seq, sender_id: senderId, created_at: at }])
        : storeMessages([
            newMessage(
              { id, room_id: roomId, seq },
              { userId: senderId, name: senderId },
              { content: `b${i}`, message_type: 'text', is_encrypted: false },
              at,
            ),
          ]),
    );
  }
  await Promise.all(writes);
  return made;
}

/** Items every Query of the table read (ScannedCount), from now on. */
async function countReads() {
  const { ddb } = await import('#platform/clients.ts');
  const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
  const client = ddb();
  const send = client.send.bind(client) as (command: unknown) => Promise<{ ScannedCount?: number }>;
  const counter = { items: 0 };
  client.send = (async (command: unknown) => {
    const out = await send(command);
    if (command instanceof QueryCommand) counter.items += out.ScannedCount ?? 0;
    return out;
  }) as typeof client.send;
  return counter;
}

const positionOf = (m: { at: string; id: string }) => `${m.at}#${m.id}`;

it('pages from inside a big room with skewed times, tombstones and deletions: each visible message once, in order', async () => {
  const { sealCursor } = await import('#store/cursor.ts');
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 40, max: 100 }),
      fc.integer({ min: 0, max: 1500 }),
      fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: 100, maxLength: 100 }),
      fc.uniqueArray(fc.nat(99), { maxLength: 8 }),
      fc.uniqueArray(fc.nat(99), { maxLength: 4 }),
      fc.integer({ min: 2, max: 10 }),
      fc.array(fc.tuple(fc.double({ min: -0.1, max: 1.1, noNaN: true }), fc.boolean()), {
        minLength: 1,
        maxLength: 2,
      }),
      async (count, gapMs, jitter, stoneAt, deleteAt, pageSize, cursorAt) => {
        run++;
        const [a, b] = [caller(`sb${run}_a`), caller(`sb${run}_b`)];
        const room = (
          await app.createRoom(a, { type: 'group', name: 'big', member_ids: [b.userId] })
        ).room.id;
        const base = Date.now() - 60_000 - count * gapMs;
        const times = Array.from({ length: count }, (_, i) => base + i * gapMs + jitter[i]!);
        const made = await makeMessages(room, b.userId, times, new Set(stoneAt));
        for (const i of deleteAt) {
          const m = made[i];
          if (!m || m.tombstone) continue;
          await app.deleteMessage(b, m.id);
          m.deleted = true;
        }
        const span = count * gapMs + 4000;
        for (const [where, tail] of cursorAt) {
          const t = Math.round(base - 2000 + where * span);
          const token = sealCursor('sync', a.userId, { k: `${new Date(t).toISOString()}#`, tail });
          const frames: Frame[] = [];
          let since = token;
          for (let pages = 0; pages < 400; pages++) {
            const page = await app.sync(a, since, pageSize);
            expect(page.events.length).toBeLessThanOrEqual(pageSize);
            frames.push(...(page.events as Frame[]));
            since = page.next_since;
            if (!page.has_more) break;
          }
          const byId = new Map(made.map((m) => [m.id, m]));
          const live = frames
            .filter((f) => f.event === 'new-chat-message')
            .map((f) => (f.data.message as { id: string }).id);
          const deletions = new Set(
            frames.filter((f) => f.event === 'message-deleted').map((f) => f.data.message_id),
          );
          const from = new Date(tail ? t - 5000 : t).toISOString();
          const expected = made
            .filter((m) => !m.deleted && !m.tombstone && m.at >= from)
            .map((m) => m.id);
          // Exactly once each (a cursor that is not a tail repeats nothing), nothing else.
          expect([...live].sort()).toEqual([...expected].sort());
          for (const id of live) expect(byId.get(id)!.deleted).toBe(false);
          for (const m of made)
            if (m.deleted && m.at >= from) expect(deletions.has(m.id)).toBe(true);
          // Oldest first, in sync order.
          const order = frames
            .filter((f) => f.event === 'new-chat-message')
            .map((f) => positionOf(byId.get((f.data.message as { id: string }).id)!));
          expect(order).toEqual([...order].sort());
        }
      },
    ),
    { numRuns: 5 },
  );
}, 300_000);

it('reads about a page per page: paging through 1,000 messages reads each a bounded number of times', async () => {
  const { sealCursor } = await import('#store/cursor.ts');
  const [a, b] = [caller('sbig_a'), caller('sbig_b')];
  const room = (await app.createRoom(a, { type: 'group', name: 'big', member_ids: [b.userId] }))
    .room.id;
  const count = 1000;
  const base = Date.now() - 3_600_000;
  const times = Array.from({ length: count }, (_, i) => base + i * 1000);
  await makeMessages(room, b.userId, times, new Set());
  const reads = await countReads();
  let since = sealCursor('sync', a.userId, {
    k: `${new Date(base - 1).toISOString()}#`,
    tail: false,
  });
  const perPage: number[] = [];
  const ids = new Set<string>();
  for (let pages = 0; pages < 200; pages++) {
    const before = reads.items;
    const page = await app.sync(a, since, 20);
    perPage.push(reads.items - before);
    for (const f of page.events as Frame[])
      if (f.event === 'new-chat-message') ids.add((f.data.message as { id: string }).id);
    since = page.next_since;
    if (!page.has_more) break;
  }
  expect(ids.size).toBe(count);
  expect(perPage.length).toBeGreaterThanOrEqual(count / 20);
  // Re-reading what is left on each page would read ~1,000 on the first and ~25,000 in all.
  expect(Math.max(...perPage)).toBeLessThan(150);
  expect(perPage.reduce((x, y) => x + y, 0)).toBeLessThan(8 * count);
}, 120_000);

it('a page with more to come ends before its last seconds, so a message that lands late behind them still comes', async () => {
  const { sealCursor } = await import('#store/cursor.ts');
  const [a, b] = [caller('slate_a'), caller('slate_b')];
  // A direct room: its creation logs no event, so the pages hold only these messages.
  const room = (await app.createRoom(a, { type: 'direct', member_ids: [b.userId] })).room.id;
  const ids = (page: { events: unknown[] }) =>
    (page.events as Frame[])
      .filter((f) => f.event === 'new-chat-message')
      .map((f) => (f.data.message as { id: string }).id);
  const old = Date.now() - 60_000;
  const made = await makeMessages(room, b.userId, [old, old + 1000, old + 2000], new Set());
  // Three from the last moment, made just before the first page (which must come
  // within sync's 5 s of them).
  const now = Date.now();
  made.push(
    ...(await makeMessages(room, b.userId, [now - 1500, now - 1200, now - 900], new Set())),
  );
  let since = sealCursor('sync', a.userId, {
    k: `${new Date(old - 60_000).toISOString()}#`,
    tail: false,
  });
  const first = await app.sync(a, since, 4);
  // The page ends with the settled messages, not inside the last few seconds.
  expect(ids(first)).toEqual(made.slice(0, 3).map((m) => m.id));
  expect(first.has_more).toBe(true);

  // A send that took its time lands now, dated before the recent three: a page that
  // had ended at the first of them would have passed it.
  const [late] = await makeMessages(room, b.userId, [now - 2000], new Set());
  const rest: string[] = [];
  since = first.next_since;
  for (let pages = 0; pages < 10; pages++) {
    const page = await app.sync(a, since, 4);
    rest.push(...ids(page));
    since = page.next_since;
    if (!page.has_more) break;
  }
  expect(new Set(rest)).toEqual(new Set([late!.id, ...made.slice(3).map((m) => m.id)]));
});
