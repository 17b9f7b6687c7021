import WebSocket from 'ws';
import { percentile, postJson as post, startStackProcess } from './stack-process.ts';

/**
 * The end-to-end target: 200 clients in 20 rooms send 5,000 messages through
 * the local stack (started as `npm start` would, in its own process). Every
 * delivery is timed from the send to the receiving socket.
 */
export interface LoadReport {
  clients: number;
  rooms: number;
  messages: number;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  /** new-chat-message frames a client got for a message it already had (any of its sockets). */
  duplicatesRaw: number;
  duplicatesAfterDedup: number;
  /** Clients that went away mid-run and came back (--offline). */
  offlineClients: number;
  /**
   * Of the messages sent while those were away, how many reached them after a
   * later message of the same room (send order is the room's seq).
   */
  offlineOutOfOrder: number;
  unconfirmed: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  seconds: number;
  messagesPerSecond: number;
  deliveriesPerSecond: number;
}

export interface LoadOptions {
  clients?: number;
  rooms?: number;
  messages?: number;
  ratePerSecond?: number;
  /**
   * Closed loop instead of a rate: this many sends unconfirmed at once, the next
   * one written as soon as one is confirmed (the outside check's "5 in flight").
   * It runs the stack as fast as it goes, so saturated.
   */
  inFlight?: number;
  /**
   * This many clients (the last member of as many rooms) close their socket
   * after a fifth of the messages and connect again after three fifths: what
   * was sent meanwhile reaches them through the pending flush, in send order.
   * They do not send while away.
   */
  offline?: number;
  /** Wait after the last socket opened before the first send (default 5 s; 0: send at once). */
  settleMs?: number;
  /** Each message that reaches a returning client out of send order is printed (stderr). */
  verbose?: boolean;
  /** Extra environment for the stack process. */
  env?: Record<string, string>;
}

