import { Client as SdkClient } from '@smithy/core/client';
import WebSocket from 'ws';
import { DEFAULT_MEMORY_MB, functionMemoryMb } from '#lib/chat-function.ts';
import type { Capacity } from '#lib/table.ts';
import { startLocalStack } from '#local/stack.ts';
import { billedMs, type ModeledInvocation, sizeMemory } from './lambda-time.ts';
import { billedMsAt, installMeter, type Units } from './meter.ts';
import { measurePhoto, photoDetail, pricePhoto } from './photo-costs.ts';
import { type PriceLine, priceLines, type Traffic } from './price-lines.ts';
import { PRICES } from './prices.ts';

/**
 * Issue 12's cost model, from measured units: the local stack runs in this
 * process with every AWS call metered (bench/meter.ts), real WebSocket clients
 * send into rooms of 2, 10, 100 and 1,000 members with everyone online, and
 * every billed line is priced at the list prices in bench/prices.ts
 * (bench/price-lines.ts: Lambda time modeled from the measured invocations,
 * logs, traces and transfer included). Issue 22's photo message
 * (bench/photo-costs.ts) is measured last, in a room of 10.
 */
/** The protocol's heartbeat: bench clients ping like the app, or the sweeper rightly drops them. */
const PING_MS = 25_000;
const SIZES = [2, 10, 100, 1000] as const;
/** Messages sent per room size: per-message units are flat, big rooms need fewer to show it. */
const MESSAGES: Record<(typeof SIZES)[number], number> = { 2: 1000, 10: 1000, 100: 200, 1000: 40 };
const IN_FLIGHT = 8;
const PRESENCE_GRACE_SECONDS = 2;
/** 8 sends/s per user: inside the default `send` bucket (10/s, burst 40). */
const SEND_INTERVAL_MS = 125;

export type Stack = Awaited<ReturnType<typeof startLocalStack>>;

