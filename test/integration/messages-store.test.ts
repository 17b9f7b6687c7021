import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/** The send transaction and room writes against DynamoDB Local (a real engine with transactions). */
let aws: Awaited<ReturnType<typeof localAws>>;
let domain: typeof import('#domain/messages.ts') & typeof import('#domain/rooms.ts');
let store: typeof import('#store/append-message.ts') & typeof import('#store/messages.ts');

beforeAll(async () => {
  aws = await localAws();
  domain = { ...(await import('#domain/messages.ts')), ...(await import('#domain/rooms.ts')) };
  store = {
    ...(await import('#store/append-message.ts')),
    ...(await import('#store/messages.ts')),
  };
});
afterAll(async () => aws?.stop());

const text = (content: string, temp_id?: string) => ({
  content,
  message_type: 'text',
  is_encrypted: false,
  ...(temp_id ? { temp_id } : {}),
});

describe('sending', () => {
  it('gives concurrent senders contiguous, unique sequence numbers (no gaps, nothing lost)', async () => {
    const members = Array.from({ length: 6 }, (_, i) => `s_u${i}`);
    const room = (
      await domain.createRoom(caller(members[0]!), {
        type: 'group',
        name: 'busy',
        member_ids: members.slice(1),
      })
    ).room;
    const sends = Array.from({ length: 30 }, (_, i) =>
      domain.sendMessage(caller(members[i % members.length]!), room.id, text(`m${i}`)),
    );
    const results = await Promise.all(sends);
    const seqs = results.map((r) => Number(r.message.id.split('.').pop())).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const listed = await domain.listMessages(caller(members[0]!), room.id, { limit: 100 });
    expect(listed.messages).toHaveLength(30);
    expect(listed.messages.map((m) => Number(m.id.split('.').pop()))).toEqual([...seqs].reverse());
  });

  it('makes one message of concurrent sends that share a temp_id', async () => {
    const room = (
      await domain.createRoom(caller('t_a'), { type: 'group', name: 'idem', member_ids: [] })
    ).room;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        domain.sendMessage(caller('t_a'), room.id, text('once', 'tmp-1')),
      ),
    );
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(
      (await domain.listMessages(caller('t_a'), room.id, { limit: 10 })).messages,
    ).toHaveLength(1);
  });

  it('creates one direct room when both users ask at once', async () => {
    const [a, b] = await Promise.all([
      domain.createRoom(caller('d_a'), { type: 'direct', member_ids: ['d_b'] }),
      domain.createRoom(caller('d_b'), { type: 'direct', member_ids: ['d_a'] }),
    ]);
    expect(a.room.id).toBe(b.room.id);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
  });
});

describe('forwarding atomicity', () => {
  it('writes no copy and leaves forwarded_count alone when one copy fails inside the transaction', async () => {
    const owner = caller('f_a');
    const source = (await domain.createRoom(owner, { type: 'group', name: 'src', member_ids: [] }))
      .room;
    const t1 = (await domain.createRoom(owner, { type: 'group', name: 't1', member_ids: [] })).room;
    const t2 = (await domain.createRoom(owner, { type: 'group', name: 't2', member_ids: [] })).room;
    const original = (await domain.sendMessage(owner, source.id, text('fwd me'))).message;
    const taken = (await domain.sendMessage(owner, t2.id, text('already here'))).message;
    const sourceRecord = (await store.getMessage(original.id))!;
    const copy = (roomId: string, seq: number) => ({
      ...sourceRecord,
      id: store.messageId(roomId, seq),
      room_id: roomId,
      seq,
      forwarded_from: original.id,
    });
    // t2's copy claims a number that already holds a message: its put's condition fails.
    await expect(
      store.storeMessages([copy(t1.id, 1), copy(t2.id, 1)], { forwardedFrom: sourceRecord }),
    ).rejects.toThrow();
    expect((await domain.listMessages(owner, t1.id, { limit: 10 })).messages).toEqual([]);
    const t2Messages = (await domain.listMessages(owner, t2.id, { limit: 10 })).messages;
    expect(t2Messages.map((m) => m.id)).toEqual([taken.id]);
    expect(t2Messages[0]!.content).toBe('already here');
    expect((await store.getMessage(original.id))!.forwarded_count).toBe(0);
  });
});
