// Each benchmark's module is imported when it runs, so a wrong name is refused
// at once, before esbuild, DynamoDB Local or the stack are loaded.
const BUNDLE_LIMIT_BYTES = 300 * 1024;
const IMPORT_LIMIT_MS = 150;
/** Flags that take a value (`--in-flight 5`): the value is not a benchmark's name. */
const VALUE_FLAGS = new Set(['--in-flight', '--rate', '--settle', '--offline']);
const only = process.argv
  .slice(2)
  .find((a, i, args) => !a.startsWith('--') && !VALUE_FLAGS.has(args[i - 1] ?? ''));
const json = process.argv.includes('--json');
const verbose = process.argv.includes('--verbose');

async function bundles() {
  console.log('## Lambda bundles (minified ESM, AWS SDK bundled; cold import in a fresh process)');
  const { measureBundles } = await import('./bundles.ts');
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

/** `--name value` from the command line, as a number. */
function numberFlag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

async function load() {
  // --in-flight N: a closed loop of N unconfirmed sends (the outside check ran 5), not a rate.
  const inFlight = numberFlag('in-flight');
  const ratePerSecond = numberFlag('rate');
  // --offline N: N clients (one per room) go away for two fifths of the run and come back.
  const offline = numberFlag('offline');
  // --settle MS: the wait between the connect storm and the first send (default 5000; 0 allowed).
  const settleIndex = process.argv.indexOf('--settle');
  const settleMs = settleIndex >= 0 ? Number(process.argv[settleIndex + 1]) : undefined;
  const offered =
    (inFlight ? `${inFlight} in flight` : `${ratePerSecond ?? 20} messages/s`) +
    (offline ? `, ${offline} clients away and back` : '');
  if (!json)
    console.log(`## End to end: 200 clients, 20 rooms, 5,000 messages, ${offered} (local stack)`);
  const { runLoad } = await import('./load.ts');
  const r = await runLoad({
    ...(inFlight ? { inFlight } : {}),
    ...(ratePerSecond ? { ratePerSecond } : {}),
    ...(offline ? { offline } : {}),
    verbose,
    ...(settleMs !== undefined && Number.isFinite(settleMs) ? { settleMs } : {}),
  });
  if (json) {
    console.log(JSON.stringify({ offered, ...r }));
    return;
  }
  console.log(
    [
      `messages ${r.messages}, deliveries expected ${r.expectedDeliveries}, delivered ${r.delivered}`,
      `raw duplicates ${r.duplicatesRaw} (target 0: new-chat-message frames a socket got for a message it already had), after de-dup ${r.duplicatesAfterDedup}`,
      `lost ${r.lost} (target 0), unconfirmed sends ${r.unconfirmed}`,
      ...(r.offlineClients > 0
        ? [
            `away and back: ${r.offlineClients} clients; messages flushed to them out of send order ${r.offlineOutOfOrder} (target 0)`,
          ]
        : []),
      `latency p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms (target ≤ 250), max ${r.max.toFixed(1)} ms`,
      `throughput ${r.messagesPerSecond.toFixed(0)} messages/s, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s over ${r.seconds.toFixed(1)} s`,
    ].join('\n'),
  );
  console.log();
}

async function costs() {
  const { measureCosts } = await import('./costs.ts');
  const r = await measureCosts();
  const { detail } = r;
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(
    `## Cost per 1M messages, everyone online, sent over ${detail.send_path} (AWS list prices of ${r.priced_on}; every billed line, bench/price-lines.ts)`,
  );
  console.log(
    'members  usd/1M  provisioned  target   ws msgs  WRU   RRU   lambda  sqs   (per message)',
  );
  const targets: Record<string, string> = { '2': '5/4', '10': '18', '100': '110', '1000': '-' };
  for (const room of detail.rooms) {
    const p = room.per_message;
    const size = String(room.members);
    console.log(
      `${size.padStart(7)}  ${r.usd_per_million_messages[size]!.toFixed(2).padStart(6)}  ${r.usd_per_million_messages_provisioned[size]!.toFixed(2).padStart(11)}  ${targets[size]!.padStart(6)}   ${p.websocket_messages.toFixed(1).padStart(7)}  ${p.write_units.toFixed(1).padStart(4)}  ${p.read_units.toFixed(1).padStart(5)}  ${p.lambda_invocations.toFixed(2).padStart(6)}  ${p.sqs_requests.toFixed(2).padStart(4)}`,
    );
  }
  const other = detail.direct_other_path;
  console.log(
    `direct message over ${other.via} instead: $${other.usd_per_million.toFixed(2)} per 1M`,
  );
  if (verbose) {
    for (const room of detail.rooms) {
      console.log(`  ${room.members} members, every billed line, per message and per 1M messages:`);
      for (const l of room.lines)
        console.log(
          `    ${l.line.padEnd(58)} ${`${l.per_message} ${l.unit}`.padStart(20)}  ${l.usd_per_million.toFixed(3).padStart(9)}`,
        );
    }
    console.log('  memory sizing (modeled billed ms at each size; pick keeps p95 within 10%):');
    for (const [handler, s] of Object.entries(detail.memory_sizing)) {
      const rows = s.rows
        .map(
          (x) =>
            `${x.memory_mb} MB ${x.billed_avg_ms}/${x.billed_p95_ms} ms ${x.keeps_p95 ? '' : '✗'}`,
        )
        .join(' · ');
      console.log(`    ${handler.padEnd(28)} set ${s.set}, pick ${s.pick}: ${rows}`);
    }
  }
  const photo = detail.photo;
  const text10 = r.usd_per_million_messages['10']!;
  const photoUsd = r.usd_per_million_photo_messages_room_10;
  const transfer = photo.lines.find((l) => l.line.startsWith('data transfer out'))!;
  const [downloaded, toDownload] = photo.downloads.split('/');
  const incomplete =
    downloaded !== toDownload || !photo.all_tagged_sent ? ' INCOMPLETE (see --verbose)' : '';
  console.log(
    `photo, ${photo.photo_bytes / 2 ** 20} MiB into a room of 10, downloaded by the 9 others: $${photoUsd.toFixed(2)} per 1M photo messages ($${(photoUsd - text10).toFixed(2)} more than a text message there; data transfer out $${transfer.usd_per_million.toFixed(2)} of it, $${photo.cloudfront_instead_usd_per_million.toFixed(2)} through CloudFront)${incomplete}`,
  );
  if (verbose) {
    console.log(
      `  measured: ${photo.photos} photos, deliveries ${photo.deliveries}, downloads ${photo.downloads}, ${photo.tags_per_photo} tag per stored photo (all "sent": ${photo.all_tagged_sent})`,
    );
    console.log(
      `  ${'line'.padEnd(58)} ${'per photo message'.padStart(22)}  ${'usd/1M'.padStart(9)}`,
    );
    for (const l of photo.lines) {
      const quantity = l.quantity.toFixed(2);
      console.log(
        `  ${l.line.padEnd(58)} ${`${quantity} ${l.unit}`.padStart(22)}  ${l.usd_per_million.toFixed(2).padStart(9)}`,
      );
    }
    console.log(`  ${'total'.padEnd(58)} ${''.padStart(22)}  ${photoUsd.toFixed(2).padStart(9)}`);
    console.log(
      `  lambda per photo: ${Object.entries(photo.lambda)
        .map(([h, l]) => `${h} ${l.invocations_per_photo}`)
        .join(', ')}`,
    );
    for (const room of detail.rooms)
      console.log(
        `  text, ${room.members} members, usd/1M by service: ${JSON.stringify(room.usd_per_million_by_service)}`,
      );
  }
  console.log(
    `idle, 10,000 users 8 h/day for 30 days: $${r.usd_idle_per_10k_users_month.toFixed(2)} (target ≤ 800) ${JSON.stringify(detail.idle.usd_by_service)}`,
  );
  console.log(
    `room write units per send: ${r.room_write_units_per_send['10']} at 10 members, ${r.room_write_units_per_send['1000']} at 1,000 (target ≤ 1.1×)`,
  );
  console.log(
    `sync after a day away: ${r.sync.events} events for ${r.sync.read_units} read units; write units added per message: ${r.sync.write_units_added_per_message}\n`,
  );
}

async function hotRoom() {
  const { runHotRoom } = await import('./hot-room.ts');
  const r = await runHotRoom();
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log('## Hot room: 50 concurrent senders, stored part of a send (no fan-out)');
  console.log(
    `one room ${r.one_room_per_second}/s, spread over 50 rooms ${r.spread_per_second}/s, ratio ${r.ratio} (target ≥ 0.8), errors ${r.errors}\n`,
  );
}

async function bigRoom() {
  const { runBigRoom } = await import('./big-room.ts');
  const r = await runBigRoom();
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log('## Big room: 1,000 members online, one sender (fan-out through the queue)');
  console.log(
    `confirmation p50 ${r.confirmation_ms.p50} ms, p95 ${r.confirmation_ms.p95} ms; full delivery p50 ${r.full_delivery_ms.p50} ms, p99 ${r.full_delivery_ms.p99} ms; delivered ${r.delivered}/${r.expected}, ${r.duplicates} duplicate copies\n`,
  );
}

async function reads() {
  console.log('## Read and send costs (DynamoDB Local, consumed capacity as reported)');
  const { measureReadCosts } = await import('./read-costs.ts');
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

async function noisyNeighbour() {
  const { runNoisyNeighbour } = await import('./noisy-neighbour.ts');
  const r = await runNoisyNeighbour();
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(
    `## Noisy neighbour: one user floods for ${r.seconds_per_flood} s beside ${r.honest_users} honest users sending ${r.honest_rate_per_user.toFixed(1)} msg/s each`,
  );
  console.log(
    'phase                      confirm p50   p95  ×quiet  list p95  limited  5xx  flood sent/ok/429/refused, last answer',
  );
  for (const p of r.phases) {
    console.log(
      `${p.phase.padEnd(24)} ${String(p.honest_confirm_ms.p50).padStart(9)} ${String(p.honest_confirm_ms.p95).padStart(7)} ${p.p95_vs_quiet.toFixed(2).padStart(6)} ${String(p.honest_room_list_ms.p95).padStart(9)} ${String(p.honest_rate_limited).padStart(8)} ${String(p.server_errors_5xx).padStart(4)}  ${p.flood.sent}/${p.flood.accepted}/${p.flood.rate_limited}/${p.flood.refused}, +${(p.flood.last_answer_after_ms / 1000).toFixed(1)} s`,
    );
  }
  console.log(
    `worst p95 ${r.worst_p95_vs_quiet}× quiet (target ≤ 2), honest users rate limited ${r.honest_rate_limited} (target 0), 5xx ${r.server_errors_5xx} (target 0)\n`,
  );
}

async function client() {
  console.log('## TypeScript client (client/), bundled for the browser');
  const { measureClient } = await import('./client-size.ts');
  const r = await measureClient();
  console.log(
    `minified ${(r.minified / 1024).toFixed(1)} KB, gzipped ${(r.gzipped / 1024).toFixed(1)} KB\n`,
  );
}

async function attachments() {
  console.log(
    '## Attachments end to end (local stack): slot, upload, send, download URL, download',
  );
  const { measureAttachmentTransfer } = await import('./attachment-transfer.ts');
  const reports = await measureAttachmentTransfer();
  if (json) {
    console.log(JSON.stringify(reports));
    return;
  }
  console.log(
    'size      slot          upload         send          url           download     (ms p50 / max)',
  );
  const pair = ([p50, max]: [number, number]) => `${p50} / ${max}`.padEnd(14);
  for (const r of reports) {
    console.log(
      `${`${r.bytes / 1_000_000} MB`.padEnd(9)} ${pair(r.slot_ms)}${pair(r.upload_ms)}${pair(r.send_ms)}${pair(r.url_ms)}${pair(r.download_ms)}${r.bytes_match ? '' : ' BYTES DIFFER'}`,
    );
  }
  console.log();
}

const parts: Record<string, () => Promise<void>> = {
  bundles,
  costs,
  'hot-room': hotRoom,
  'big-room': bigRoom,
  reads,
  load,
  'noisy-neighbour': noisyNeighbour,
  attachments,
  client,
};
if (only && !(only in parts)) {
  console.error(`Unknown benchmark "${only}". Choose one of: ${Object.keys(parts).join(', ')}`);
  process.exit(1);
}
for (const [name, run] of Object.entries(parts)) if (!only || only === name) await run();