export interface Client {
  userId: string;
  token: string;
  socket: WebSocket;
  /** Frames other than ping/pong, which are idle cost, not the messages' own. */
  received: number;
  /** Bytes of those frames: data transfer out of AWS. */
  receivedBytes: number;
  sent: number;
  pings: number;
  pongs: number;
  heartbeat?: NodeJS.Timeout;
  /** Pacing of this user's sends (measureRoom). */
  nextSendAt?: number;
  onFrame?: (frame: { event: string; data: Record<string, unknown> }) => void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function http(
  stack: Stack,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  for (;;) {
    const res = await fetch(`${stack.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 429) {
      await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
      continue;
    }
    const json = (await res.json()) as { data: Record<string, unknown> };
    if (res.status >= 300)
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  }
}

export async function connect(stack: Stack, userId: string): Promise<Client> {
  const token = await stack.issueToken(userId, userId);
  const socket = new WebSocket(`${stack.wsUrl}?token=${encodeURIComponent(token)}`);
  const client: Client = {
    userId,
    token,
    socket,
    received: 0,
    receivedBytes: 0,
    sent: 0,
    pings: 0,
    pongs: 0,
  };
  socket.on('message', (raw: Buffer) => {
    const frame = JSON.parse(raw.toString());
    client.receivedBytes += raw.byteLength;
    if (frame.event === 'pong') client.pongs++;
    else client.received++;
    client.onFrame?.(frame);
  });
  await new Promise<void>((ok, fail) => {
    socket.once('open', () => ok());
    socket.once('error', fail);
  });
  const ping = () => {
    client.pings++;
    socket.send(JSON.stringify({ action: 'ping' }));
    client.heartbeat = setTimeout(ping, PING_MS);
  };
  client.heartbeat = setTimeout(ping, Math.random() * PING_MS);
  return client;
}

export async function disconnectAll(clients: Client[]) {
  for (const c of clients) {
    clearTimeout(c.heartbeat);
    c.socket.close();
  }
  // Disconnects, presence checks and their queues settle before the next tally.
  await sleep(PRESENCE_GRACE_SECONDS * 1000 + 4000);
}

export async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  work: (t: T) => Promise<R>,
) {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

/**
 * A group of `owner` and `others`, of any size: created with the first 99 (a
 * request adds at most 99 members) and grown 99 at a time.
 */
export async function createGroup(
  stack: Stack,
  owner: Client,
  name: string,
  others: readonly Client[],
): Promise<string> {
  const ids = others.map((c) => c.userId);
  const roomId = (
    await http(stack, owner.token, 'POST', '/api/chat/rooms', {
      type: 'group',
      name,
      member_ids: ids.slice(0, 99),
    })
  ).id as string;
  for (let i = 99; i < ids.length; i += 99) {
    await http(stack, owner.token, 'POST', `/api/chat/rooms/${roomId}/members`, {
      user_ids: ids.slice(i, i + 99),
    });
  }
  return roomId;
}

/** A DynamoDB command as the meter sees it (bench/meter.ts). */
interface SdkCommand {
  constructor: { name: string };
  input: Record<string, unknown>;
}
type Written = Record<string, unknown>;

/**
 * The items of a write that are sync's own: the event log's EVT# items
 * (functions/store/event-log.ts) and the room head's `last_event_at` stamp that
 * comes with a room event. Each with whether it is in a transaction.
 */
function syncItems(command: SdkCommand): { item: Written; transact: boolean }[] {
  const name = command.constructor.name;
  const isSync = (item: Written | undefined, update?: unknown) =>
    item !== undefined &&
    ((typeof item.sk === 'string' && item.sk.startsWith('EVT#')) ||
      (typeof update === 'string' && update.includes('last_event_at')));
  const itemOf = (w: Written | undefined) => (w?.Item ?? w?.Key) as Written | undefined;
  const found: { item: Written; transact: boolean }[] = [];
  const add = (w: Written | undefined, transact: boolean) => {
    const item = itemOf(w);
    if (item && isSync(item, w?.UpdateExpression)) found.push({ item, transact });
  };
  if (name === 'PutCommand' || name === 'UpdateCommand' || name === 'DeleteCommand') {
    add(command.input, false);
  } else if (name === 'TransactWriteCommand') {
    for (const t of (command.input.TransactItems ?? []) as Record<string, Written>[])
      add(t.Put ?? t.Update ?? t.Delete, true);
  } else if (name === 'BatchWriteCommand') {
    const tables = (command.input.RequestItems ?? {}) as Record<string, Record<string, Written>[]>;
    for (const requests of Object.values(tables))
      for (const r of requests) add(r.PutRequest ?? r.DeleteRequest, false);
  }
  return found;
}

const capacityOf = (c: unknown): number =>
  (Array.isArray(c) ? c : c ? [c] : []).reduce(
    (n: number, x: { CapacityUnits?: number }) => n + (x.CapacityUnits ?? 0),
    0,
  );

let syncTally = { writeUnits: 0, writes: 0 };
let syncMeterInstalled = false;

/**
 * Counts the write units spent on sync's own items (syncItems), beside the
 * meter's totals. A single-item write counts the capacity DynamoDB reports for
 * it; an item in a batch or a transaction (reported as one total) counts by its
 * size: 1 unit per KB, twice in a transaction.
 */
function installSyncWriteMeter() {
  if (!syncMeterInstalled) {
    syncMeterInstalled = true;
    const send = SdkClient.prototype.send;
    SdkClient.prototype.send = function syncMeteredSend(
      this: SdkClient<never, never, never, never>,
      command: SdkCommand,
      ...rest: unknown[]
    ) {
      const items = syncItems(command);
      if (items.length > 0) command.input.ReturnConsumedCapacity ??= 'TOTAL';
      const result = (send as (...a: unknown[]) => Promise<Record<string, unknown>>).call(
        this,
        command,
        ...rest,
      );
      if (items.length === 0) return result;
      const single = /^(Put|Update|Delete)Command$/.test(command.constructor.name);
      return result.then((out) => {
        syncTally.writes += items.length;
        syncTally.writeUnits += single
          ? capacityOf(out?.ConsumedCapacity)
          : items.reduce(
              (n, { item, transact }) =>
                n + (transact ? 2 : 1) * Math.ceil(Buffer.byteLength(JSON.stringify(item)) / 1024),
              0,
            );
        return out;
      });
    } as typeof send;
  }
  return {
    reset() {
      syncTally = { writeUnits: 0, writes: 0 };
    },
    read() {
      return { ...syncTally };
    },
  };
}

/**
 * How a send travels: `http` is what the shipped client does (client/src: one
 * request whose answer is the confirmation), `websocket` the send-message frame
 * and its message-confirmed frame, kept for clients that want it.
 */
export type SendPath = 'http' | 'websocket';
export const SHIPPED_SEND_PATH: SendPath = 'http';

/** Sends one message over HTTP as the client does; answers the bytes received. */
async function sendOverHttp(stack: Stack, token: string, roomId: string, body: object) {
  let requests = 0;
  let bytes = 0;
  for (;;) {
    requests++;
    const res = await fetch(`${stack.httpUrl}/api/chat/rooms/${roomId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    bytes += Buffer.byteLength(text) + HTTP_RESPONSE_HEADER_BYTES;
    if (res.status === 429) {
      await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
      continue;
    }
    return { requests, bytes, refused: res.status >= 300 };
  }
}
/** Headers of an HTTP API answer as they leave AWS (status line, date, content type and length, apigw-requestid). */
const HTTP_RESPONSE_HEADER_BYTES = 200;

/** Units of sending `messages` into one room of `size` members, everyone online. */
async function measureRoom(
  stack: Stack,
  meter: ReturnType<typeof installMeter>,
  size: number,
  messages: number,
  via: SendPath = SHIPPED_SEND_PATH,
) {
  const tag = via === 'http' ? `c${size}` : `c${size}ws`;
  const clients = await inBatches(
    Array.from({ length: size }, (_, i) => `${tag}_u${i}`),
    25,
    (u) => connect(stack, u),
  );
  const owner = clients[0]!;
  let roomId: string;
  if (size === 2) {
    roomId = (
      await http(stack, owner.token, 'POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: [clients[1]!.userId],
      })
    ).id as string;
  } else {
    roomId = await createGroup(stack, owner, tag, clients.slice(1));
  }
  // Steady state: connections older than the outbox's "just connected" window
  // (RECENT_CONNECT_MS in domain/room-activity.ts, 3 s), whose copies a young
  // socket would get again, and the connects' own presence and flush work done
  // before the meter starts.
  await sleep(12_000);
  const expected = messages * (size - 1);
  let deliveries = 0;
  let refused = 0;
  const confirmations = new Map<string, () => void>();
  for (const c of clients) {
    c.received = 0;
    c.receivedBytes = 0;
    c.sent = 0;
    c.pings = 0;
    c.pongs = 0;
    c.onFrame = (frame) => {
      if (frame.event === 'new-chat-message') deliveries++;
      if (frame.event === 'message-confirmed') confirmations.get(frame.data.temp_id as string)?.();
      if (frame.event === 'error') {
        refused++;
        confirmations.get(frame.data.temp_id as string)?.();
      }
    };
  }
  const syncWrites = installSyncWriteMeter();
  meter.reset();
  syncWrites.reset();
  const started = Date.now();
  let next = 0;
  const overHttp = { requests: 0, bytes: 0 };
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < messages) {
        const n = next++;
        const sender = clients[n % size]!;
        // Each sender stays under the per-user `send` limit (10/s), as people do:
        // refused frames would be billed without a message to show for them.
        const wait = (sender.nextSendAt ?? 0) - Date.now();
        sender.nextSendAt = Math.max(Date.now(), sender.nextSendAt ?? 0) + SEND_INTERVAL_MS;
        if (wait > 0) await sleep(wait);
        const tempId = `${tag}-${n}`;
        const content = `message ${n}: a typical chat line of about sixty characters.`;
        if (via === 'http') {
          const sent = await sendOverHttp(stack, sender.token, roomId, {
            content,
            temp_id: tempId,
          });
          overHttp.requests += sent.requests;
          overHttp.bytes += sent.bytes;
          if (sent.refused) refused++;
          continue;
        }
        const confirmed = new Promise<void>((ok) => confirmations.set(tempId, ok));
        sender.sent++;
        sender.socket.send(
          JSON.stringify({ action: 'send-message', room_id: roomId, content, temp_id: tempId }),
        );
        await confirmed;
      }
    }),
  );
  const deadline = Date.now() + 120_000 + expected;
  while (deliveries < expected && Date.now() < deadline) await sleep(100);
  await sleep(2000); // the stream and queues finish what the sends handed them
  const units = structuredClone(meter.read());
  const sync = syncWrites.read();
  const seconds = (Date.now() - started) / 1000;
  const traffic: Traffic = {
    wsIn: clients.reduce((n, c) => n + c.sent, 0),
    wsOut: clients.reduce((n, c) => n + c.received, 0),
    httpRequests: overHttp.requests,
    bytesOut: clients.reduce((n, c) => n + c.receivedBytes, 0) + overHttp.bytes,
  };
  await disconnectAll(clients);
  return { size, via, messages, units, sync, traffic, deliveries, expected, refused, seconds };
}

