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
  duplicatesRaw: number;
  duplicatesAfterDedup: number;
  unconfirmed: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  seconds: number;
  messagesPerSecond: number;
  deliveriesPerSecond: number;
}

export async function runLoad(
  options: { clients?: number; rooms?: number; messages?: number; ratePerSecond?: number } = {},
): Promise<LoadReport> {
  const clients = options.clients ?? 200;
  const roomCount = options.rooms ?? 20;
  const messages = options.messages ?? 5000;
  // DynamoDB Local (~750 writes/s, ~200 transactions/s here) bounds the local rate:
  // about 25 messages/s to rooms of 10 saturate it (measured), so the run offers 20.
  const rate = options.ratePerSecond ?? 20;
  const stack = await startStackProcess();
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
    const sockets = await Promise.all(
      users.map(
        (_, i) =>
          new Promise<WebSocket>((done, fail) => {
            const socket = new WebSocket(`${stack.ws}?token=${tokens[i]}`);
            socket.on('message', (raw) => {
              const frame = JSON.parse(raw.toString()) as {
                event: string;
                data: Record<string, unknown>;
              };
              if (frame.event === 'message-confirmed') {
                messageIdOf.set(frame.data.temp_id as string, frame.data.message_id as string);
              } else if (frame.event === 'new-chat-message') {
                const message = frame.data.message as { id: string; content: string };
                if (seen[i]!.has(message.id)) {
                  duplicatesRaw++;
                  return;
                }
                seen[i]!.add(message.id);
                delivered++;
                const started = sentAt.get(message.content);
                if (started !== undefined) latencies.push(performance.now() - started);
              }
            });
            socket.once('open', () => {
              // The app's heartbeat (every 25 s); without it the sweeper rightly drops the socket.
              const timer = setInterval(
                () => socket.send(JSON.stringify({ action: 'ping' })),
                25_000,
              );
              socket.once('close', () => clearInterval(timer));
              done(socket);
            });
            socket.once('error', fail);
          }),
      ),
    );

    // Let the connect storm (presence broadcasts, pending flushes) settle first.
    await new Promise((r) => setTimeout(r, 5000));
    const started = performance.now();
    for (let n = 0; n < messages; n++) {
      const sender = n % clients;
      const tempId = `t${n}`;
      const due = started + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sentAt.set(tempId, performance.now());
      sockets[sender]!.send(
        JSON.stringify({
          action: 'send-message',
          room_id: roomOf[sender],
          content: tempId,
          temp_id: tempId,
        }),
      );
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
