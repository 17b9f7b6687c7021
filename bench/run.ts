import { measureBundles } from './bundles.ts';
import { measureClient } from './client-size.ts';
import { runLoad } from './load.ts';
import { measureReadCosts } from './read-costs.ts';

const BUNDLE_LIMIT_BYTES = 300 * 1024;
const IMPORT_LIMIT_MS = 150;
const only = process.argv[2];

async function bundles() {
  console.log('## Lambda bundles (minified ESM, @aws-sdk external)');
  const reports = await measureBundles();
  for (const b of reports) {
    const flag =
      b.bytes > BUNDLE_LIMIT_BYTES || b.importMs > IMPORT_LIMIT_MS ? '  OVER TARGET' : '';
    console.log(
      `${b.handler.padEnd(28)} ${(b.bytes / 1024).toFixed(1).padStart(7)} KB ${b.importMs.toFixed(1).padStart(7)} ms${flag}`,
    );
  }
  const maxKb = Math.max(...reports.map((b) => b.bytes)) / 1024;
  const maxMs = Math.max(...reports.map((b) => b.importMs));
  console.log(
    `max bundle ${maxKb.toFixed(1)} KB (target ≤ 300), max import ${maxMs.toFixed(1)} ms (target ≤ 150)\n`,
  );
}

async function load() {
  console.log('## End to end: 200 clients, 20 rooms, 5,000 messages (local stack)');
  const r = await runLoad();
  console.log(
    [
      `messages ${r.messages}, deliveries expected ${r.expectedDeliveries}, delivered ${r.delivered}`,
      `lost ${r.lost} (target 0), duplicates after de-dup ${r.duplicatesAfterDedup} (raw ${r.duplicatesRaw}), unconfirmed sends ${r.unconfirmed}`,
      `latency p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms (target ≤ 250), max ${r.max.toFixed(1)} ms`,
      `throughput ${r.messagesPerSecond.toFixed(0)} messages/s, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s over ${r.seconds.toFixed(1)} s`,
    ].join('\n'),
  );
  console.log();
}

async function costs() {
  console.log('## Read and send costs (DynamoDB Local, consumed capacity as reported)');
  const r = await measureReadCosts();
  const line = (label: string, m: { calls: number; capacity: number; ms: number }) =>
    `${label.padEnd(44)} ${String(m.calls).padStart(3)} calls ${m.capacity.toFixed(1).padStart(6)} CU ${m.ms.toFixed(1).padStart(7)} ms`;
  for (const total of [1000, 100000] as const) {
    console.log(line(`unread counts, 50 rooms, ${total} messages`, r[total].unread));
    console.log(line(`room list (50), ${total} messages`, r[total].list));
  }
  console.log(
    `ratio 100k/1k: unread ${(r[100000].unread.ms / r[1000].unread.ms).toFixed(2)} (time), ${(r[100000].unread.capacity / r[1000].unread.capacity).toFixed(2)} (capacity)`,
  );
  console.log(line('send, room of 10, no one else connected', r.send.quiet));
  console.log(line('send, room of 10, 1,000 others connected', r.send.busy));
  console.log();
}

async function client() {
  console.log('## TypeScript client (client/), bundled for the browser');
  const r = await measureClient();
  console.log(
    `minified ${(r.minified / 1024).toFixed(1)} KB, gzipped ${(r.gzipped / 1024).toFixed(1)} KB\n`,
  );
}

const parts: Record<string, () => Promise<void>> = { bundles, costs, load, client };
if (only && !(only in parts)) {
  console.error(`Unknown benchmark "${only}". Choose one of: ${Object.keys(parts).join(', ')}`);
  process.exit(1);
}
for (const [name, run] of Object.entries(parts)) if (!only || only === name) await run();