/** Every billed line of some metered work (bench/price-lines.ts). */
export function price(units: Units, traffic: Traffic, capacity: Capacity = 'on-demand') {
  return priceLines(units, traffic, capacity);
}

/** 10,000 users connected 8 h a day for 30 days, pinging every 25 s, sending nothing. */
async function measureIdle(stack: Stack, meter: ReturnType<typeof installMeter>) {
  const users = 50;
  const windowMs = 75_000;
  const clients = await inBatches(
    Array.from({ length: users }, (_, i) => `idle_u${i}`),
    25,
    (u) => connect(stack, u),
  );
  await sleep(3000);
  for (const c of clients) {
    c.received = 0;
    c.receivedBytes = 0;
    c.sent = 0;
    c.pings = 0;
    c.pongs = 0;
    c.onFrame = undefined;
  }
  meter.reset();
  await sleep(windowMs);
  const units = structuredClone(meter.read());
  const wsIn = clients.reduce((n, c) => n + c.sent + c.pings, 0);
  const wsOut = clients.reduce((n, c) => n + c.received + c.pongs, 0);
  const bytesOut = clients.reduce((n, c) => n + c.receivedBytes, 0);
  await disconnectAll(clients);
  // Everything but connection minutes scales with users × minutes connected.
  const connectedMinutes = (users * windowMs) / 60_000;
  const monthMinutes = 10_000 * 8 * 60 * 30;
  const scale = monthMinutes / connectedMinutes;
  const perMonth = price(units, { wsIn, wsOut, httpRequests: 0, bytesOut });
  const connectionMinutes = monthMinutes * PRICES.apiGateway.connectionMinute;
  return {
    measured: { users, minutes: windowMs / 60_000, wsIn, wsOut, units },
    usd: perMonth.total * scale + connectionMinutes,
    /** Were @connections GetConnection/DeleteConnection billed as messages (prices.ts says they are not). */
    usd_if_management_calls_billed:
      perMonth.total * scale +
      connectionMinutes +
      units.managementCalls * scale * PRICES.apiGateway.webSocketMessage,
    parts: {
      ...Object.fromEntries(Object.entries(perMonth.parts).map(([k, v]) => [k, v * scale])),
      connectionMinutes,
    },
  };
}

