import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import { callApi, openSocket, sleep } from './noisy-clients.ts';
import {
  emptyTally,
  FLOODS,
  type FloodName,
  type FloodOrder,
  type FloodTally,
} from './noisy-flooder.ts';
import { percentile, postJson, startStackProcess } from './stack-process.ts';

/**
 * Issue 21 item 1: one user floods a route or action while honest users chat.
 * Each flood the second audit ran (seen receipts of 100 ids, sends at 300/s,
 * 16 parallel message-list reads, invalid frames, sync) runs for `seconds`
 * beside honest users who each send 3.3 messages/s over WebSocket and list
 * their rooms every 2 s. Reports the honest users' confirmation times next to
 * a quiet phase of the same run, how often they were rate limited, and every
 * 5xx or INTERNAL answer anyone got (the flooder included). Targets: p95
 * within 2× of quiet, 0 honest users limited, 0 × 5xx.
 *
 * Three processes, as on three machines: the stack (as `npm start`), the
 * honest users (this one) and each flood's flooder (bench/noisy-flooder.ts),
 * so a flooder's own work never delays the clock that times honest users.
 */

const HONEST_USERS = 6;
const HONEST_SEND_MS = 300;
const HONEST_LIST_MS = 2_000;

/** Honest traffic alone: the first warms handlers and engine up (not a baseline). */
const QUIET = ['warm', 'quiet', 'quiet-after'] as const;
type Phase = FloodName | (typeof QUIET)[number];
const PHASES: readonly Phase[] = ['warm', 'quiet', ...FLOODS, 'quiet-after'];

export interface PhaseReport {
  phase: string;
  honest_confirm_ms: { p50: number; p95: number; count: number };
  honest_room_list_ms: { p50: number; p95: number; count: number };
  honest_rate_limited: number;
  honest_other_errors: number;
  honest_unconfirmed: number;
  server_errors_5xx: number;
  /** The flooder's requests and their answers (zeros in a quiet phase). */
  flood: FloodTally;
  p95_vs_quiet: number;
}

