import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * Issue 24 B9: an offline member's queued messages must reach them in send order
 * when they connect again, across the pages the flush reads (a page here is
 * smaller than the backlog). The hard cases: concurrent sends from several
 * senders, sends stamped in the same millisecond (seq 9 then 10, which sort the
 * other way round as text), and sends whose times run against their seqs (a
 * send stamps its time before it takes its number), with the pending copies
 * written in no particular order, several at once, as SQS hands them over.
 * The flush posts to a stand-in for the @connections API, which records what
 * each connection got.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let management: Server;
const received = new Map<string, string[]>();

type Consumer = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
let consumeOffline: Consumer;
let consumeFlush: Consumer;
let domain: typeof import('#domain/rooms.ts') & typeof import('#domain/messages.ts');

const PAGE = 4;
let whileGone: (() => Promise<unknown>) | undefined;

beforeAll(async () => {
  aws = await localAws();
  management = createServer((req, res) => {
    const connectionId = decodeURIComponent(/@connections\/([^/?]+)/.exec(req.url ?? '')![1]!);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const frame = JSON.parse(Buffer.concat(chunks).toString()) as {
        event: string;
        data: { message?: { id: string } };
      };
      // A connection named gone-… is gone (410), after what a test wants to happen meanwhile.
      if (connectionId.startsWith('gone-')) {
        await whileGone?.();
        res.writeHead(410).end();
        return;
      }
      if (frame.event === 'new-chat-message')
        received.set(connectionId, [...(received.get(connectionId) ?? []), frame.data.message!.id]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => management.listen(0, '127.0.0.1', done));
  process.env.WS_ENDPOINT = `http://127.0.0.1:${(management.address() as AddressInfo).port}`;
  const { LIMITS } = await import('#platform/limits.ts');
  (LIMITS as { pendingFlushBatch: number }).pendingFlushBatch = PAGE;
  consumeOffline = (await import('#functions/queues/offline-delivery.ts')).handler as never;
  consumeFlush = (await import('#functions/queues/flush-pending.ts')).handler as never;
  domain = {
    ...(await import('#domain/rooms.ts')),
    ...(await import('#domain/messages.ts')),
  };
});
afterAll(async () => {
  management?.close();
  await aws?.stop();
});

const record = (id: string, body: unknown) =>
  ({
    messageId: id,
    receiptHandle: id,
    body: JSON.stringify(body),
    attributes: {},
    messageAttributes: {},
    eventSource: 'aws:sqs',
  }) as never;

/** The pending copies written as SQS would hand them over: newest first, three consumers at once. */
async function queueOffline(userId: string, messages: readonly { id: string }[], tag: string) {
  const records = messages.map((message, i) => record(`${tag}-${i}`, { user_id: userId, message }));
  records.reverse();
  await Promise.all(
    [0, 1, 2].map(async (lane) => {
      for (let i = lane; i < records.length; i += 3)
        expect(
          (await consumeOffline({ Records: [records[i]!] }, {} as Context)).batchItemFailures,
        ).toEqual([]);
    }),
  );
}

/** The member connects again: the flush queued by $connect runs. */
async function reconnect(userId: string, connectionId: string) {
  expect(
    (
      await consumeFlush(
        {
          Records: [
            record(`flush-${connectionId}`, { user_id: userId, connection_id: connectionId }),
          ],
        },
        {} as Context,
      )
    ).batchItemFailures,
  ).toEqual([]);
  return received.get(connectionId) ?? [];
}

const seqOf = (id: string) => Number(id.split('.').pop());
const roomOf = (id: string) => id.slice(0, id.lastIndexOf('.'));
const inRoom = (ids: readonly string[], roomId: string) =>
  ids.filter((id) => roomOf(id) === roomId).map(seqOf);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function pendingCount(userId: string) {
  const { listPending } = await import('#store/pending.ts');
  return (await listPending(userId, 1000, Date.now())).length;
}

/**
 * Stores messages in a room as the send does (take a number, store), each
 * stamped at the time `stamp(i)` gives: the same millisecond for all, or times
 * that run backwards against the seqs.
 */
async function storeStamped(
  roomId: string,
  sender: string,
  count: number,
  stamp: (i: number) => string,
) {
  const { takeSequence } = await import('#store/room-head.ts');
  const { storeMessages } = await import('#store/append-message.ts');
  const { newMessage } = await import('#model');
  const { messageView } = await import('#domain/views.ts');
  const views = [];
  for (let i = 0; i < count; i++) {
    const at = stamp(i);
    const content = { content: `s${i}`, message_type: 'text', is_encrypted: false };
    const seq = await takeSequence(roomId, { sender_id: sender, ...content, created_at: at }, at);
    const message = newMessage(
      { id: `${roomId}.${seq}`, room_id: roomId, seq },
      { userId: sender, name: sender.toUpperCase() },
      content,
      at,
    );
    await storeMessages([message]);
    views.push(messageView(message));
  }
  return views;
}

describe('offline flush order (issue 24 B9)', () => {
  it('delivers concurrent and same-millisecond sends in send order, per room, across flush pages', async () => {
    const away = 'fo_away';
    const senders = ['fo_a', 'fo_b', 'fo_c'];
    const busy = (
      await domain.createRoom(caller('fo_a'), {
        type: 'group',
        name: 'busy',
        member_ids: ['fo_b', 'fo_c', away],
      })
    ).room;
    const sameMs = (
      await domain.createRoom(caller('fo_s'), { type: 'group', name: 'ms', member_ids: [away] })
    ).room;
    const backwards = (
      await domain.createRoom(caller('fo_t'), { type: 'group', name: 'bw', member_ids: [away] })
    ).room;

    // 14 concurrent sends from three senders: numbers 9 → 10 → 14 taken in any order.
    const concurrent = await Promise.all(
      Array.from({ length: 14 }, (_, i) =>
        domain.sendMessage(caller(senders[i % 3]!), busy.id, {
          content: `c${i}`,
          message_type: 'text',
          is_encrypted: false,
        }),
      ),
    );
    // 12 in one millisecond: "x.10" sorts before "x.9" as text.
    const at = new Date().toISOString();
    const same = await storeStamped(sameMs.id, 'fo_s', 12, () => at);
    // 11 whose times run backwards against their seqs, a millisecond apart.
    const base = Date.now();
    const reversed = await storeStamped(backwards.id, 'fo_t', 11, (i) =>
      new Date(base - i).toISOString(),
    );

    await queueOffline(away, [...concurrent.map((s) => s.message), ...same, ...reversed], 'fo');
    expect(await pendingCount(away)).toBe(37);

    const got = await reconnect(away, 'conn-fo-1');
    expect(inRoom(got, busy.id)).toEqual(oneTo(14));
    expect(inRoom(got, sameMs.id)).toEqual(oneTo(12));
    expect(inRoom(got, backwards.id)).toEqual(oneTo(11));
    expect(got).toHaveLength(37);
    expect(await pendingCount(away)).toBe(0);
  });

  it('keeps a pending copy stored under the old key shape, delivers it first and removes it', async () => {
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const away = 'fo_old';
    const room = (
      await domain.createRoom(caller('fo_o'), { type: 'group', name: 'old', member_ids: [away] })
    ).room;
    const first = await domain.sendMessage(caller('fo_o'), room.id, {
      content: 'before the deploy',
      message_type: 'text',
      is_encrypted: false,
    });
    // Written by the code before this change: PENDING#<created_at>#<message_id>.
    const doc = DynamoDBDocumentClient.from(aws.dynamo.client);
    await doc.send(
      new PutCommand({
        TableName: aws.dynamo.tableName,
        Item: {
          pk: `USER#${away}`,
          sk: `PENDING#${first.message.created_at}#${first.message.id}`,
          entity: 'pending',
          message: {
            id: first.message.id,
            room_id: room.id,
            created_at: first.message.created_at,
          },
          ttl: Math.floor(Date.now() / 1000) + 3600,
        },
      }),
    );
    const later = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        domain.sendMessage(caller('fo_o'), room.id, {
          content: `after ${i}`,
          message_type: 'text',
          is_encrypted: false,
        }),
      ),
    );
    await queueOffline(
      away,
      later.map((s) => s.message),
      'fo-old',
    );
    const got = await reconnect(away, 'conn-fo-2');
    expect(inRoom(got, room.id)).toEqual(oneTo(7));
    expect(await pendingCount(away)).toBe(0);
  });

  it('posts each pending message once when flushes run at once, and leaves none behind', async () => {
    const { addConnection } = await import('#store/connections.ts');
    const away = 'fo_busy';
    const room = (
      await domain.createRoom(caller('fo_p'), { type: 'group', name: 'burst', member_ids: [away] })
    ).room;
    const send = (i: number) =>
      domain.sendMessage(caller('fo_p'), room.id, {
        content: `b${i}`,
        message_type: 'text',
        is_encrypted: false,
      });
    const before = [];
    for (let i = 0; i < 10; i++) before.push((await send(i)).message);
    await queueOffline(away, before, 'fo-burst');
    const later = [];
    for (let i = 10; i < 16; i++) later.push((await send(i)).message);
    // The member is back: $connect's flush runs while the rest of the backlog is
    // still being queued, each offline-delivery record finding them online and
    // flushing too (the load bench's reconnects did exactly this).
    const connectionId = 'conn-fo-3';
    await addConnection({
      connection_id: connectionId,
      user_id: away,
      name: 'AWAY',
      connected_at: new Date().toISOString(),
    });
    await Promise.all([
      reconnect(away, connectionId),
      reconnect(away, connectionId),
      queueOffline(away, later, 'fo-burst-late'),
    ]);
    const got = received.get(connectionId) ?? [];
    expect(got).toHaveLength(16);
    expect(new Set(got).size).toBe(16);
    expect(await pendingCount(away)).toBe(0);
  });

  it("hands a flush that stepped aside to the running one: the asker's new connection gets the backlog even when the holder's own connection is gone", async () => {
    const { addConnection } = await import('#store/connections.ts');
    const { flushPending } = await import('#domain/offline-delivery.ts');
    const away = 'fo_handoff';
    const room = (
      await domain.createRoom(caller('fo_q'), {
        type: 'group',
        name: 'handoff',
        member_ids: [away],
      })
    ).room;
    const backlog = [];
    for (let i = 0; i < 6; i++)
      backlog.push(
        (
          await domain.sendMessage(caller('fo_q'), room.id, {
            content: `h${i}`,
            message_type: 'text',
            is_encrypted: false,
          })
        ).message,
      );
    await queueOffline(away, backlog, 'fo-handoff');
    const fresh = 'conn-fo-fresh';
    await addConnection({
      connection_id: fresh,
      user_id: away,
      name: 'AWAY',
      connected_at: new Date().toISOString(),
    });
    // The holder flushes to a stale connection; while its first post is in flight, the
    // new connection's flush arrives, finds the lease taken, asks for a pass and returns.
    let asked: { delivered: number } | undefined;
    whileGone = async () => {
      whileGone = undefined;
      asked = await flushPending(away, [fresh]);
    };
    await flushPending(away, ['gone-fo-stale']);
    expect(asked).toEqual({ delivered: 0, blocked: false });
    expect(received.get(fresh)).toEqual(backlog.map((m) => m.id));
    expect(await pendingCount(away)).toBe(0);
  });
});

