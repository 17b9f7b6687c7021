import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * Issue 15's property: for random interleavings of sends, deletions, clears
 * and cursors taken along the way, paging through sync from any of those
 * cursors (with random page sizes) yields, after de-duplication by id, every
 * message still visible to the user that was created after the cursor, exactly
 * once, in order per room; never a message below the user's clear markers;
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

it('pages every visible message since any cursor exactly once, in order, and never a deleted one as live', async () => {
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
              deleted: false,
            });
          } else if (step.kind === 'delete') {
            const own = sent.filter((m) => m.sender === step.user && !m.deleted);
            if (own.length === 0) continue;
            const target = own[step.pick % own.length]!;
            await app.deleteMessage(users[step.user]!, target.id);
            target.deleted = true;
          } else if (step.kind === 'clear') {
            // Clear for everyone only in the group (a is its admin); for a alone otherwise.
            const everyone = step.everyone && step.room === 0;
            await app.clearChat(a, rooms[step.room]!, everyone);
            floor[step.room] = Math.max(
              floor[step.room]!,
              ...sent.filter((m) => m.room === step.room).map((m) => m.seq),
            );
          } else {
            cursors.push({ token: (await app.sync(a, undefined, 10)).next_since, at: Date.now() });
          }
        }

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
          const firstSeen: string[] = [];
          const deletedIds = new Set<string>();
          for (const f of frames) {
            if (f.event === 'message-deleted') deletedIds.add(f.data.message_id as string);
            if (f.event !== 'new-chat-message') continue;
            const id = (f.data.message as { id: string }).id;
            if (!firstSeen.includes(id)) firstSeen.push(id);
          }
          const byId = new Map(sent.map((m) => [m.id, m]));
          const visibleSince = sent.filter(
            (m) => !m.deleted && m.seq > floor[m.room]! && m.at >= cursor.at,
          );
          // Every message still visible and created after the cursor: there.
          for (const m of visibleSince) expect(firstSeen).toContain(m.id);
          for (const id of firstSeen) {
            const m = byId.get(id)!;
            // Never below a clear marker; a deleted one only with its deletion.
            expect(m.seq).toBeGreaterThan(floor[m.room]!);
            if (m.deleted) expect(deletedIds.has(id)).toBe(true);
          }
          // In order per room.
          for (const r of [0, 1]) {
            const seqs = firstSeen
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
