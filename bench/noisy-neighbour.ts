import WebSocket from 'ws';
import { percentile, postJson, type StackProcess, startStackProcess } from './stack-process.ts';

/**
 * Issue 21 item 1: one user floods a route or action while honest users chat.
 * Each flood the second audit ran (seen receipts of 100 ids, sends at 300/s,
 * 16 parallel message-list reads, invalid frames, sync) runs for `seconds`
 * beside honest users who each send 3.3 messages/s over WebSocket and list
 * their rooms every 2 s. Reports the honest users' confirmation times next to
 * a quiet phase of the same run, how often they were rate limited, and every
 * 5xx or INTERNAL answer anyone got (the flooder included). Targets: p95
 * within 2× of quiet, 0 honest users limited, 0 × 5xx.
 */

const HONEST_USERS = 6;
const HONEST_SEND_MS = 300;
const HONEST_LIST_MS = 2_000;

type Frame = { event: string; data: Record<string, unknown> };

interface Socket {
  ws: WebSocket;
  send(frame: unknown): void;
  onFrame?: (frame: Frame) => void;
}

async function open(stack: StackProcess, token: string): Promise<Socket> {
  const ws = new WebSocket(`${stack.ws}?token=${encodeURIComponent(token)}`);
  const socket: Socket = {
    ws,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
  };
  ws.on('message', (raw) => socket.onFrame?.(JSON.parse(raw.toString()) as Frame));
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return socket;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers and failures of one phase, for everyone. */
class Tally {
  confirmMs: number[] = [];
  listMs: number[] = [];
  honestLimited = 0;
  honestErrors = 0;
  unconfirmed = 0;
  serverErrors = 0;
  flood = { sent: 0, accepted: 0, limited: 0, refused: 0 };
}

export interface PhaseReport {
  phase: string;
  honest_confirm_ms: { p50: number; p95: number; count: number };
  honest_room_list_ms: { p50: number; p95: number; count: number };
  honest_rate_limited: number;
  honest_other_errors: number;
  honest_unconfirmed: number;
  server_errors_5xx: number;
  /** The flooder's requests and their answers; its last answer came this long after the flood. */
  flood: {
    sent: number;
    accepted: number;
    rate_limited: number;
    refused: number;
    last_answer_after_ms: number;
  };
  p95_vs_quiet: number;
}

export async function runNoisyNeighbour(options: { seconds?: number } = {}) {
  const seconds = options.seconds ?? 8;
  const stack = await startStackProcess();
  try {
    const token = async (sub: string) =>
      (await postJson<{ token: string }>(`${stack.http}/local/token`, { sub })).token;
    const api = async (method: string, path: string, bearer: string, body?: unknown) => {
      const res = await fetch(`${stack.http}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown> };
      return { status: res.status, data: json.data ?? {} };
    };

    // Honest users chat in pairs (direct rooms).
    const honest = await Promise.all(
      Array.from({ length: HONEST_USERS }, async (_, i) => {
        const userId = `nn_honest${i}`;
        return { userId, token: await token(userId), roomId: '', socket: undefined as unknown };
      }),
    );
    for (let i = 0; i < HONEST_USERS; i += 2) {
      const created = await api('POST', '/api/chat/rooms', honest[i]!.token, {
        type: 'direct',
        member_ids: [honest[i + 1]!.userId],
      });
      honest[i]!.roomId = honest[i + 1]!.roomId = created.data.id as string;
    }

    // The flooders' group, with 100 messages from others to mark seen. Each flood has
    // a flooder of its own, so what one flood left waiting in its caller's lane
    // (local/lambda-runtime.ts) cannot be counted against the next.
    const floodNames = [
      'seen-receipts',
      'sends-300/s',
      'message-list-reads-x16',
      'invalid-frames',
      'sync',
    ] as const;
    const flooderTokens = await Promise.all(floodNames.map((_, i) => token(`nn_flooder${i}`)));
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
          ...floodNames.map((_, i) => `nn_flooder${i}`),
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
    const cursor = (await api('GET', '/api/chat/sync', flooderTokens[4]!)).data
      .next_since as string;

    let tally = new Tally();
    const pending = new Map<string, number>();
    const sockets = await Promise.all(honest.map((h) => open(stack, h.token)));
    sockets.forEach((socket) => {
      socket.onFrame = (frame) => {
        if (frame.event === 'message-confirmed') {
          const started = pending.get(frame.data.temp_id as string);
          if (started === undefined) return;
          pending.delete(frame.data.temp_id as string);
          tally.confirmMs.push(performance.now() - started);
        } else if (frame.event === 'error') {
          pending.delete(frame.data.temp_id as string);
          if (frame.data.code === 'RATE_LIMITED') tally.honestLimited++;
          else tally.honestErrors++;
          if (frame.data.code === 'INTERNAL') tally.serverErrors++;
        }
      };
    });
    const flooders = await Promise.all(flooderTokens.map((t) => open(stack, t)));
    let flooderToken = '';
    let flooder = flooders[0]!;
    /** Frames the flood sent, and answers they got (a confirmation, a result or an error). */
    let framesOut = 0;
    let floodAnswers = 0;
    for (const socket of flooders) {
      socket.onFrame = (frame) => {
        if (socket !== flooder) return;
        if (['message-confirmed', 'unread-count-update', 'sync-result'].includes(frame.event)) {
          tally.flood.accepted++;
          floodAnswers++;
        } else if (frame.event === 'error') {
          floodAnswers++;
          if (frame.data.code === 'RATE_LIMITED') tally.flood.limited++;
          else tally.flood.refused++;
          if (frame.data.code === 'INTERNAL') tally.serverErrors++;
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
                tally.listMs.push(performance.now() - started);
                if (res.status >= 500) tally.serverErrors++;
                if (res.status === 429) tally.honestLimited++;
              });
            }
            await sleep(HONEST_SEND_MS);
          }
        }),
      );
    }

    /** Sends `frame()` over the flooder's socket at `perSecond` until `until`. */
    async function frameFlood(until: number, perSecond: number, frame: (n: number) => unknown) {
      const started = performance.now();
      for (let n = 0; performance.now() < until; n++) {
        const due = started + (n * 1000) / perSecond;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        flooder.send(frame(n));
        tally.flood.sent++;
        framesOut++;
      }
    }

    /** `parallel` loops of one HTTP request each, back to back, until `until`. */
    async function httpFlood(until: number, parallel: number, path: string) {
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (performance.now() < until) {
            tally.flood.sent++;
            const res = await api('GET', path, flooderToken);
            if (res.status < 300) tally.flood.accepted++;
            else if (res.status === 429) tally.flood.limited++;
            else tally.flood.refused++;
            if (res.status >= 500) tally.serverErrors++;
          }
        }),
      );
    }

    const floods: Record<string, (until: number) => Promise<void>> = {
      // Honest traffic alone: the first warms the handlers and the engine up
      // (not a baseline), the second is the baseline, the last shows recovery.
      warm: async () => undefined,
      quiet: async () => undefined,
      'seen-receipts': (until) =>
        frameFlood(until, 50, () => ({
          action: 'mark-messages-seen',
          room_id: floodRoom,
          message_ids: messageIds,
        })),
      'sends-300/s': (until) =>
        frameFlood(until, 300, (n) => ({
          action: 'send-message',
          room_id: floodRoom,
          content: `flood ${n}`,
          temp_id: `f${n}-${sequence}`,
        })),
      'message-list-reads-x16': (until) =>
        httpFlood(until, 16, `/api/chat/rooms/${floodRoom}/messages?limit=100`),
      'invalid-frames': (until) =>
        frameFlood(
          until,
          300,
          (n) =>
            [
              '{not json',
              { action: 'no-such-action' },
              { action: 'send-message', room_id: floodRoom },
              { action: 'mark-messages-seen', room_id: floodRoom, message_ids: [] },
            ][n % 4],
        ),
      sync: async (until) => {
        await Promise.all([
          frameFlood(until, 100, () => ({ action: 'sync', since: cursor })),
          httpFlood(until, 4, `/api/chat/sync?since=${encodeURIComponent(cursor)}&limit=500`),
        ]);
      },
      'quiet-after': async () => undefined,
    };

    // Connections settle (presence, first flushes) before anything is timed.
    await sleep(3_000);
    const phases: PhaseReport[] = [];
    let quietP95 = 0;
    for (const [phase, flood] of Object.entries(floods)) {
      tally = new Tally();
      pending.clear();
      const index = floodNames.indexOf(phase as (typeof floodNames)[number]);
      flooder = flooders[Math.max(0, index)]!;
      flooderToken = flooderTokens[Math.max(0, index)]!;
      floodAnswers = 0;
      framesOut = 0;
      const until = performance.now() + seconds * 1000;
      await Promise.all([honestTraffic(until), flood(until)]);
      // Late confirmations still count (a stalled one is the point); unanswered ones are reported.
      const drainUntil = performance.now() + 15_000;
      while (pending.size > 0 && performance.now() < drainUntil) await sleep(100);
      tally.unconfirmed = pending.size;
      // The flooder's own backlog: every frame it sent is answered before the next phase.
      const floodDeadline = performance.now() + 60_000;
      while (floodAnswers < framesOut && performance.now() < floodDeadline) await sleep(100);
      const floodDrainMs = performance.now() - until;
      const confirm = [...tally.confirmMs].sort((a, b) => a - b);
      const list = [...tally.listMs].sort((a, b) => a - b);
      const p95 = percentile(confirm, 95);
      if (phase === 'quiet') quietP95 = p95;
      const round = (n: number) => Math.round(n * 10) / 10;
      if (phase === 'warm') {
        await sleep(1_000);
        continue;
      }
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
        honest_rate_limited: tally.honestLimited,
        honest_other_errors: tally.honestErrors,
        honest_unconfirmed: tally.unconfirmed,
        server_errors_5xx: tally.serverErrors,
        flood: {
          sent: tally.flood.sent,
          accepted: tally.flood.accepted,
          rate_limited: tally.flood.limited,
          refused: tally.flood.refused,
          last_answer_after_ms: Math.round(floodDrainMs),
        },
        p95_vs_quiet: quietP95 > 0 ? Math.round((p95 / quietP95) * 100) / 100 : 0,
      });
      // Let the flood's queued work (stream, refusals in flight) drain before the next phase.
      await sleep(3_000);
    }
    for (const s of [...sockets, ...flooders]) s.ws.terminate();
    const floodsOnly = phases.filter((p) => !['warm', 'quiet', 'quiet-after'].includes(p.phase));
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