/**
 * Issue 15's figure: the read units of a sync that returns 100 events after a
 * day away (time does not change what it reads: the rooms that changed since
 * the cursor and what happened in them). The user is in 20 rooms; 100
 * messages land in 10 of them while they are away.
 */
async function measureSync(stack: Stack, meter: ReturnType<typeof installMeter>) {
  const away = await stack.issueToken('sync_away', 'Away');
  const peer = await stack.issueToken('sync_peer', 'Peer');
  const rooms: string[] = [];
  for (let i = 0; i < 20; i++) {
    const room = await http(stack, away, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: `sync-${i}`,
      member_ids: ['sync_peer'],
    });
    rooms.push(room.id as string);
  }
  const cursor = (await http(stack, away, 'GET', '/api/chat/sync')).next_since as string;
  for (let n = 0; n < 100; n++) {
    await http(stack, peer, 'POST', `/api/chat/rooms/${rooms[n % 10]}/messages`, {
      content: `while you were away ${n}`,
    });
  }
  await sleep(2000);
  meter.reset();
  const page = await http(
    stack,
    away,
    'GET',
    `/api/chat/sync?since=${encodeURIComponent(cursor)}&limit=200`,
  );
  const units = structuredClone(meter.read());
  return {
    events: (page.events as unknown[]).length,
    read_units: round(units.readUnits, 1),
    dynamo_calls: units.dynamoCalls,
    usd_per_million_syncs: round(units.readUnits * PRICES.dynamodb.readRequestUnit * 1e6),
  };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A run's billed lines, per message and in $ per 1M messages (`--verbose` prints them). */