export async function runLoad(options: LoadOptions = {}): Promise<LoadReport> {
  const clients = options.clients ?? 200;
  const roomCount = options.rooms ?? 20;
  const messages = options.messages ?? 5000;
  // DynamoDB Local (~750 writes/s, ~200 transactions/s here) bounds the local rate:
  // about 25 messages/s to rooms of 10 saturate it (measured), so the run offers 20.
  const rate = options.ratePerSecond ?? 20;
  const inFlight = options.inFlight;
  const stack = await startStackProcess(options.env);
  try {
    const users = Array.from({ length: clients }, (_, i) => `load_u${i}`);
    const tokens = await Promise.all(
      users.map(
        async (sub) => (await post<{ token: string }>(`${stack.http}/local/token`, { sub })).token,
      ),
    );
    const roomOf: string[] = [];
    const perRoom = clients / roomCount;
    for (let r = 0; r < roomCount; r++) {
      const members = users.slice(r * perRoom, (r + 1) * perRoom);
      const created = await post<{ data: { id: string } }>(
        `${stack.http}/api/chat/rooms`,
        { type: 'group', name: `load ${r}`, member_ids: members.slice(1) },
        tokens[r * perRoom],
      );
      for (let i = 0; i < members.length; i++) roomOf[r * perRoom + i] = created.data.id;
    }

    const sentAt = new Map<string, number>();
    const messageIdOf = new Map<string, string>();
    const latencies: number[] = [];
    const seen = users.map(() => new Set<string>());
    let duplicatesRaw = 0;
    let delivered = 0;
    /** Closed loop: the confirmation of a temp_id frees its slot. */
    const confirmed = new Map<string, () => void>();
    const away = new Set(
      Array.from(
        { length: Math.min(options.offline ?? 0, roomCount) },
        (_, r) => (r + 1) * perRoom - 1,
      ),
    );
    /** When an away client came back (performance.now()). */
    const backAt = new Map<number, number>();
    /** Per away client and room: the highest seq it got of what was sent while it was away. */
    const highestAway = new Map<string, number>();
    let offlineOutOfOrder = 0;
    const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('.') + 1));
    const connect = (i: number) =>
      new Promise<WebSocket>((done, fail) => {
        const socket = new WebSocket(`${stack.ws}?token=${tokens[i]}`);
        socket.on('message', (raw) => {
          const frame = JSON.parse(raw.toString()) as {
            event: string;
            data: Record<string, unknown>;
          };
          if (frame.event === 'message-confirmed') {
            messageIdOf.set(frame.data.temp_id as string, frame.data.message_id as string);
            confirmed.get(frame.data.temp_id as string)?.();
          } else if (frame.event === 'new-chat-message') {
            const message = frame.data.message as { id: string; content: string };
            if (seen[i]!.has(message.id)) {
              duplicatesRaw++;
              return;
            }
            seen[i]!.add(message.id);
            delivered++;
            const started = sentAt.get(message.content);
            const back = backAt.get(i);
            if (back !== undefined && started !== undefined && started < back) {
              // Sent while this client was away: it came through the pending flush.
              const room = `${i}|${message.id.slice(0, message.id.lastIndexOf('.'))}`;
              const seq = seqOf(message.id);
              if (seq < (highestAway.get(room) ?? 0)) {
                offlineOutOfOrder++;
                if (options.verbose)
                  console.error(
                    `inversion client ${i} ${message.id} after seq ${highestAway.get(room)}; sent ${(started - back).toFixed(0)} ms before back, got ${(performance.now() - back).toFixed(0)} ms after`,
                  );
              } else highestAway.set(room, seq);
            } else if (started !== undefined) latencies.push(performance.now() - started);
          }
        });
        socket.once('open', () => {
          // The app's heartbeat (every 25 s); without it the sweeper rightly drops the socket.
          const timer = setInterval(() => socket.send(JSON.stringify({ action: 'ping' })), 25_000);
          socket.once('close', () => clearInterval(timer));
          done(socket);
        });
        socket.once('error', fail);
      });
    const sockets = await Promise.all(users.map((_, i) => connect(i)));

    // Let the connect storm (presence broadcasts, pending flushes) settle first.
    await new Promise((r) => setTimeout(r, options.settleMs ?? 5000));
    const started = performance.now();
    const leaveAt = Math.floor(messages / 5);
    const returnAt = Math.floor((messages * 3) / 5);
    const send = (n: number) => {
      if (away.size > 0 && n === leaveAt) for (const i of away) sockets[i]!.terminate();
      if (away.size > 0 && n === returnAt)
        for (const i of away) {
          backAt.set(i, performance.now());
          void connect(i).then((socket) => {
            sockets[i] = socket;
          });
        }
      let sender = n % clients;
      // An away client does not send (its socket is closed): the room's first member does.
      if (away.has(sender) && n >= leaveAt) sender -= perRoom - 1;
      const tempId = `t${n}`;
      sentAt.set(tempId, performance.now());
      sockets[sender]!.send(
        JSON.stringify({
          action: 'send-message',
          room_id: roomOf[sender],
          content: tempId,
          temp_id: tempId,
        }),
      );
    };
    if (inFlight) {
      let next = 0;
      // Each lane sends, waits for that send's confirmation (30 s at most), sends the next.
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < messages) {
            const n = next++;
            const done = new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 30_000);
              confirmed.set(`t${n}`, () => {
                clearTimeout(timer);
                confirmed.delete(`t${n}`);
                resolve();
              });
            });
            send(n);
            await done;
          }
        }),
      );
    } else {
      for (let n = 0; n < messages; n++) {
        const due = started + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        send(n);
      }
    }
    const expectedDeliveries = messages * (perRoom - 1);
    const deadline = performance.now() + 60_000;
    while (
      (delivered < expectedDeliveries || messageIdOf.size < messages) &&
      performance.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    for (const s of sockets) s.terminate();
    // An away client's socket may still be opening when the run ends.
    await new Promise((r) => setTimeout(r, 100));
    const sorted = latencies.sort((a, b) => a - b);
    return {
      clients,
      rooms: roomCount,
      messages,
      expectedDeliveries,
      delivered,
      lost: expectedDeliveries - delivered,
      duplicatesRaw,
      duplicatesAfterDedup: 0,
      offlineClients: away.size,
      offlineOutOfOrder,
      unconfirmed: messages - messageIdOf.size,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
      seconds,
      messagesPerSecond: messages / seconds,
      deliveriesPerSecond: delivered / seconds,
    };
  } finally {
    await stack.stop();
  }
}