/** Runs one flood in a process of its own and answers its tally. */
function floodInChild(order: FloodOrder): Promise<FloodTally> {
  const child = fork(resolve(import.meta.dirname, 'noisy-flooder.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Another person's phone does not take this machine's cores from the server: the
  // flooder runs at the lowest priority (its rate is reported, so what it reached
  // shows).
  if (child.pid) setPriority(child.pid, 19);
  return new Promise((done, fail) => {
    child.once('message', (tally) => done(tally as FloodTally));
    child.once('exit', (code) => {
      if (code !== 0) fail(new Error(`flooder exited ${code}`));
    });
    child.send(order);
  });
}

export async function runNoisyNeighbour(options: { seconds?: number } = {}) {
  const seconds = options.seconds ?? 8;
  const stack = await startStackProcess();
  try {
    const token = async (sub: string) =>
      (await postJson<{ token: string }>(`${stack.http}/local/token`, { sub })).token;
    const api = (method: string, path: string, bearer: string, body?: unknown) =>
      callApi(stack.http, method, path, bearer, body);

    // Honest users chat in pairs (direct rooms).
    const honest = await Promise.all(
      Array.from({ length: HONEST_USERS }, async (_, i) => {
        const userId = `nn_honest${i}`;
        return { userId, token: await token(userId), roomId: '' };
      }),
    );
    for (let i = 0; i < HONEST_USERS; i += 2) {
      const created = await api('POST', '/api/chat/rooms', honest[i]!.token, {
        type: 'direct',
        member_ids: [honest[i + 1]!.userId],
      });
      honest[i]!.roomId = honest[i + 1]!.roomId = created.data.id as string;
    }

    // The flooders' group, with 100 messages from others to mark seen. Each flood
    // has a flooder of its own, so what one left waiting in its caller's lane
    // (local/lambda-runtime.ts) cannot be counted against the next.
    const flooderTokens = await Promise.all(FLOODS.map((_, i) => token(`nn_flooder${i}`)));
    const partners = await Promise.all(
      [0, 1, 2, 3].map(async (i) => ({
        id: `nn_partner${i}`,
        token: await token(`nn_partner${i}`),
      })),
    );
    const floodRoom = (
      await api('POST', '/api/chat/rooms', partners[0]!.token, {
        type: 'group',
        name: 'flood',
        member_ids: [
          ...partners.slice(1).map((p) => p.id),
          ...FLOODS.map((_, i) => `nn_flooder${i}`),
        ],
      })
    ).data.id as string;
    const messageIds: string[] = [];
    await Promise.all(
      partners.map(async (p) => {
        for (let n = 0; n < 25; n++) {
          const sent = await api('POST', `/api/chat/rooms/${floodRoom}/messages`, p.token, {
            content: `seed ${n}`,
          });
          messageIds.push(sent.data.id as string);
        }
      }),
    );
    const cursor = (await api('GET', '/api/chat/sync', flooderTokens[FLOODS.indexOf('sync')]!)).data
      .next_since as string;

    let confirmMs: number[] = [];
    let listMs: number[] = [];
    let limited = 0;
    let otherErrors = 0;
    let serverErrors = 0;
    const pending = new Map<string, number>();
    const sockets = await Promise.all(honest.map((h) => openSocket(stack.ws, h.token)));
    for (const socket of sockets) {
      socket.onFrame = (frame) => {
        if (frame.event === 'message-confirmed') {
          const started = pending.get(frame.data.temp_id as string);
          if (started === undefined) return;
          pending.delete(frame.data.temp_id as string);
          confirmMs.push(performance.now() - started);
        } else if (frame.event === 'error') {
          pending.delete(frame.data.temp_id as string);
          if (frame.data.code === 'RATE_LIMITED') limited++;
          else otherErrors++;
          if (frame.data.code === 'INTERNAL') serverErrors++;
        }
      };
    }
    let sequence = 0;

    /** The honest users' traffic for one phase. */
    async function honestTraffic(until: number) {
      await Promise.all(
        honest.map(async (h, i) => {
          let nextList = performance.now() + Math.random() * HONEST_LIST_MS;
          // Spread the senders over the period, as independent people would be.
          await sleep((i * HONEST_SEND_MS) / HONEST_USERS);
          while (performance.now() < until) {
            const tempId = `h${sequence++}`;
            pending.set(tempId, performance.now());
            sockets[i]!.send({
              action: 'send-message',
              room_id: h.roomId,
              content: tempId,
              temp_id: tempId,
            });
            if (performance.now() >= nextList) {
              nextList += HONEST_LIST_MS;
              const started = performance.now();
              void api('GET', '/api/chat/rooms', h.token).then((res) => {
                listMs.push(performance.now() - started);
                if (res.status >= 500) serverErrors++;
                if (res.status === 429) limited++;
              });
            }
            await sleep(HONEST_SEND_MS);
          }
        }),
      );
    }

    // Connections settle (presence, first flushes) before anything is timed.
    await sleep(3_000);
    const phases: PhaseReport[] = [];
    let quietP95 = 0;
    const round = (n: number) => Math.round(n * 10) / 10;
    for (const phase of PHASES) {
      confirmMs = [];
      listMs = [];
      limited = otherErrors = serverErrors = 0;
      pending.clear();
      const isFlood = (FLOODS as readonly string[]).includes(phase);
      const flood = isFlood
        ? floodInChild({
            flood: phase as FloodName,
            seconds,
            httpUrl: stack.http,
            wsUrl: stack.ws,
            token: flooderTokens[FLOODS.indexOf(phase as FloodName)]!,
            roomId: floodRoom,
            messageIds,
            cursor,
          })
        : Promise.resolve(emptyTally());
      // The flooder connects first; honest traffic starts with its flood.
      if (isFlood) await sleep(300);
      const until = performance.now() + seconds * 1000;
      const [tally] = await Promise.all([flood, honestTraffic(until)]);
      // Late confirmations still count (a stalled one is the point); unanswered ones are reported.
      const drainUntil = performance.now() + 15_000;
      while (pending.size > 0 && performance.now() < drainUntil) await sleep(100);
      const confirm = [...confirmMs].sort((a, b) => a - b);
      const list = [...listMs].sort((a, b) => a - b);
      const p95 = percentile(confirm, 95);
      if (phase === 'quiet') quietP95 = p95;
      if (phase !== 'warm') {
        phases.push({
          phase,
          honest_confirm_ms: {
            p50: round(percentile(confirm, 50)),
            p95: round(p95),
            count: confirm.length,
          },
          honest_room_list_ms: {
            p50: round(percentile(list, 50)),
            p95: round(percentile(list, 95)),
            count: list.length,
          },
          honest_rate_limited: limited,
          honest_other_errors: otherErrors,
          honest_unconfirmed: pending.size,
          server_errors_5xx: serverErrors + tally.server_errors,
          flood: tally,
          p95_vs_quiet: quietP95 > 0 ? Math.round((p95 / quietP95) * 100) / 100 : 0,
        });
      }
      // What the flood left behind (stream records, queued work) settles before the next phase.
      await sleep(2_000);
    }
    for (const s of sockets) s.ws.terminate();
    const floodsOnly = phases.filter((p) => (FLOODS as readonly string[]).includes(p.phase));
    return {
      seconds_per_flood: seconds,
      honest_users: HONEST_USERS,
      honest_rate_per_user: 1000 / HONEST_SEND_MS,
      phases,
      worst_p95_vs_quiet: Math.max(...floodsOnly.map((p) => p.p95_vs_quiet)),
      honest_rate_limited: phases.reduce((n, p) => n + p.honest_rate_limited, 0),
      server_errors_5xx: phases.reduce((n, p) => n + p.server_errors_5xx, 0),
    };
  } finally {
    await stack.stop();
  }
}
