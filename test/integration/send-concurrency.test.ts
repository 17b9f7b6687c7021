import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/lib-dynamodb';
import type { BuildMiddleware } from '@smithy/types';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MessageRecord } from '#domain/model.ts';
import { ownReadSeq } from '#domain/unread.ts';
import { AppError, StoreError } from '#platform/errors.ts';
import { caller, localAws } from './support.ts';

/*
 * Issue 12 item 2's property, against DynamoDB Local: N concurrent senders
 * (2–30) send into one room; some sends fail between taking their number and
 * storing their message (or, ambiguously, just after storing it), and some
 * reuse a temp_id with the same or another request. Afterwards the room's
 * numbers, messages, receipts and every member's unread count must agree.
 * Faults are injected by a middleware on the functions' own DynamoDB client.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let app: {
  createRoom: typeof import('#domain/rooms.ts').createRoom;
  sendMessage: typeof import('#domain/messages.ts').sendMessage;
  listMessages: typeof import('#domain/messages.ts').listMessages;
  getAllUnreadCounts: typeof import('#domain/read-status.ts').getAllUnreadCounts;
  getRoomUnreadCount: typeof import('#domain/read-status.ts').getRoomUnreadCount;
  getMessagesBySeq: typeof import('#store/messages.ts').getMessagesBySeq;
  getMember: typeof import('#store/members.ts').getMember;
  getRoomHead: typeof import('#store/room-head.ts').getRoomHead;
  ddb: typeof import('#platform/clients.ts').ddb;
};

beforeAll(async () => {
  aws = await localAws();
  const [rooms, messages, readStatus, storeMessages, members, heads, clients] = await Promise.all([
    import('#domain/rooms.ts'),
    import('#domain/messages.ts'),
    import('#domain/read-status.ts'),
    import('#store/messages.ts'),
    import('#store/members.ts'),
    import('#store/room-head.ts'),
    import('#platform/clients.ts'),
  ]);
  app = {
    createRoom: rooms.createRoom,
    sendMessage: messages.sendMessage,
    listMessages: messages.listMessages,
    getAllUnreadCounts: readStatus.getAllUnreadCounts,
    getRoomUnreadCount: readStatus.getRoomUnreadCount,
    getMessagesBySeq: storeMessages.getMessagesBySeq,
    getMember: members.getMember,
    getRoomHead: heads.getRoomHead,
    ddb: clients.ddb,
  };
});
afterAll(async () => aws?.stop());

type Fault = 'none' | 'before' | 'after';

/** Thrown by the injector: a send's storing failed (a timeout, a crash of the call). */
class InjectedFault extends Error {
  override name = 'InjectedFault';
}

/**
 * Fault injection on the shared document client, at the build step (the input
 * is marshalled there, and the SDK's retries come later, so they never see it).
 * A write of a message item whose content has planned faults fails: 'before'
 * without reaching DynamoDB, 'after' once DynamoDB has committed it. Tombstones
 * always go through. It also counts the ADDs on each room head.
 */
function installInjector(plan: Map<string, Fault[]>) {
  const state = { consumed: 0, adds: new Map<string, number>() };
  const text = (v: unknown) =>
    typeof v === 'string' ? v : ((v as { S?: string } | undefined)?.S ?? undefined);
  const middleware: BuildMiddleware<ServiceInputTypes, ServiceOutputTypes> =
    (next) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const key = input.Key as Record<string, unknown> | undefined;
      if (
        text(key?.sk) === 'HEAD' &&
        String(input.UpdateExpression).startsWith('SET seq = if_not_exists(seq, :zero) + :n')
      ) {
        const pk = text(key?.pk)!;
        state.adds.set(pk, (state.adds.get(pk) ?? 0) + 1);
      }
      const puts = [
        input.Item,
        ...((input.TransactItems as { Put?: { Item?: unknown } }[] | undefined) ?? []).map(
          (t) => t.Put?.Item,
        ),
      ] as (Record<string, unknown> | undefined)[];
      const message = puts.find(
        (item) => item && text(item.sk)?.startsWith('MSG#') && !item.is_tombstone,
      );
      const planned = message ? plan.get(text(message.content)!) : undefined;
      const fault = planned?.shift();
      if (!fault || fault === 'none') return next(args);
      if (fault === 'before') {
        state.consumed++;
        throw new InjectedFault('failed before storing');
      }
      // A write DynamoDB refuses (a receipt taken meanwhile) answers with that refusal.
      await next(args);
      state.consumed++;
      throw new InjectedFault('stored, but the answer was lost');
    };
  const name = 'h6-fault-injector';
  app.ddb().middlewareStack.add(middleware, { step: 'build', name });
  return { state, remove: () => app.ddb().middlewareStack.remove(name) };
}

const rootCause = (error: Error): Error =>
  error instanceof StoreError && error.cause instanceof Error ? error.cause : error;

