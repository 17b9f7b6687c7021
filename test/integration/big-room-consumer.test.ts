import { createServer, type Server } from 'node:http';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, drainOffline, localAws } from './support.ts';

/**
 * The big-room fan-out consumer (queues/fan-out.ts → domain/big-room.ts
 * deliverChunk) against DynamoDB Local and fauxqs, posting to a stand-in of API
 * Gateway's @connections endpoint: each live connection of the chunk gets the
 * message once; a member whose only connection is gone (410) is queued for
 * offline delivery, and only they; a message deleted before its chunk runs goes
 * to no one.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let server: Server;
const posts: { connectionId: string; frame: { event: string; data: Record<string, unknown> } }[] =
  [];
const GONE = new Set(['conn-gone']);

beforeAll(async () => {
  aws = await localAws();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const connectionId = decodeURIComponent(req.url!.split('/@connections/')[1] ?? '');
      if (GONE.has(connectionId)) {
        res.writeHead(410, {
          'x-amzn-errortype': 'GoneException',
          'content-type': 'application/json',
        });
        res.end('{"message":"Gone"}');
        return;
      }
      posts.push({ connectionId, frame: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  process.env.WS_ENDPOINT = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  server?.close();
  await aws?.stop();
});

const sqsEvent = (id: string, body: unknown): SQSEvent =>
  ({ Records: [{ messageId: id, receiptHandle: id, body: JSON.stringify(body) }] }) as never;

it('posts each live connection of a chunk once, queues only the member whose connection is gone, and skips a deleted message', async () => {
  const { handler } = await import('#functions/queues/fan-out.ts');
  const { createRoom } = await import('#domain/rooms.ts');
  const { deleteMessage } = await import('#domain/messages.ts');
  const { storeSend } = await import('#domain/send-store.ts');
  const members = ['br_b', 'br_c', 'br_d', 'br_e'];
  const room = (
    await createRoom(caller('br_a'), { type: 'group', name: 'big', member_ids: members })
  ).room;
  // Stored only (what the send does before handing the fan-out to the queue).
  const { message } = await storeSend(caller('br_a'), room.id, {
    content: 'to the big room',
    message_type: 'text',
    is_encrypted: false,
  });
  const old = new Date(Date.now() - 60_000).toISOString();
  const targets = [
    {
      user_id: 'br_b',
      connections: [
        { id: 'conn-b1', connected_at: old },
        { id: 'conn-b2', connected_at: old },
      ],
    },
    { user_id: 'br_c', connections: [{ id: 'conn-c1', connected_at: old }] },
    // d's only connection answers 410 and is a minute old: gone, so d is queued.
    { user_id: 'br_d', connections: [{ id: 'conn-gone', connected_at: old }] },
  ];
  await drainOffline();
  const result = (await handler(
    sqsEvent('chunk-1', { message_id: message.id, targets }),
    {} as Context,
  )) as {
    batchItemFailures: unknown[];
  };
  expect(result.batchItemFailures).toEqual([]);
  const got = posts
    .filter((p) => p.frame.event === 'new-chat-message')
    .map((p) => [p.connectionId, (p.frame.data.message as { id: string }).id]);
  expect(got.sort()).toEqual(['conn-b1', 'conn-b2', 'conn-c1'].map((c) => [c, message.id]));
  const queued = (await drainOffline()).filter((b) => b.message.id === message.id);
  expect(queued.map((b) => b.user_id)).toEqual(['br_d']);

  // Deleted before its chunk runs: posted to no one, queued for no one.
  await deleteMessage(caller('br_a'), message.id);
  posts.length = 0;
  await handler(sqsEvent('chunk-2', { message_id: message.id, targets }), {} as Context);
  expect(posts.filter((p) => p.frame.event === 'new-chat-message')).toEqual([]);
  expect((await drainOffline()).filter((b) => b.message.id === message.id)).toEqual([]);
});

it("the stream's late fan-out posts nothing to a young connection once the message is deleted", async () => {
  const { createRoom } = await import('#domain/rooms.ts');
  const { sendMessage, deleteMessage } = await import('#domain/messages.ts');
  const { deliverStoredMessages } = await import('#domain/room-activity.ts');
  const { getMessagesBySeq } = await import('#store/messages.ts');
  const { addConnection } = await import('#store/connections.ts');
  const room = (
    await createRoom(caller('lf_x'), { type: 'group', name: 'y', member_ids: ['lf_y'] })
  ).room;
  const sent = async (content: string) => {
    const { message } = await sendMessage(caller('lf_x'), room.id, {
      content,
      message_type: 'text',
      is_encrypted: false,
    });
    const [stored] = await getMessagesBySeq(room.id, [Number(message.id.split('.').pop())]);
    return stored!;
  };
  const kept = await sent('kept');
  const deleted = await sent('deleted before the stream ran');
  await deleteMessage(caller('lf_x'), deleted.id);
  // lf_y connects after both sends: the outbox owes a just-connected socket its messages.
  await addConnection({
    connection_id: 'conn-young',
    user_id: 'lf_y',
    name: 'lf_y',
    connected_at: new Date().toISOString(),
  });
  posts.length = 0;
  await drainOffline();
  // The stream runs late, with the images it recorded at the sends.
  await deliverStoredMessages(room.id, [kept, deleted]);
  // That young socket is all lf_y has: they are just back, so the messages join
  // their backlog (issue 24 B9) and reach the socket through the pending flush,
  // which re-reads each message first.
  expect(posts.filter((p) => p.connectionId === 'conn-young')).toEqual([]);
  const queued = (await drainOffline()).filter((b) => b.user_id === 'lf_y');
  const { acceptOfflineDelivery } = await import('#domain/offline-delivery.ts');
  for (const [i, body] of queued.entries())
    await acceptOfflineDelivery(body as Parameters<typeof acceptOfflineDelivery>[0], `lf-y-${i}`);
  const got = posts
    .filter((p) => p.connectionId === 'conn-young' && p.frame.event === 'new-chat-message')
    .map((p) => (p.frame.data.message as { id: string }).id);
  expect(got).toEqual([kept.id]);
});
