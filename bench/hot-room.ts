import { startLocalAws } from '#local/stack.ts';

/**
 * Issue 12's hot room: the stored part of a send (room and receipt reads, the
 * head's sequence, the message with its receipt, the sender's read marker; no
 * fan-out) with 50 concurrent senders, once all into one room and once spread
 * over 50 rooms, in the same run against the same DynamoDB Local.
 *
 * DynamoDB Local has no per-partition throughput limit, so this measures the
 * design's own contention (retries, conflicts, serialized writes) rather than
 * AWS's 1,000 WCU/s per partition; docs/scale-plan.md covers that.
 */
export interface HotRoomResult {
  senders: number;
  messages: number;
  one_room_per_second: number;
  spread_per_second: number;
  ratio: number;
  errors: number;
}

export async function runHotRoom(
  options: { senders?: number; perSender?: number } = {},
): Promise<HotRoomResult> {
  const senders = options.senders ?? 50;
  const perSender = options.perSender ?? 20;
  const aws = await startLocalAws();
  process.env.WS_ENDPOINT = 'http://127.0.0.1:9';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // The fixture puts the same users into 51 groups, past their per-target
  // `addedToGroup` limit, which is not what this measures.
  process.env.RATE_LIMITS ??= JSON.stringify({ addedToGroup: 'off' });
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  try {
    const { createRoom } = await import('#domain/rooms.ts');
    const { storeSend } = await import('#domain/send-store.ts');
    const users = Array.from({ length: senders }, (_, i) => ({
      userId: `hot_u${i}`,
      name: `U${i}`,
    }));
    const others = users.slice(1).map((u) => u.userId);
    const newRoom = async (name: string) =>
      (await createRoom(users[0]!, { type: 'group', name, member_ids: others })).room.id;
    const oneRoom = await newRoom('hot');
    const spreadRooms = await Promise.all(users.map((_, i) => newRoom(`spread-${i}`)));

    let errors = 0;
    const run = async (roomFor: (sender: number) => string, tag: string) => {
      // Warm-up, so both runs see warm clients and a warm engine.
      await storeSend(users[0]!, roomFor(0), {
        content: 'warm',
        message_type: 'text',
        is_encrypted: false,
      });
      const started = performance.now();
      await Promise.all(
        users.map(async (user, i) => {
          for (let n = 0; n < perSender; n++) {
            try {
              await storeSend(user, roomFor(i), {
                content: `${tag} ${i}/${n}`,
                message_type: 'text',
                is_encrypted: false,
                temp_id: `${tag}-${i}-${n}`,
              });
            } catch {
              errors++;
            }
          }
        }),
      );
      return (senders * perSender) / ((performance.now() - started) / 1000);
    };
    // Alternate the order over two rounds so neither layout always runs on a warmer engine.
    const one: number[] = [];
    const spread: number[] = [];
    for (let round = 0; round < 2; round++) {
      if (round % 2 === 0) {
        one.push(await run(() => oneRoom, `one${round}`));
        spread.push(await run((i) => spreadRooms[i]!, `spread${round}`));
      } else {
        spread.push(await run((i) => spreadRooms[i]!, `spread${round}`));
        one.push(await run(() => oneRoom, `one${round}`));
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const oneRate = mean(one);
    const spreadRate = mean(spread);
    return {
      senders,
      messages: senders * perSender * one.length,
      one_room_per_second: Math.round(oneRate * 10) / 10,
      spread_per_second: Math.round(spreadRate * 10) / 10,
      ratio: Math.round((oneRate / spreadRate) * 100) / 100,
      errors,
    };
  } finally {
    await aws.stop();
  }
}
