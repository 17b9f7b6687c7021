import { startLocalStack } from '#local/stack.ts';
import { connect, createGroup, inBatches, sleep } from './costs.ts';
import { percentile } from './stack-process.ts';

/**
 * Issue 12 item 3: a 1,000-member room with everyone online. One member sends
 * messages one after another over WebSocket; the confirmation no longer waits
 * for the fan-out (chunks of 100 members go through the fan-out queue). Times
 * the confirmation (send → message-confirmed) and the full delivery (send →
 * the last of the 999 receiving sockets), locally.
 */

export async function runBigRoom(options: { members?: number; messages?: number } = {}) {
  const members = options.members ?? 1000;
  const messages = options.messages ?? 20;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const stack = await startLocalStack({ httpPort: 0, wsPort: 0 });
  try {
    const clients = await inBatches(
      Array.from({ length: members }, (_, i) => `big_u${i}`),
      25,
      (u) => connect(stack, u),
    );
    const owner = clients[0]!;
    const roomId = await createGroup(stack, owner, 'big', clients.slice(1));
    // Steady state: sockets older than the outbox's just-connected window (3 s), which
    // would otherwise get a second copy from the table stream.
    await sleep(12_000);
    const sentAt = new Map<string, number>();
    const lastDelivery = new Map<string, number>();
    const deliveries = new Map<string, number>();
    const confirmMs: number[] = [];
    const deliveryMs: number[] = [];
    /** One entry per member and message: a second copy is counted as a duplicate, not timed. */
    const received = new Set<string>();
    let duplicates = 0;
    let confirmed: ((id: string) => void) | undefined;
    for (const c of clients) {
      c.onFrame = (frame) => {
        if (frame.event === 'message-confirmed') confirmed?.(frame.data.temp_id as string);
        if (frame.event !== 'new-chat-message') return;
        const content = (frame.data.message as { content: string }).content;
        const started = sentAt.get(content);
        if (started === undefined) return;
        const key = `${c.userId}\n${content}`;
        if (received.has(key)) {
          duplicates++;
          return;
        }
        received.add(key);
        const now = performance.now();
        deliveryMs.push(now - started);
        deliveries.set(content, (deliveries.get(content) ?? 0) + 1);
        lastDelivery.set(content, now);
      };
    }
    for (let n = 0; n < messages; n++) {
      const content = `big ${n}`;
      const done = new Promise<void>((ok) => {
        confirmed = (id) => id === `big-${n}` && ok();
      });
      sentAt.set(content, performance.now());
      owner.socket.send(
        JSON.stringify({ action: 'send-message', room_id: roomId, content, temp_id: `big-${n}` }),
      );
      await done;
      confirmMs.push(performance.now() - sentAt.get(content)!);
      // Let this message reach everyone before the next, so each is timed on its own.
      const deadline = Date.now() + 60_000;
      while ((deliveries.get(content) ?? 0) < members - 1 && Date.now() < deadline) await sleep(20);
    }
    const full = [...sentAt].map(([content, at]) => (lastDelivery.get(content) ?? at) - at);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const round = (n: number) => Math.round(n);
    for (const c of clients) {
      clearTimeout(c.heartbeat);
      c.socket.close();
    }
    return {
      members,
      messages,
      delivered: deliveryMs.length,
      duplicates,
      expected: messages * (members - 1),
      confirmation_ms: {
        p50: round(percentile(sorted(confirmMs), 50)),
        p95: round(percentile(sorted(confirmMs), 95)),
      },
      full_delivery_ms: {
        p50: round(percentile(sorted(full), 50)),
        p99: round(percentile(sorted(full), 99)),
      },
      per_delivery_ms: { p99: round(percentile(sorted(deliveryMs), 99)) },
    };
  } finally {
    await stack.stop();
  }
}