/**
 * Issue 24 B9: a connection opened around a send is posted the message by the
 * table stream's outbox, which reads connections after the send; the send's
 * own fan-out posts to the older ones. Before, both posted to a young socket,
 * and the load bench's reconnecting clients got their first seconds twice.
 */
describe('one poster per connection and message', () => {
  it('posts to older connections from the send, to young ones from the stream, once each', async () => {
    const { addConnection } = await import('#store/connections.ts');
    const { getMessage } = await import('#store/messages.ts');
    const { deliverStoredMessages } = await import('#domain/room-activity.ts');
    const { drainOffline } = await import('./support.ts');
    const room = (
      await domain.createRoom(caller('fo_y'), {
        type: 'group',
        name: 'young',
        member_ids: ['fo_settled', 'fo_back', 'fo_two'],
      })
    ).room;
    const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    const connect = (user: string, id: string, msAgo: number) =>
      addConnection({ connection_id: id, user_id: user, name: user, connected_at: at(msAgo) });
    await connect('fo_settled', 'conn-settled', 60_000);
    // Just back: this young connection is all the member has.
    await connect('fo_back', 'conn-back', 500);
    // A second device opened beside an older one.
    await connect('fo_two', 'conn-two-old', 60_000);
    await connect('fo_two', 'conn-two-new', 500);
    await drainOffline();
    const sent = await domain.sendMessage(caller('fo_y'), room.id, {
      content: 'hello all',
      message_type: 'text',
      is_encrypted: false,
    });
    const id = sent.message.id;
    // Everyone is reached: the older connections by the send, the young ones through the stream.
    expect(sent.delivered_to_count).toBe(3);
    expect(received.get('conn-settled')).toEqual([id]);
    expect(received.get('conn-two-old')).toEqual([id]);
    expect(received.get('conn-back') ?? []).toEqual([]);
    expect(received.get('conn-two-new') ?? []).toEqual([]);
    // The table stream's outbox, as it runs for the stored message.
    const stored = await getMessage(id, { consistent: true });
    await deliverStoredMessages(room.id, [stored!]);
    expect(received.get('conn-two-new')).toEqual([id]);
    // The member just back gets it through the offline queue and the pending flush.
    const queued = await drainOffline();
    expect(queued.map((b) => b.user_id)).toEqual(['fo_back']);
    await queueOffline(
      'fo_back',
      queued.map((b) => b.message),
      'fo-young',
    );
    expect(received.get('conn-back')).toEqual([id]);
    expect(received.get('conn-settled')).toEqual([id]);
    expect(received.get('conn-two-old')).toEqual([id]);
    expect(await pendingCount('fo_back')).toBe(0);
  });
});
