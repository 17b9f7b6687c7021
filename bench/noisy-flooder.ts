import { callApi, openSocket, sleep } from './noisy-clients.ts';

/**
 * One flood of the noisy-neighbour bench, run in a process of its own (forked
 * by bench/noisy-neighbour.ts): a flooder is another person's phone, so its
 * sending must not share an event loop with the honest users whose latency is
 * timed. Floods for `seconds`, waits until every frame it sent is answered (at
 * most a minute), and sends its tally back over IPC.
 */
export const FLOODS = [
  'seen-receipts',
  'sends-300/s',
  'message-list-reads-x16',
  'invalid-frames',
  'sync',
] as const;
export type FloodName = (typeof FLOODS)[number];

export interface FloodOrder {
  flood: FloodName;
  seconds: number;
  httpUrl: string;
  wsUrl: string;
  token: string;
  roomId: string;
  messageIds: string[];
  cursor: string;
}

export interface FloodTally {
  sent: number;
  accepted: number;
  rate_limited: number;
  refused: number;
  server_errors: number;
  /** How long after the flood ended its last answer came. */
  last_answer_after_ms: number;
}

export const emptyTally = (): FloodTally => ({
  sent: 0,
  accepted: 0,
  rate_limited: 0,
  refused: 0,
  server_errors: 0,
  last_answer_after_ms: 0,
});

export async function runFlood(order: FloodOrder): Promise<FloodTally> {
  const tally = emptyTally();
  const socket = await openSocket(order.wsUrl, order.token);
  let framesOut = 0;
  let answers = 0;
  socket.onFrame = (frame) => {
    if (['message-confirmed', 'unread-count-update', 'sync-result'].includes(frame.event)) {
      tally.accepted++;
      answers++;
    } else if (frame.event === 'error') {
      answers++;
      if (frame.data.code === 'RATE_LIMITED') tally.rate_limited++;
      else tally.refused++;
      if (frame.data.code === 'INTERNAL') tally.server_errors++;
    }
  };
  const until = performance.now() + order.seconds * 1000;

  /** Sends `frame(n)` over the socket at `perSecond` until the flood ends. */
  async function frames(perSecond: number, frame: (n: number) => unknown) {
    const started = performance.now();
    for (let n = 0; performance.now() < until; n++) {
      const wait = started + (n * 1000) / perSecond - performance.now();
      if (wait > 1) await sleep(wait);
      socket.send(frame(n));
      tally.sent++;
      framesOut++;
    }
  }

  /** `parallel` loops of one HTTP request each, back to back, until the flood ends. */
  async function requests(parallel: number, path: string) {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (performance.now() < until) {
          tally.sent++;
          const res = await callApi(order.httpUrl, 'GET', path, order.token);
          if (res.status < 300) tally.accepted++;
          else if (res.status === 429) tally.rate_limited++;
          else tally.refused++;
          if (res.status >= 500) tally.server_errors++;
        }
      }),
    );
  }

  const room = order.roomId;
  const floods: Record<FloodName, () => Promise<unknown>> = {
    'seen-receipts': () =>
      frames(50, () => ({
        action: 'mark-messages-seen',
        room_id: room,
        message_ids: order.messageIds,
      })),
    'sends-300/s': () =>
      frames(300, (n) => ({
        action: 'send-message',
        room_id: room,
        content: `flood ${n}`,
        temp_id: `f${n}`,
      })),
    'message-list-reads-x16': () => requests(16, `/api/chat/rooms/${room}/messages?limit=100`),
    'invalid-frames': () =>
      frames(
        300,
        (n) =>
          [
            '{not json',
            { action: 'no-such-action' },
            { action: 'send-message', room_id: room },
            { action: 'mark-messages-seen', room_id: room, message_ids: [] },
          ][n % 4],
      ),
    sync: () =>
      Promise.all([
        frames(100, () => ({ action: 'sync', since: order.cursor })),
        requests(4, `/api/chat/sync?since=${encodeURIComponent(order.cursor)}&limit=500`),
      ]),
  };
  await floods[order.flood]();
  const deadline = performance.now() + 60_000;
  while (answers < framesOut && performance.now() < deadline) await sleep(100);
  tally.last_answer_after_ms = Math.round(performance.now() - until);
  socket.ws.terminate();
  return tally;
}

// Forked: one order in, one tally out.
if (process.send) {
  process.once('message', (order: FloodOrder) => {
    runFlood(order).then(
      (tally) => process.send!(tally, () => process.exit(0)),
      (error: unknown) => {
        console.error('flood failed', error);
        process.exit(1);
      },
    );
  });
}