const sendSpec = fc.record({
  /** none: no temp_id; fresh: a temp_id of its own; reuse-*: the sender's shared temp_id. */
  temp: fc.constantFrom('none', 'fresh', 'reuse-same', 'reuse-other'),
  fault: fc.constantFrom<Fault>('none', 'none', 'none', 'before', 'after'),
});
/** Each sender's sends; a direct room has exactly two members, both sending. */
const scenario = (type: 'group' | 'direct') =>
  fc.integer(type === 'group' ? { min: 2, max: 30 } : { min: 2, max: 2 }).chain((n) =>
    fc.array(fc.array(sendSpec, { minLength: 1, maxLength: type === 'group' ? 3 : 6 }), {
      minLength: n,
      maxLength: n,
    }),
  );

interface Attempt {
  user: number;
  content: string;
  tempId: string | undefined;
  fault: Fault;
}

let run = 0;
const durations: number[] = [];

// A group moves each sender's read marker on their member item; a direct room moves it
// in the head's own ADD (head.sent_seqs). Both must keep every count exact.
it.each(['group', 'direct'] as const)(
  '%s: keeps seqs unique and increasing, every taken seq filled, temp_ids once, and unread counts exact under concurrent and failing sends',
  async (type) => {
    await fc.assert(
      fc.asyncProperty(scenario(type), async (specs) => {
        const started = Date.now();
        run++;
        const users = [...specs.keys()].map((i) => caller(`c${run}_u${i}`));
        // In a group, a member who never sends: their count is every visible message.
        const everyone = type === 'group' ? [...users, caller(`c${run}_watch`)] : users;
        const watcher = everyone.at(-1)!;
        const room = (
          await app.createRoom(
            users[0]!,
            type === 'group'
              ? { type, name: `burst ${run}`, member_ids: everyone.slice(1).map((u) => u.userId) }
              : { type, member_ids: [users[1]!.userId] },
          )
        ).room;

        const attempts: Attempt[] = specs.flatMap((sends, user) =>
          sends.map((s, k) => ({
            user,
            content: s.temp === 'reuse-same' ? `u${user} shared` : `u${user} s${k}`,
            tempId: s.temp === 'none' ? undefined : s.temp === 'fresh' ? `t${k}` : 'shared',
            fault: s.fault,
          })),
        );
        const plan = new Map<string, Fault[]>();
        for (const a of attempts) plan.set(a.content, [...(plan.get(a.content) ?? []), a.fault]);
        const send = (a: Attempt) =>
          app.sendMessage(users[a.user]!, room.id, {
            content: a.content,
            message_type: 'text',
            is_encrypted: false,
            ...(a.tempId ? { temp_id: a.tempId } : {}),
          });

        // Act 1: everything at once, with faults.
        const injector = installInjector(plan);
        type Outcome = PromiseSettledResult<Awaited<ReturnType<typeof send>>>;
        const retries = new Map<string, Outcome[]>();
        const groups = new Map<string, Attempt[]>();
        for (const a of attempts)
          if (a.tempId) {
            const key = `${a.user}/${a.tempId}`;
            groups.set(key, [...(groups.get(key) ?? []), a]);
          }
        let outcomes: Outcome[];
        try {
          outcomes = await Promise.allSettled(attempts.map(send));
          // Act 2: each temp_id group's requests are retried once each, in order, without faults.
          plan.clear();
          await Promise.all(
            [...groups].map(async ([key, group]) => {
              const distinct = [...new Map(group.map((a) => [a.content, a])).values()];
              const settled: Outcome[] = [];
              for (const a of distinct) settled.push((await Promise.allSettled([send(a)]))[0]!);
              retries.set(key, settled);
            }),
          );
        } finally {
          injector.remove();
        }

        // Assess: the room's numbers.
        const head = await app.getRoomHead(room.id);
        const adds = injector.state.adds.get(`ROOM#${room.id}`) ?? 0;
        expect(head.seq).toBe(adds);
        const all = (
          await app.getMessagesBySeq(
            room.id,
            Array.from({ length: head.seq + 3 }, (_, i) => i + 1),
          )
        ).sort((a, b) => a.seq - b.seq);
        // Every taken seq holds exactly one item (a message or a tombstone), nothing beyond.
        expect(all.map((m) => m.seq)).toEqual(Array.from({ length: head.seq }, (_, i) => i + 1));
        const stones = all.filter((m) => m.is_tombstone);
        const visible = all.filter((m) => !m.is_tombstone);
        expect(stones.every((m) => m.is_deleted)).toBe(true);
        expect(visible.every((m) => !m.is_deleted)).toBe(true);
        expect([...head.deleted_seqs].sort((a, b) => a - b)).toEqual(stones.map((m) => m.seq));
        expect(new Set(visible.map((m) => m.id)).size).toBe(visible.length);

        // Every answer names the message stored at its seq.
        const bySeq = new Map(all.map((m) => [m.seq, m]));
        const answered = [...outcomes, ...[...retries.values()].flat()];
        for (const outcome of answered) {
          if (outcome.status === 'rejected') continue;
          const seq = Number(outcome.value.message.id.split('.').pop());
          const stored = bySeq.get(seq);
          expect(stored?.is_tombstone).toBeUndefined();
          expect(outcome.value.message).toMatchObject({
            id: stored!.id,
            sender_id: stored!.sender_id,
            content: stored!.content,
          });
        }
        // A failure is an injected one or a 409 for another request under a used temp_id.
        // The store wraps what the SDK threw in a StoreError; judge by its cause.
        const failures = outcomes.flatMap((o, i) =>
          o.status === 'rejected'
            ? [{ attempt: attempts[i]!, reason: rootCause(o.reason as Error) }]
            : [],
        );
        const is409 = (e: Error) => e instanceof AppError && e.status === 409;
        expect(
          failures
            .filter((f) => !(f.reason instanceof InjectedFault) && !is409(f.reason))
            .map((f) => ({ ...f.attempt, error: `${f.reason.name}: ${f.reason.message}` })),
        ).toEqual([]);
        const injected = failures.filter((f) => f.reason instanceof InjectedFault).length;
        expect(injected).toBe(injector.state.consumed);
        const storedOf = (user: number, contents: Set<string>) =>
          visible.filter((m) => m.sender_id === users[user]!.userId && contents.has(m.content));

        // Without temp_id: stored once unless it failed before storing.
        attempts.forEach((a, i) => {
          if (a.tempId) return;
          const outcome = outcomes[i]!;
          expect(
            outcome.status === 'fulfilled' ||
              rootCause(outcome.reason as Error) instanceof InjectedFault,
          ).toBe(true);
          expect(storedOf(a.user, new Set([a.content]))).toHaveLength(a.fault === 'before' ? 0 : 1);
        });
        // With a temp_id: each (sender, temp_id) is exactly one message, whoever won it.
        for (const [key, group] of groups) {
          const stored = storedOf(group[0]!.user, new Set(group.map((a) => a.content)));
          expect({ key, stored: stored.length }).toEqual({ key, stored: 1 });
          const winner = stored[0]!;
          const inGroup = attempts.flatMap((a, i) =>
            group.includes(a) ? [{ a, outcome: outcomes[i]! }] : [],
          );
          const retried = retries.get(key)!.map((outcome, i) => ({
            a: [...new Map(group.map((a) => [a.content, a])).values()][i]!,
            outcome,
          }));
          for (const { a, outcome } of [...inGroup, ...retried]) {
            if (outcome.status === 'fulfilled') {
              expect(outcome.value.message.id).toBe(winner.id);
              expect(a.content).toBe(winner.content);
            } else if (!(rootCause(outcome.reason as Error) instanceof InjectedFault)) {
              expect(outcome.reason).toBeInstanceOf(AppError);
              expect((outcome.reason as AppError).status).toBe(409);
              expect(a.content).not.toBe(winner.content);
            }
          }
          // The retries, without faults: the winning request is confirmed, the others refused.
          for (const { a, outcome } of retried) {
            expect(outcome.status).toBe(a.content === winner.content ? 'fulfilled' : 'rejected');
          }
        }

        // The listing: newest first, seqs strictly decreasing, exactly the visible messages.
        const listed: string[] = [];
        let before: string | undefined;
        do {
          const page = await app.listMessages(watcher, room.id, { limit: 37, before });
          listed.push(...page.messages.map((m) => m.id));
          before = page.next_cursor ?? undefined;
        } while (before);
        const listedSeqs = listed.map((id) => Number(id.split('.').pop()));
        expect(listedSeqs.every((s, i) => i === 0 || s < listedSeqs[i - 1]!)).toBe(true);
        expect([...listedSeqs].reverse()).toEqual(visible.map((m) => m.seq));

        // Unread: the visible messages from others after each member's read position, where
        // the position is the highest seq the member took (sending marks the room read).
        const seen = await Promise.all(
          everyone.map(async (member) => {
            const [state, counts, one] = await Promise.all([
              app.getMember(member.userId, room.id),
              app.getAllUnreadCounts(member),
              app.getRoomUnreadCount(member, room.id),
            ]);
            const read_seq = state && ownReadSeq(state, head);
            return { user: member.userId, read_seq, counts, room: one.unread_count };
          }),
        );
        const expected = everyone.map((member) => {
          const taken = all.filter((m) => m.sender_id === member.userId).map((m) => m.seq);
          const floor = Math.max(0, ...taken);
          const unread = visible.filter(
            (m: MessageRecord) => m.sender_id !== member.userId && m.seq > floor,
          ).length;
          return {
            user: member.userId,
            read_seq: floor,
            counts: {
              total_unread: unread,
              rooms: [expect.objectContaining({ room_id: room.id, unread_count: unread })],
            },
            room: unread,
          };
        });
        expect(seen).toEqual(expected);
        durations.push(Date.now() - started);
      }),
      { numRuns: 5, endOnFailure: true },
    );
    console.info(`send-concurrency: ${durations.length} runs, ms each: ${durations.join(', ')}`);
  },
  120_000,
);