function linesPerMillion(r: { units: Units; traffic: Traffic; messages: number }) {
  return price(r.units, r.traffic).lines.map((l: PriceLine) => ({
    line: l.line,
    per_message: round(l.quantity / r.messages, 6),
    unit: l.unit,
    usd_per_million: round((l.usd / r.messages) * 1e6, 3),
  }));
}

/**
 * Issue 24's memory sizing: each handler's invocations over every room run,
 * billed at each candidate size (bench/lambda-time.ts sizeMemory); `pick` is
 * what lib/chat-function.ts should set, `set` what it sets.
 */
function memorySizing(runs: readonly Units[]) {
  const byHandler = new Map<string, ModeledInvocation[]>();
  for (const units of runs)
    for (const [h, l] of Object.entries(units.lambda))
      byHandler.set(h, [...(byHandler.get(h) ?? []), ...l.modeled]);
  return Object.fromEntries(
    [...byHandler].map(([h, modeled]) => {
      const { rows, pick } = sizeMemory(modeled, DEFAULT_MEMORY_MB);
      return [h, { invocations: modeled.length, set: functionMemoryMb(h), pick, rows }];
    }),
  );
}

/** Each handler's invocations, local time, and modeled billed time at its memory. */
function lambdaDetail(units: Units) {
  return Object.fromEntries(
    Object.entries(units.lambda).map(([h, l]) => {
      const memory = functionMemoryMb(h);
      const sorted = l.modeled.map((m) => billedMs(m, memory)).sort((a, b) => a - b);
      return [
        h,
        {
          invocations: l.invocations,
          memory_mb: memory,
          local_avg_ms: round(l.ms / l.invocations, 1),
          compute_avg_ms: round(l.modeled.reduce((n, m) => n + m.computeMs, 0) / l.invocations, 2),
          round_trips_avg: round(
            l.modeled.reduce((n, m) => n + m.roundTrips, 0) / l.invocations,
            2,
          ),
          billed_avg_ms: round(billedMsAt(l, memory) / l.invocations, 1),
          billed_p95_ms: sorted[Math.floor(sorted.length * 0.95)] ?? 0,
        },
      ];
    }),
  );
}

/** Sync's write units over some room runs, per message sent or per recipient. */
function syncWritesPer(
  rooms: readonly { size: number; messages: number; sync: { writeUnits: number } }[],
  per: 'message' | 'recipient',
) {
  const units = rooms.reduce((n, r) => n + r.sync.writeUnits, 0);
  const count = rooms.reduce((n, r) => n + r.messages * (per === 'message' ? 1 : r.size - 1), 0);
  return round(units / count, 4);
}

