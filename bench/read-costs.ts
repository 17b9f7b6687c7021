import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { startLocalAws } from '#local/stack.ts';
import { newMessage } from '#model';

/**
 * Costs measured in-process against DynamoDB Local, with every DynamoDB call
 * asked for its consumed capacity:
 * - unread counts and the room list of a user with 50 rooms, at 1k and 100k
 *   messages (the ratio should be ~1: they never touch messages);
 * - the send path with 0 and 1,000 other users connected (it should not grow).
 */
interface Meter {
  calls: number;
  capacity: number;
}

export async function measureReadCosts() {
  const aws = await startLocalAws();
  process.env.WS_ENDPOINT = 'http://127.0.0.1:9';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // The fixture puts the same users into 50 groups, past their per-target
  // `addedToGroup` limit, which is not what this measures.
  process.env.RATE_LIMITS ??= JSON.stringify({ addedToGroup: 'off' });
  const { ddb } = await import('#platform/clients.ts');
  const meter: Meter = { calls: 0, capacity: 0 };
  ddb().middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity = 'TOTAL';
      meter.calls++;
      const result = await next(args);
      const consumed = (
        result.output as {
          ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[];
        }
      ).ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : [])
        meter.capacity += c.CapacityUnits ?? 0;
      return result;
    },
    { step: 'initialize', name: 'meter' },
  );
  const { createRoom, listRooms } = await import('#domain/rooms.ts');
  const { getAllUnreadCounts } = await import('#domain/read-status.ts');
  const { sendMessage } = await import('#domain/messages.ts');
  const { messageToItem, messageId } = await import('#store/messages.ts');
  const { roomKey } = await import('#store/rooms.ts');
  const { memberKey } = await import('#store/members.ts');
  const { addConnection } = await import('#store/connections.ts');
  const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');

  const measure = async <T>(fn: () => Promise<T>) => {
    const times: number[] = [];
    let cost: Meter = { calls: 0, capacity: 0 };
    for (let i = 0; i < 15; i++) {
      Object.assign(meter, { calls: 0, capacity: 0 });
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
      cost = { ...meter };
    }
    return { ...cost, ms: times.sort((a, b) => a - b)[7]! };
  };

  /** A user in 50 rooms whose rooms hold `total` messages, written as the send path writes them. */
  async function userWithMessages(userId: string, total: number) {
    const me = { userId, name: userId };
    const rooms = [];
    for (let r = 0; r < 50; r++)
      rooms.push(
        (await createRoom(me, { type: 'group', name: `r${r}`, member_ids: [`${userId}_peer`] }))
          .room,
      );
    const perRoom = Math.ceil(total / rooms.length);
    const limit = pLimit(8);
    const now = new Date().toISOString();
    const writes: Promise<unknown>[] = [];
    for (const room of rooms) {
      for (let start = 1; start <= perRoom; start += 25) {
        const items: { PutRequest: { Item: Record<string, unknown> } }[] = [];
        for (let seq = start; seq < start + 25 && seq <= perRoom; seq++) {
          items.push({
            PutRequest: {
              Item: messageToItem(
                newMessage(
                  { id: messageId(room.id, seq), room_id: room.id, seq },
                  { userId: `${userId}_peer`, name: 'peer' },
                  { content: `message ${seq}`, message_type: 'text', is_encrypted: false },
                  now,
                ),
              ),
            },
          });
        }
        writes.push(
          limit(() =>
            ddb().send(new BatchWriteCommand({ RequestItems: { [aws.dynamo.tableName]: items } })),
          ),
        );
      }
      // The room and the member's counters as the send path and the stream leave them.
      writes.push(
        limit(() =>
          ddb().send(
            new UpdateCommand({
              TableName: aws.dynamo.tableName,
              Key: roomKey(room.id),
              UpdateExpression: 'SET seq = :s',
              ExpressionAttributeValues: { ':s': perRoom },
            }),
          ),
        ),
      );
      writes.push(
        limit(() =>
          ddb().send(
            new UpdateCommand({
              TableName: aws.dynamo.tableName,
              Key: memberKey(userId, room.id),
              UpdateExpression: 'SET room_seq = :s, read_seq = :r',
              ExpressionAttributeValues: { ':s': perRoom, ':r': Math.floor(perRoom / 2) },
            }),
          ),
        ),
      );
    }
    await Promise.all(writes);
    return me;
  }

  const results: Record<string, unknown> = {};
  for (const total of [1_000, 100_000]) {
    const me = await userWithMessages(`bench_${total}`, total);
    const unread = await measure(() => getAllUnreadCounts(me));
    const list = await measure(() => listRooms(me, { archived: false, limit: 50 }));
    const counts = await getAllUnreadCounts(me);
    results[total] = { unread, list, totalUnread: counts.total_unread };
  }

  // Send cost with nobody else connected, then with 1,000 other users connected.
  const sender = { userId: 'bench_sender', name: 'S' };
  const room = (
    await createRoom(sender, {
      type: 'group',
      name: 'send',
      member_ids: Array.from({ length: 9 }, (_, i) => `bench_m${i}`),
    })
  ).room;
  let n = 0;
  const send = () =>
    sendMessage(sender, room.id, {
      content: 'x',
      message_type: 'text',
      is_encrypted: false,
      temp_id: `b${n++}`,
    });
  const quiet = await measure(send);
  const at = new Date().toISOString();
  await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      pLimit(16)(() =>
        addConnection({
          connection_id: `c${i}`,
          user_id: `bench_other${i}`,
          name: 'o',
          connected_at: at,
        }),
      ),
    ),
  );
  const busy = await measure(send);
  results.send = { quiet, busy };
  await aws.stop();
  return results as {
    1000: { unread: Meter & { ms: number }; list: Meter & { ms: number }; totalUnread: number };
    100000: { unread: Meter & { ms: number }; list: Meter & { ms: number }; totalUnread: number };
    send: { quiet: Meter & { ms: number }; busy: Meter & { ms: number } };
  };
}