export async function measureCosts() {
  const meter = installMeter();
  // As deployed (lib/chat-function.ts): Powertools' default log level, metrics on,
  // so their lines are metered as CloudWatch Logs would ingest them.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'false';
  // A short presence grace period: a room's users go offline (presence writes and
  // broadcasts, connection churn rather than messaging) before the next room is metered.
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    scheduleEverySeconds: 20,
    graceSeconds: PRESENCE_GRACE_SECONDS,
  });
  try {
    // Idle first, on a quiet stack: the rooms' disconnects and presence checks would bill it.
    const idle = await measureIdle(stack, meter);
    // The direct room, then the other send path beside it for the comparison (the
    // WebSocket send stays in the protocol), before the big rooms, whose 1,000 users
    // going offline would be billed to it; then the rest.
    const rooms = [await measureRoom(stack, meter, SIZES[0], MESSAGES[SIZES[0]])];
    const directOtherPath = await measureRoom(
      stack,
      meter,
      SIZES[0],
      MESSAGES[SIZES[0]],
      SHIPPED_SEND_PATH === 'http' ? 'websocket' : 'http',
    );
    for (const size of SIZES.slice(1))
      rooms.push(await measureRoom(stack, meter, size, MESSAGES[size]));
    const syncAfterADay = await measureSync(stack, meter);
    // Last, so the text rows are metered exactly as before (issue 22 item 10).
    const photo = await measurePhoto(stack, meter);
    const photoPriced = pricePhoto(photo);
    const perMillion = (r: (typeof rooms)[number], capacity: Capacity = 'on-demand') =>
      (price(r.units, r.traffic, capacity).total / r.messages) * 1e6;
    const writeUnitsPerSend = (size: number) => {
      const r = rooms.find((x) => x.size === size)!;
      return round(r.units.writeUnits / r.messages, 3);
    };
    return {
      usd_per_million_messages: Object.fromEntries(
        rooms.map((r) => [String(r.size), round(perMillion(r))]),
      ),
      /** The same runs, the table on provisioned capacity at auto scaling's target utilization. */
      usd_per_million_messages_provisioned: Object.fromEntries(
        rooms.map((r) => [String(r.size), round(perMillion(r, 'provisioned'))]),
      ),
      /** A 1 MiB photo into a room of 10, downloaded by the 9 others (bench/photo-costs.ts). */
      usd_per_million_photo_messages_room_10: photoPriced.usd_per_million,
      usd_idle_per_10k_users_month: round(idle.usd),
      room_write_units_per_send: { '10': writeUnitsPerSend(10), '1000': writeUnitsPerSend(1000) },
      priced_on: PRICES.pricedOn,
      /**
       * Measured during the room sends above: the write units spent on sync's own
       * items (event log EVT#, the head's last_event_at), per message sent and per
       * recipient (messages × other members), over all room sizes and by size.
       */
      sync: {
        write_units_added_per_message: syncWritesPer(rooms, 'message'),
        write_units_added_per_recipient: syncWritesPer(rooms, 'recipient'),
        write_units_added_by_room_size: Object.fromEntries(
          rooms.map((r) => [
            String(r.size),
            {
              per_message: syncWritesPer([r], 'message'),
              per_recipient: syncWritesPer([r], 'recipient'),
              items_written: r.sync.writes,
            },
          ]),
        ),
        ...syncAfterADay,
      },
      detail: {
        send_path: SHIPPED_SEND_PATH,
        direct_other_path: {
          via: directOtherPath.via,
          usd_per_million: round(perMillion(directOtherPath)),
          lines: linesPerMillion(directOtherPath),
        },
        rooms: rooms.map((r) => {
          const priced = price(r.units, r.traffic);
          const per = (n: number) => round(n / r.messages, 3);
          return {
            members: r.size,
            via: r.via,
            messages: r.messages,
            deliveries: `${r.deliveries}/${r.expected}`,
            refused_sends: r.refused,
            per_message: {
              write_units: per(r.units.writeUnits),
              read_units: per(r.units.readUnits),
              lambda_invocations: per(
                Object.values(r.units.lambda).reduce((n, l) => n + l.invocations, 0),
              ),
              websocket_messages: per(r.traffic.wsIn + r.traffic.wsOut),
              http_requests: per(r.traffic.httpRequests),
              bytes_out: per(r.traffic.bytesOut),
              sqs_requests: per(r.units.sqsRequests),
              sns_publishes: per(r.units.snsPublishes),
            },
            usd_per_million_by_service: Object.fromEntries(
              Object.entries(priced.parts).map(([k, v]) => [k, round((v / r.messages) * 1e6)]),
            ),
            lines: linesPerMillion(r),
            dynamo_calls: r.units.dynamoCalls,
            lambda: lambdaDetail(r.units),
          };
        }),
        memory_sizing: memorySizing([...rooms, directOtherPath].map((r) => r.units)),
        idle: {
          ...idle.measured,
          usd_if_management_calls_billed: round(idle.usd_if_management_calls_billed),
          usd_by_service: Object.fromEntries(
            Object.entries(idle.parts).map(([k, v]) => [k, round(v)]),
          ),
        },
        reference_hosted_usd_per_million: PRICES.reference.hostedPerMillionMessages,
        photo: photoDetail(photo, photoPriced),
      },
    };
  } finally {
    await stack.stop();
  }
}
