import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { httpRoutes, wsRoutes } from '#functions/routes.ts';
import { DEFAULT_RATE_LIMITS } from '#platform/rate-limit-rules.ts';
import type { ChatClient, Frame } from './chat-client.ts';
import { startStack } from './stack.ts';

/**
 * Property-based fuzzing of every HTTP route and WebSocket action (issue 11):
 * valid-ish and hostile bodies, queries, paths and frames. Whatever comes in,
 * no answer is a 5xx or an INTERNAL error, every request and frame is answered
 * within its timeout, and none carries a stack trace, AWS error text or the
 * table's key material. The main pass runs with rate limits off so every request
 * reaches its handler; a second pass (its own stack) runs with the default limits
 * on, where RATE_LIMITED answers are expected and must be well-formed. The
 * moderators' routes (route table flag `moderators`) are fuzzed as a moderator,
 * on a report of a throwaway user and a throwaway suspect, with one request in
 * four from a non-moderator, which must be refused 403. Scenario
 * cases send what the audit found the fuzz could not reach by chance: reserved
 * names in every id and map key, emoji/CJK/RTL text to an offline member, a
 * resend with reordered media keys, and membership changes followed by deletes,
 * typing and seen receipts. Prints the counts and the seed.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
let owner: ChatClient;
let member: ChatClient;
/** The caller of `DELETE /api/chat/me`: erasing the owner or the member would empty every other route's fixture. */
let eraser: ChatClient;
/**
 * The caller of the moderation routes (route table flag `moderators`): a token whose
 * groups hold the moderator group. Some of those requests still come from the owner
 * or the member, who must be refused 403 before anything else is looked at.
 */
let moderator: ChatClient;
/**
 * Users a moderator must never suspend: a suspended owner, member or eraser would
 * answer 403 SUSPENDED on every other route. The suspension routes name
 * `fz_suspect` instead, and a resolve's `suspend_user` suspends a report's own
 * throwaway sender (`newReport`).
 */
const PROTECTED_USERS = new Set(['fz_owner', 'fz_member', 'fz_eraser', 'fz_mod']);
const SUSPECT = 'fz_suspect';
/**
 * Generated requests name the fixture through these placeholders; each request
 * gets them replaced by the ids of its route's own fixture, which is rebuilt
 * after a destructive request succeeds (a left room, a deleted message).
 */
const known = {
  roomId: 'ZZroomZZ',
  messageId: 'ZZmsgZZ',
  deviceId: 'ZZdeviceZZ',
  attachmentId: 'ZZfileZZ',
  userId: 'fz_owner',
  keyId: 'fz-key',
  reportId: 'ZZreportZZ',
};
interface Fixture {
  roomId: string;
  messageId: string;
  deviceId: string;
  /** A file the owner sent into the room. */
  attachmentId: string;
  /** An open report of the member's, for the routes that name one (else ''). */
  reportId: string;
}
const resolve = (text: string, fx: Fixture) =>
  text
    .replaceAll(known.roomId, fx.roomId)
    .replaceAll(known.messageId, fx.messageId)
    .replaceAll(known.deviceId, fx.deviceId)
    .replaceAll(known.attachmentId, fx.attachmentId)
    .replaceAll(known.reportId, fx.reportId);

const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`;

let fixtures = 0;
/** A request the fuzz itself needs answered: a 429 (limits on) waits its Retry-After and goes again. */
async function needed<T>(who: ChatClient, method: string, path: string, body?: unknown) {
  for (let tries = 0; ; tries++) {
    const answer = await who.http<T>(method, path, body);
    if (answer.status !== 429 || tries >= 20) return answer;
    await new Promise((r) => setTimeout(r, 1000 * Number(answer.headers.get('retry-after') ?? 1)));
  }
}
/**
 * With limits on, one fixture for every route, made once and never remade: a fixture
 * per route adds the member to a group each time, and `addedToGroup` (20/h) would
 * refuse the 21st for minutes. A used-up fixture then answers 404s, which are fuzz too.
 */
let sharedFixture: Promise<Fixture> | undefined;
/** The fixture of the route `key` (`METHOD /path`): with a report when the route names one. */
function fixtureFor(key: string): Promise<Fixture> {
  if (!limitsOn) return newFixture(key.includes('{report_id}'));
  sharedFixture ??= newFixture(true);
  return sharedFixture;
}
/**
 * A fixture after a destructive request used `fx` up: a resolved report is
 * replaced by a fresh one (the rest still stands), anything else by a new fixture.
 */
async function renewFixture(key: string, fx: Fixture): Promise<Fixture> {
  if (key.includes('{report_id}')) return { ...fx, reportId: await newReport() };
  return newFixture(false);
}
/**
 * A group of the owner and the member with one message, and a device of the owner;
 * and an open report when `withReport`.
 */
async function newFixture(withReport: boolean): Promise<Fixture> {
  const n = ++fixtures;
  const group = () =>
    needed<{ id: string }>(owner, 'POST', '/api/chat/rooms', {
      type: 'group',
      name: `fuzz ${n}`,
      member_ids: ['fz_member'],
    });
  let room = await group();
  // The draw may have had the member block the owner (`PUT /api/chat/blocks/fz_owner`,
  // an idLike id), and the owner then cannot add them (403 BLOCKED) until the member
  // unblocks: the member does, as they could, and the owner asks again.
  if (room.status === 403) {
    await needed(member, 'DELETE', `/api/chat/blocks/${owner.userId}`);
    room = await group();
  }
  if (room.status !== 201)
    throw new Error(`fuzz fixture: group → ${room.status} ${JSON.stringify(room.body)}`);
  const roomId = room.body.data.id;
  const [message, device] = await Promise.all([
    needed<{ id: string }>(owner, 'POST', `/api/chat/rooms/${roomId}/messages`, {
      content: 'seed',
    }),
    needed<{ device_id: string }>(owner, 'POST', '/api/chat/devices', {
      platform: 'fcm',
      token: `fuzz-device-token-${n}`,
    }),
  ]);
  return {
    roomId,
    messageId: message.body.data.id,
    deviceId: device.body.data.device_id,
    attachmentId: await sentFile(roomId),
    reportId: withReport ? await newReport() : '',
  };
}

let reports = 0;
/**
 * An open report by the member about a throwaway user of its own (`fz_suspect_<n>`):
 * mostly about a message that user sent the member in a direct room (so
 * `remove_message` has something to remove), every third about the user alone
 * (so `remove_message` is refused 400). A resolve's `suspend_user` suspends that
 * user, never one the other routes need.
 */
async function newReport(): Promise<string> {
  const n = ++reports;
  const suspect = await env.client(`${SUSPECT}_${n}`);
  let body: Record<string, unknown> = {
    user_id: suspect.userId,
    reason: 'harassment',
    note: `fuzz report ${n}`,
  };
  if (n % 3 !== 0) {
    const room = await needed<{ id: string }>(suspect, 'POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: [member.userId],
    });
    const message = await needed<{ id: string }>(
      suspect,
      'POST',
      `/api/chat/rooms/${room.body.data.id}/messages`,
      { content: `reported ${n}` },
    );
    body = { message_id: message.body.data.id, reason: 'spam', note: `fuzz report ${n}` };
  }
  const report = await needed<{ report_id: string }>(member, 'POST', '/api/chat/reports', body);
  if (report.status !== 201)
    throw new Error(`fuzz fixture: report → ${report.status} ${JSON.stringify(report.body)}`);
  return report.body.data.report_id;
}

/** A small picture the owner uploads through its slot and sends into the room. */
async function sentFile(roomId: string): Promise<string> {
  const slot = await needed<{ attachment_id: string; upload: { url: string; fields: object } }>(
    owner,
    'POST',
    `/api/chat/rooms/${roomId}/attachments`,
    { content_type: 'image/png', size_bytes: 3, file_name: 'seed.png' },
  );
  const { attachment_id, upload } = slot.body.data;
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields)) form.append(k, String(v));
  form.append('file', new Blob([new Uint8Array([1, 2, 3])]), 'seed.png');
  await fetch(upload.url, { method: 'POST', body: form });
  await needed(owner, 'POST', `/api/chat/rooms/${roomId}/messages`, {
    attachment_ids: [attachment_id],
  });
  return attachment_id;
}

/** Whether the stack under fuzz has its default rate limits on (the second pass). */
let limitsOn = false;
/** Starts a stack (limits off, or the defaults) with the two users and the owner's key. */
async function setUp(withLimits: boolean) {
  limitsOn = withLimits;
  env = await startStack(
    withLimits
      ? {}
      : { rateLimits: Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((k) => [k, 'off'])) },
  );
  [owner, member, eraser, moderator] = await Promise.all([
    env.client('fz_owner'),
    env.client('fz_member'),
    env.client('fz_eraser'),
    env.moderator('fz_mod'),
  ]);
  await owner.http('POST', '/api/chat/encryption/keys', {
    public_key: PUBLIC_KEY,
    device_id: 'phone',
    key_id: known.keyId,
  });
}

const counts = {
  requests: 0,
  status5xx: 0,
  frames: 0,
  internalErrors: 0,
  unanswered: 0,
  rateLimited: 0,
};
/**
 * The draw. Every run, CI included, draws a seed and prints it first (before any
 * request, so a crashed run still names it); FUZZ_SEED=<n> replays one. A fixed
 * seed in CI would run the same inputs forever and find nothing new.
 */
const SEED = process.env.FUZZ_SEED
  ? Number(process.env.FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
console.log(`fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
/** An HTTP request or a frame's marker unanswered for this long is a violation, not a pass. */
const ANSWER_TIMEOUT_MS = 10_000;

/** Answers by status per route, printed with FUZZ_VERBOSE=1 to see how deep the fuzzer gets. */
const statusTally: Record<string, Record<number, number>> = {};
const violations: string[] = [];
afterAll(async () => {
  console.log(
    `fuzz: ${counts.requests} HTTP requests (${counts.status5xx} answered 5xx), ` +
      `${counts.frames} WebSocket frames (${counts.internalErrors} answered INTERNAL), ` +
      `${counts.unanswered} unanswered, ${counts.rateLimited} rate limited, ` +
      `${violations.length} violations (seed ${SEED})`,
  );
  if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify(statusTally, null, 1));
  if (violations.length) console.log(violations.slice(0, 50).join('\n'));
});

// ------------------------------------------------------------ what must never appear

const STACK_TRACE = /\bat [\w.<>$ ]+\(?[^)]*:\d+:\d+|\.ts:\d+|node_modules|\bError: /;
const AWS_TEXT =
  /ValidationException|ConditionalCheckFailed|TransactionCanceled|ProvisionedThroughput|ResourceNotFoundException|ThrottlingException|dynamodb|AttributeValue|\bAttribute\b|ExpressionAttribute|\bSQS\b|\bSNS\b|arn:aws/i;
/**
 * The table's key material (functions/store/keys.ts and the entity modules'
 * sort-key prefixes), and its key attribute names. Flagged wherever it appears,
 * unless it is exactly a free-text value the caller may see because it was sent
 * as one (see `legitimate`).
 */
const KEY_TEXT =
  /USER#|ROOM#|MSG#|PENDING#|TEMP#|DEVICE#|CONN#|CONNS#|RATE#|KEY#|EVT#|SEEN#|DIRECT#|PRESENCE_DUE#|VERIFIED#|\bgsi1\w*|"pk"|"sk"/;
const KEY_ATTRIBUTE = /^(pk|sk|gsi1\w*)$/;

/** Every string a request carried: an answer may echo the caller's own input. */
function stringsIn(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 20) return out;
  if (typeof value === 'string') {
    out.push(value);
    try {
      out.push(decodeURIComponent(value));
    } catch {
      // a malformed escape stays as it is
    }
    // A body or frame is sent as JSON text: its own strings (a room name) are the caller's too.
    if (/^\s*[[{]/.test(value)) {
      try {
        stringsIn(JSON.parse(value), out, depth + 1);
      } catch {
        // not JSON after all
      }
    }
  } else if (Array.isArray(value)) {
    for (const v of value.slice(0, 200)) stringsIn(v, out, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value).slice(0, 200)) {
      out.push(k);
      stringsIn(v, out, depth + 1);
    }
  }
  return out;
}

/**
 * Free-text fields the server stores and shows back: a room's name and a message's
 * content, file_url and media (seen by every member of the room: both fuzz users
 * share every fixture room), and the caller's own temp_id, device and key ids.
 */
// `message_type` is the client's own label, stored and shown back as sent (a send of
// `USER#fz_owner` as its type comes back as that type: an echo, not a key).
const SHARED_TEXT = new Set(['name', 'content', 'file_url', 'media', 'message_type']);
// A moderator's resolve note and suspension reason come back in the audit log and the
// closed reports, which only moderators (here: the one moderator who wrote them) read.
const OWN_TEXT = new Set([
  'temp_id',
  'device_id',
  'key_id',
  'token',
  'fingerprint',
  'note',
  'reason',
]);
/** Per user: whole string values (and media keys) they sent in a field that is echoed. */
const sentText = new Map<string, Set<string>>();
const sharedText = new Set<string>();
function rememberText(userId: string, body: unknown) {
  const own = sentText.get(userId) ?? new Set<string>();
  sentText.set(userId, own);
  const walk = (v: unknown, into: Set<string>, depth = 0) => {
    if (depth > 20) return;
    // Trimmed too: a suspension's reason is stored trimmed.
    if (typeof v === 'string') into.add(v).add(v.trim());
    else if (Array.isArray(v)) for (const x of v.slice(0, 200)) walk(x, into, depth + 1);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v).slice(0, 200)) {
        into.add(k);
        walk(x, into, depth + 1);
      }
  };
  if (!body || typeof body !== 'object' || Array.isArray(body)) return;
  for (const [field, value] of Object.entries(body)) {
    if (SHARED_TEXT.has(field)) walk(value, sharedText);
    if (OWN_TEXT.has(field)) walk(value, own);
  }
}
const legitimate = (userId: string, value: string) =>
  sharedText.has(value) || (sentText.get(userId)?.has(value) ?? false);

/** Key material inside a parsed answer: a key attribute name, or a key-shaped value not sent as text. */
function keyMaterial(
  value: unknown,
  userId: string,
  echoes: readonly string[],
  field = '',
  depth = 0,
): string | undefined {
  if (depth > 40) return undefined;
  if (typeof value === 'string') {
    // An error message may quote this request's own input (`Room ROOM#x not found`):
    // only there are this request's strings taken out before looking.
    let text = value;
    if (field === 'message') for (const echo of echoes) text = text.split(echo).join('');
    const found = KEY_TEXT.exec(JSON.stringify(text));
    return found && !legitimate(userId, value)
      ? `${found[0]} in ${JSON.stringify(value).slice(0, 80)}`
      : undefined;
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = keyMaterial(v, userId, echoes, field, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if ((KEY_ATTRIBUTE.test(k) || KEY_TEXT.test(k)) && !legitimate(userId, k))
        return `the key ${JSON.stringify(k)}`;
      const found = keyMaterial(v, userId, echoes, k, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * What must not leak. A stack trace or AWS error text is looked for with this
 * request's own strings taken out (an error may quote the caller's input); key
 * material is looked for in the parsed answer, everywhere, and forgiven only as
 * a whole value the caller sent as free text in a field that is shown back
 * (a group named `USER#fz_owner` comes back as its name) — never because some
 * earlier request happened to contain it.
 */
function leaks(answer: string, request: unknown, userId: string): string | undefined {
  let text = answer;
  const echoes = stringsIn(request)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .filter((s) => s.length >= 2)
    .sort((a, b) => b.length - a.length);
  for (const echo of echoes) text = text.split(echo).join('');
  for (const [what, pattern] of [
    ['a stack trace', STACK_TRACE],
    ['AWS error text', AWS_TEXT],
  ] as const) {
    const found = pattern.exec(text);
    if (found) return `${what} (${found[0]})`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch {
    const found = KEY_TEXT.exec(answer);
    return found ? `a key string (${found[0]})` : undefined;
  }
  const found = keyMaterial(parsed, userId, echoes);
  return found ? `key material (${found})` : undefined;
}

// ------------------------------------------------------------ arbitraries

const hostileStrings = fc.constantFrom(
  '',
  ' ',
  '%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '%2F..%2F',
  '..',
  '__proto__',
  'constructor',
  'toString',
  'prototype',
  'USER#fz_owner',
  'ROOM#x',
  'MSG#000000000001',
  'a#b',
  'x'.repeat(300),
  '\u0000',
  '\ud800',
  '\uffff',
  '😀',
  '<script>',
  "' OR 1=1 --",
  '{"pk":"USER#fz_owner"}',
  'null',
  '-1',
  '1e400',
);
/** Ids: the fixture's own (read when generated: they exist only after setup), near misses, hostile. */
const idLike = () =>
  fc.oneof(
    fc
      .constantFrom('roomId', 'messageId', 'deviceId', 'userId', 'fz_member', 'missing', 'zero')
      .map((k) =>
        k === 'fz_member'
          ? k
          : k === 'missing'
            ? `${known.roomId}.999999`
            : k === 'zero'
              ? `${known.roomId}.0`
              : known[k as 'roomId'],
      ),
    hostileStrings,
    fc.string({ maxLength: 40 }),
    fc.stringMatching(/^[0-9A-Za-z_-]{1,70}$/),
  );
const numberish = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1e200, -1e200, 1e-200, 2 ** 53 + 2, 1e-130, 100, 101, 1),
);
/** Nested JSON as raw text (up to thousands of levels, beyond what fc.jsonValue builds). */
const deepJson = fc
  .tuple(fc.integer({ min: 5, max: 5000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
      : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );
const mediaLike = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.oneof(hostileStrings, fc.string()), fc.oneof(numberish, fc.string())),
  fc.constant(JSON.parse('{"__proto__":{"polluted":true}}')),
  fc.constant({ '': 1 }),
  fc.constant({ constructor: { name: 'x' } }),
);
/** Any JSON value, biased to shapes the schemas meet. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 50 }),
  hostileStrings,
  numberish,
  fc.boolean(),
  fc.constant(null),
  fc.array(idLike(), { maxLength: 5 }),
  mediaLike,
);

const FIELDS: Record<string, () => fc.Arbitrary<unknown>> = {
  type: () => fc.oneof(fc.constantFrom('direct', 'group'), anyValue),
  name: () => fc.oneof(fc.string({ maxLength: 30 }), anyValue),
  member_ids: () => fc.oneof(fc.array(idLike(), { maxLength: 4 }), anyValue),
  user_ids: () => fc.oneof(fc.array(idLike(), { maxLength: 4 }), anyValue),
  content: () => fc.oneof(fc.string({ maxLength: 80 }), fc.constant('x'.repeat(10_001)), anyValue),
  temp_id: () => fc.oneof(fc.string({ maxLength: 20 }), anyValue),
  message_type: () => fc.oneof(fc.constantFrom('text', 'image'), anyValue),
  reply_to_message_id: () => idLike(),
  file_url: () =>
    fc.oneof(fc.constantFrom('https://x.example/y.jpg', 'javascript:alert(1)'), anyValue),
  media: () => mediaLike,
  is_encrypted: () => fc.oneof(fc.boolean(), anyValue),
  encryption_key_id: () => fc.oneof(fc.constant(known.keyId), anyValue),
  encrypted_content: () => fc.oneof(fc.base64String({ maxLength: 40 }), anyValue),
  target_room_ids: () => fc.oneof(fc.array(idLike(), { maxLength: 11 }), anyValue),
  room_ids: () => fc.oneof(fc.array(idLike(), { maxLength: 5 }), anyValue),
  is_archived: () => fc.oneof(fc.boolean(), anyValue),
  is_muted: () => fc.oneof(fc.boolean(), anyValue),
  muted_until: () =>
    fc.oneof(fc.constantFrom('2030-01-01T00:00:00.000Z', '2000-01-01T00:00:00Z'), anyValue),
  is_read: () => fc.oneof(fc.boolean(), anyValue),
  is_typing: () => fc.oneof(fc.boolean(), anyValue),
  last_read_message_id: () => idLike(),
  platform: () => fc.oneof(fc.constantFrom('apns', 'fcm'), anyValue),
  token: () => fc.oneof(fc.string({ minLength: 8, maxLength: 40 }), anyValue),
  public_key: () =>
    fc.oneof(
      fc.constant(PUBLIC_KEY),
      fc.constant(PUBLIC_KEY.replace('PUBLIC', 'PRIVATE')),
      anyValue,
    ),
  device_id: () => fc.oneof(fc.stringMatching(/^[a-z]{1,10}$/), anyValue),
  key_id: () =>
    fc.oneof(fc.constant(known.keyId), fc.stringMatching(/^[a-z0-9-]{1,10}$/), anyValue),
  expires_at: () => fc.oneof(fc.constant('2031-01-01T00:00:00.000Z'), anyValue),
  user_id: () => idLike(),
  fingerprint: () => fc.oneof(fc.stringMatching(/^[0-9A-F]{64}$/), anyValue),
  message_ids: () => fc.oneof(fc.array(idLike(), { maxLength: 4 }), anyValue),
  room_id: () => idLike(),
  since: () => fc.oneof(fc.string(), anyValue),
  attachment_ids: () =>
    fc.oneof(
      fc.constant([known.attachmentId]),
      fc.array(fc.oneof(fc.constant(known.attachmentId), idLike()), { maxLength: 11 }),
      anyValue,
    ),
  content_type: () =>
    fc.oneof(
      fc.constantFrom('image/png', 'application/octet-stream', 'text/html', 'IMAGE/PNG'),
      anyValue,
    ),
  size_bytes: () =>
    fc.oneof(
      fc.constantFrom(1, 16_000_000, 16_000_001, 100_000_001, 0, -1, 1.5, 2 ** 60),
      anyValue,
    ),
  file_name: () => fc.oneof(fc.constantFrom('a.png', 'a\nb', '../../etc/passwd'), anyValue),
  // Moderation (CONTRACT §9): a resolve's action and note, a suspension's reason and until.
  action: () =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('dismiss', 'remove_message', 'suspend_user') },
      { weight: 1, arbitrary: fc.constantFrom('DISMISS', 'suspend', 'lift_suspension') },
      { weight: 2, arbitrary: anyValue },
    ),
  note: () =>
    fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', 'x'.repeat(1001)), anyValue),
  reason: () =>
    fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom('spam', ' ', '\t\n', 'x'.repeat(1000), 'x'.repeat(1001)),
      anyValue,
    ),
  until: () =>
    fc.oneof(
      fc.constantFrom(
        null,
        '2030-01-01T00:00:00.000Z',
        '2030-01-01T00:00:00+02:00',
        '2030-01-01T00:00:00.123456789Z',
        '2030-02-31T00:00:00Z',
        '2030-06-30T23:59:60Z',
        '9999-12-31T23:59:59.999Z',
        '9999-12-31T23:59:59.999-23:59',
        '2000-01-01T00:00:00Z',
        '2030-01-01',
        '2030-01-01T00:00:00',
      ),
      fc
        .date({ min: new Date('1969-01-01'), max: new Date('9999-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      anyValue,
    ),
};
const FIELD_NAMES = Object.keys(FIELDS);

/** A body with some of `fields` (the route's own, mostly) and now and then a stranger. */
const validishBody = (fields: readonly string[]) =>
  fc
    .tuple(
      fc.subarray([...fields]),
      fc.subarray(FIELD_NAMES, { maxLength: 2 }),
      fc.constantFrom(...fields, ...FIELD_NAMES),
    )
    .chain(([mine, strangers, extra]) => {
      const names = [...new Set([...mine, ...strangers, extra])];
      return fc.record(Object.fromEntries(names.map((n) => [n, FIELDS[n]!()])), {
        requiredKeys: [],
      });
    });

let sends = 0;
let resolves = 0;
const RESOLVE_ACTIONS = ['dismiss', 'remove_message', 'suspend_user'] as const;
/** Bodies every route accepts as they are; the fuzzer changes one field at a time. */
const VALID: Record<string, () => Record<string, unknown>> = {
  'POST /api/chat/rooms': () => ({ type: 'group', name: 'g', member_ids: ['fz_member'] }),
  'POST /api/chat/rooms/{room_id}/members': () => ({ user_ids: ['fz_other'] }),
  // A fresh temp_id each time: a reused one is answered from the first send, unvalidated.
  'POST /api/chat/rooms/{room_id}/messages': () => ({ content: 'hello', temp_id: `t${++sends}` }),
  'POST /api/chat/messages/{message_id}/forward': () => ({ target_room_ids: [known.roomId] }),
  'PUT /api/chat/rooms/{room_id}/archive': () => ({ is_archived: false }),
  'PUT /api/chat/rooms/{room_id}/mute': () => ({ is_muted: false }),
  'PUT /api/chat/rooms/{room_id}/read-status': () => ({ is_read: true }),
  'PUT /api/chat/read-status': () => ({ room_ids: [known.roomId] }),
  'POST /api/chat/encryption/keys': () => ({
    public_key: PUBLIC_KEY,
    device_id: 'phone',
    key_id: known.keyId,
  }),
  'POST /api/chat/encryption/verify': () => ({
    user_id: known.userId,
    key_id: known.keyId,
    fingerprint: '00',
  }),
  'POST /api/chat/devices': () => ({ platform: 'fcm', token: 'fuzz-device-token' }),
  'POST /api/chat/rooms/{room_id}/attachments': () => ({
    content_type: 'image/png',
    size_bytes: 10,
  }),
  // Each action in turn, so a valid resolve (one per fresh report) tries all three.
  'POST /api/chat/moderation/reports/{report_id}/resolve': () => ({
    action: RESOLVE_ACTIONS[++resolves % RESOLVE_ACTIONS.length],
    note: 'fuzz resolve',
  }),
  'PUT /api/chat/moderation/users/{user_id}/suspension': () => ({
    reason: 'fuzz suspension',
    until: new Date(Date.now() + 86_400_000).toISOString(),
  }),
  'send-message': () => ({ room_id: known.roomId, content: 'hello', temp_id: `w${++sends}` }),
  'mark-messages-seen': () => ({ room_id: known.roomId, message_ids: [known.messageId] }),
  'room-archive': () => ({ room_id: known.roomId, is_archived: false }),
  typing: () => ({ room_id: known.roomId, is_typing: true }),
};

/** A valid body with one field replaced by a hostile or odd value, or dropped. */
const mutatedBody = (key: string, fields: readonly string[]) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...fields) },
        { weight: 1, arbitrary: fc.constantFrom(...FIELD_NAMES) },
      ),
      fc.boolean(),
      fc.nat({ max: 9 }),
    )
    .chain(([field, drop, n]) =>
      (drop && n === 0 ? fc.constant(undefined) : FIELDS[field]!()).map((value) => {
        const body = { ...(VALID[key]?.() ?? {}) };
        if (value === undefined) delete body[field];
        else body[field] = value;
        return body;
      }),
    );

/** A raw body: JSON of the route's shape, any JSON, or not JSON at all. */
const rawBody = (key: string, fields: readonly string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: mutatedBody(key, fields).map((b) => JSON.stringify(b)) },
    { weight: 3, arbitrary: validishBody(fields).map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: deepJson.map((d) => `{"media":${d},"content":"x","name":"n"}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        'not json',
        '[]',
        'null',
        '"str"',
        '{"__proto__":{"is_admin":true},"content":"x"}',
        '{"constructor":{"prototype":{"x":1}}}',
        `{"content":"${'x'.repeat(40_000)}"}`,
        '\u0000',
      ),
    },
  );

const QUERY_KEYS = [
  'limit',
  'cursor',
  'archived',
  'for_everyone',
  'room_id',
  'before',
  'since',
  'status',
];
const queryValue = fc.oneof(
  fc.constantFrom('0', '1', '50', '100', '101', '-1', '1.5', 'NaN', 'true', 'false', 'TRUE'),
  fc.constantFrom('open', 'closed', 'OPEN', 'resolved'),
  fc.constant(null).map(() => known.messageId),
  fc.constant(
    Buffer.from(JSON.stringify({ pk: 'USER#fz_member', sk: 'ROOM#x' })).toString('base64url'),
  ),
  fc.base64String({ maxLength: 60 }).map((s) => s.replace(/=/g, '')),
  hostileStrings,
  fc.string({ maxLength: 30 }),
);
const queryArb = fc.oneof(
  fc
    .dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 8 })), queryValue, {
      maxKeys: 4,
    })
    .map((q) => new URLSearchParams(q).toString()),
  fc.constantFrom('limit=%zz', 'cursor=%', '&&&=&', 'limit=1&limit=2', 'a[b]=1', ''),
);

const ROUTE_FIELDS: Record<string, readonly string[]> = {
  'POST /api/chat/rooms': ['type', 'name', 'member_ids'],
  'POST /api/chat/rooms/{room_id}/members': ['user_ids'],
  'POST /api/chat/rooms/{room_id}/messages': [
    'content',
    'temp_id',
    'message_type',
    'reply_to_message_id',
    'file_url',
    'media',
    'is_encrypted',
    'encryption_key_id',
    'encrypted_content',
    'attachment_ids',
  ],
  'POST /api/chat/rooms/{room_id}/attachments': [
    'content_type',
    'size_bytes',
    'file_name',
    'is_encrypted',
  ],
  'POST /api/chat/messages/{message_id}/forward': ['target_room_ids'],
  'PUT /api/chat/rooms/{room_id}/archive': ['is_archived'],
  'PUT /api/chat/rooms/{room_id}/mute': ['is_muted', 'muted_until'],
  'PUT /api/chat/rooms/{room_id}/read-status': ['is_read', 'last_read_message_id'],
  'PUT /api/chat/read-status': ['room_ids'],
  'POST /api/chat/encryption/keys': ['public_key', 'device_id', 'key_id', 'expires_at'],
  'POST /api/chat/encryption/verify': ['user_id', 'key_id', 'fingerprint'],
  'POST /api/chat/devices': ['platform', 'token'],
  'POST /api/chat/moderation/reports/{report_id}/resolve': ['action', 'note'],
  'PUT /api/chat/moderation/users/{user_id}/suspension': ['reason', 'until'],
};

/** The id a path parameter names when the request is to get past validation. */
const RIGHT_PARAM: Record<string, () => string> = {
  room_id: () => known.roomId,
  message_id: () => known.messageId,
  user_id: () => 'fz_member',
  device_id: () => known.deviceId,
  attachment_id: () => known.attachmentId,
  report_id: () => known.reportId,
};
/** On a moderators' route the user named is one to suspend: the throwaway suspect. */
const RIGHT_MODERATED_PARAM: Record<string, () => string> = { user_id: () => SUSPECT };

/** A path parameter: often the right id, else hostile, mostly encoded, sometimes raw. */
const pathParam = (name: string, moderated = false) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constant(
        ((moderated && RIGHT_MODERATED_PARAM[name]) || RIGHT_PARAM[name])?.() ?? 'x',
      ),
    },
    { weight: 2, arbitrary: hostileParam },
  );
/**
 * A moderator's user id, made safe: one that would name a protected user (idLike
 * draws fz_member and fz_owner; the id is trimmed) names the suspect instead.
 */
const unprotected = (param: string) =>
  PROTECTED_USERS.has(decodeSafe(param).trim()) ? SUSPECT : param;
const hostileParam = fc.tuple(idLike(), fc.boolean()).map(([value, raw]) => {
  const bare = value.replace(/[/?#\s]/g, '') || 'x';
  if (raw) return bare;
  try {
    return encodeURIComponent(value);
  } catch {
    return bare; // a lone surrogate has no encoding
  }
});

// ------------------------------------------------------------ HTTP

async function probe(
  method: string,
  template: string,
  params: string[],
  rawQuery: string,
  rawBody: string | undefined,
  who: ChatClient,
  fx: Fixture,
  /** A non-moderator on a moderators' route: refused 403 before anything else. */
  refused = false,
): Promise<number | undefined> {
  let i = 0;
  const path = resolve(
    template.replace(/\{[^}]+\}/g, () => params[i++] ?? 'x'),
    fx,
  );
  const query = resolve(rawQuery, fx);
  const body = rawBody === undefined ? undefined : resolve(rawBody, fx);
  const url = `${env.stack.httpUrl}${path}${query ? `?${query}` : ''}`;
  const request = { method, path, query, body };
  rememberText(who.userId, safeParse(body ?? ''));
  counts.requests++;
  const routeKey = `${method} ${template}`;
  statusTally[routeKey] ??= {};
  const tally = statusTally[routeKey];
  let status: number;
  let text: string;
  let retryAfter: string | null = null;
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    status = res.status;
    retryAfter = res.headers.get('retry-after');
    text = await res.text();
    tally[status] = (tally[status] ?? 0) + 1;
    if (process.env.FUZZ_VERBOSE)
      console.log(status, method, path, query, (body ?? '').slice(0, 200), text.slice(0, 200));
  } catch (error) {
    counts.unanswered++;
    violations.push(
      `${method} ${url}: no answer within ${ANSWER_TIMEOUT_MS} ms (${(error as Error).message})`,
    );
    return undefined;
  }
  const where = `${method} ${path}${query ? `?${query}` : ''} body=${(body ?? '').slice(0, 300)}`;
  if (status >= 500) {
    counts.status5xx++;
    violations.push(`${where} → ${status} ${text.slice(0, 200)}`);
    return status;
  }
  if (status === 429) {
    counts.rateLimited++;
    // Expected with limits on, and then well-formed: Retry-After and RATE_LIMITED.
    if (!limitsOn) violations.push(`${where} → 429 with rate limits off`);
    if (!/^\d+$/.test(retryAfter ?? '')) violations.push(`${where} → 429 without Retry-After`);
    if (!text.includes('"RATE_LIMITED"'))
      violations.push(`${where} → 429 not RATE_LIMITED: ${text.slice(0, 200)}`);
  }
  let envelope: { success?: unknown; error?: { code?: unknown } };
  try {
    envelope = JSON.parse(text);
  } catch {
    violations.push(`${where} → ${status} not JSON: ${text.slice(0, 100)}`);
    return status;
  }
  if (typeof envelope.success !== 'boolean') violations.push(`${where} → no envelope`);
  // (The gateway answers some requests itself, as API Gateway does: a path it matches to
  // no route (or to another route's methods), an empty or `..` segment; a body over the
  // limit; a malformed target or percent-escape in the path, local/http-gateway.ts.)
  const byGateway =
    (status === 404 && text.includes('No route for')) ||
    status === 405 ||
    status === 413 ||
    (status === 400 &&
      /Malformed request target|Malformed percent-encoding in the path/.test(text));
  if (refused && status !== 403 && !byGateway)
    violations.push(`${where} by ${who.userId}, not a moderator → ${status}, not 403`);
  const leak = leaks(
    text,
    { ...request, params: path.split('/').map((p) => decodeSafe(p)) },
    who.userId,
  );
  if (leak) violations.push(`${where} → ${status} leaks ${leak}: ${text.slice(0, 300)}`);
  return status;
}

/** Requests that, when they succeed, use up their fixture (a resolved report: a second is 409). */
const DESTRUCTIVE = new Set([
  'POST /api/chat/moderation/reports/{report_id}/resolve',
  'DELETE /api/chat/rooms/{room_id}',
  'DELETE /api/chat/rooms/{room_id}/members/{user_id}',
  'DELETE /api/chat/rooms/{room_id}/messages',
  'DELETE /api/chat/messages/{message_id}',
  'DELETE /api/chat/devices/{device_id}',
]);

const decodeSafe = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Runs per route: a base, and more for routes whose bodies have more fields to vary. */
const runsFor = (fields: readonly string[] | undefined) => 16 + 8 * (fields?.length ?? 0);

/** Every HTTP route, `runsFor` runs each (scaled), in parallel per route. */
async function fuzzHttp(scale: number) {
  const before = { requests: counts.requests, violations: violations.length };
  // Routes are fuzzed in parallel, each with its own sequence of requests.
  await Promise.all(
    httpRoutes.map(async (route) => {
      const key = `${route.method} ${route.path}`;
      let fx = await fixtureFor(key);
      let usedUp = false;
      const fields = ROUTE_FIELDS[key];
      const moderated = route.moderators === true;
      const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const arb = fc.record({
        params: fc.tuple(...names.map((name) => pathParam(name, moderated))),
        query: queryArb,
        body: fields ? rawBody(key, fields) : fc.constant(undefined),
        asMember: fc.boolean(),
        // On a moderators' route: one request in four from the owner or the member.
        asNonModerator: fc.nat({ max: 3 }).map((n) => n === 0),
      });
      return fc.assert(
        fc.asyncProperty(arb, async ({ params, query, body, asMember, asNonModerator }) => {
          if (usedUp && !limitsOn) fx = await renewFixture(key, fx);
          const plain = asMember ? member : owner;
          const who =
            key === 'DELETE /api/chat/me'
              ? eraser
              : moderated && !asNonModerator
                ? moderator
                : plain;
          const sent = moderated ? params.map(unprotected) : params;
          // A moderators' route refuses anyone else first: before validation, limits or lookups.
          const refused = moderated && who !== moderator;
          const status = await probe(route.method, route.path, sent, query, body, who, fx, refused);
          usedUp = DESTRUCTIVE.has(key) && status !== undefined && status < 300;
          return true;
        }),
        { numRuns: Math.ceil(runsFor(fields) * scale), seed: SEED },
      );
    }),
  );
  expect(violations.slice(before.violations).filter((v) => !v.startsWith('ws'))).toEqual([]);
  expect(counts.requests - before.requests).toBeGreaterThanOrEqual(
    httpRoutes.reduce(
      (n, r) => n + Math.ceil(runsFor(ROUTE_FIELDS[`${r.method} ${r.path}`]) * scale),
      0,
    ),
  );
}

// ---------------------------------------------------------- WebSocket

const FRAME_FIELDS: Record<string, readonly string[]> = {
  'send-message': [...ROUTE_FIELDS['POST /api/chat/rooms/{room_id}/messages']!, 'room_id'],
  'mark-messages-seen': ['room_id', 'message_ids'],
  'room-archive': ['room_id', 'is_archived'],
  sync: ['since'],
  ping: [],
  typing: ['room_id', 'is_typing'],
};

/** `numRuns` frames on one socket of the member, each followed by a marker that must be answered. */
async function fuzzFrames(numRuns: number) {
  const before = violations.length;
  const fx = await fixtureFor('ws');
  const socket = new WebSocket(`${env.stack.wsUrl}?token=${encodeURIComponent(member.token)}`);
  const frames: Frame[] = [];
  socket.on('message', (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const actions = [
    ...wsRoutes.map((r) => r.routeKey).filter((k) => !k.startsWith('$')),
    'no-such-action',
  ];
  const frameArb = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(fc.constantFrom(...actions), fc.constant(null)).chain(([action]) => {
        const fields = FRAME_FIELDS[action] ?? ['room_id'];
        return fc
          .oneof(mutatedBody(action, fields.length ? fields : ['room_id']), validishBody(fields))
          .map((b) => JSON.stringify({ action, ...(b as object) }));
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'not json',
        '[]',
        '{}',
        'null',
        '{"action":{"toString":1}}',
        '{"action":"__proto__"}',
        '{"action":"constructor"}',
        '{"action":"send-message","__proto__":{"room_id":"x"}}',
      ),
    },
    { weight: 1, arbitrary: deepJson.map((d) => `{"action":"send-message","media":${d}}`) },
  );
  let marker = 0;
  await fc.assert(
    fc.asyncProperty(frameArb, async (generated) => {
      const frame = resolve(generated, fx);
      expect(socket.readyState).toBe(WebSocket.OPEN);
      const from = frames.length;
      counts.frames++;
      socket.send(frame);
      // Each frame is followed by a marker whose answer comes after the frame's own.
      const tag = `marker-${++marker}`;
      socket.send(JSON.stringify({ action: tag }));
      rememberText(member.userId, safeParse(frame));
      const deadline = Date.now() + ANSWER_TIMEOUT_MS;
      const answered = () =>
        frames.slice(from).some((f) => f.event === 'error' && f.data.action === tag);
      while (!answered()) {
        if (Date.now() > deadline || socket.readyState !== WebSocket.OPEN) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      // No answer to the marker in time: the frame (or the marker behind it) was lost.
      if (!answered() && socket.readyState === WebSocket.OPEN) {
        counts.unanswered++;
        violations.push(`ws ${frame.slice(0, 300)} → no answer within ${ANSWER_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 30));
      const parsed = safeParse(frame) as Record<string, unknown> | undefined;
      for (const answer of frames.slice(from)) {
        const text = JSON.stringify(answer);
        if (answer.event === 'error' && answer.data.code === 'INTERNAL') {
          counts.internalErrors++;
          violations.push(`ws ${frame.slice(0, 300)} → ${text.slice(0, 200)}`);
        }
        if (answer.event === 'error' && answer.data.code === 'RATE_LIMITED') {
          counts.rateLimited++;
          const action = answer.data.action;
          if (!limitsOn)
            violations.push(`ws ${frame.slice(0, 300)} → RATE_LIMITED with limits off`);
          if (typeof action !== 'string')
            violations.push(`ws ${frame.slice(0, 300)} → RATE_LIMITED without its action`);
          // A refused send names its temp_id, so the client knows which to send again.
          const tempId = parsed && typeof parsed === 'object' ? parsed.temp_id : undefined;
          if (
            action === 'send-message' &&
            typeof tempId === 'string' &&
            tempId !== '' &&
            answer.data.temp_id !== tempId &&
            (parsed as { action?: unknown }).action === 'send-message'
          )
            violations.push(
              `ws ${frame.slice(0, 300)} → RATE_LIMITED without its temp_id: ${text}`,
            );
        }
        const leak = leaks(text, { frame, parsed }, member.userId);
        if (leak)
          violations.push(`ws ${frame.slice(0, 300)} → leaks ${leak}: ${text.slice(0, 300)}`);
      }
      if (socket.readyState !== WebSocket.OPEN) {
        violations.push(`ws ${frame.slice(0, 300)} → the socket closed`);
        return false;
      }
      return true;
    }),
    { numRuns, seed: SEED },
  );
  socket.terminate();
  expect(violations.slice(before).filter((v) => v.startsWith('ws'))).toEqual([]);
}

const RESERVED = ['__proto__', 'constructor', 'prototype'] as const;
/** A JSON object text with `key` as an own key (an object literal would set the prototype). */
const withKey = (base: Record<string, unknown>, key: string, value: unknown) =>
  `${JSON.stringify(base).slice(0, -1)}${Object.keys(base).length ? ',' : ''}${JSON.stringify(key)}:${JSON.stringify(value)}}`;

/**
 * Cases the draw reaches rarely or never, each with its own users so one cannot
 * hide another: what the audit found.
 */
function scenarios() {
  let n = 0;
  const users = async (...names: string[]) => {
    n++;
    return (await Promise.all(names.map((name) => env.client(`fz_${name}${n}`)))) as [
      ChatClient,
      ChatClient,
      ChatClient,
    ];
  };
  const group = async (admin: ChatClient, ...others: ChatClient[]) =>
    (
      await admin.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'scenario',
        member_ids: others.map((o) => o.userId),
      })
    ).body.data.id;
  const send = async (who: ChatClient, roomId: string, body: unknown) =>
    who.http<{ id: string; content: string }>('POST', `/api/chat/rooms/${roomId}/messages`, body);

  it('refuses reserved names in every id and map key with a 400, and stores none of them', async () => {
    const [a, b] = await users('rs_a', 'rs_b');
    const room = await group(a, b);
    const refused: string[] = [];
    // User ids follow the identity rule (only __proto__ is refused; a user called
    // `constructor` is a plain user), and an unknown body key is dropped, not stored: for
    // those a reserved name other than __proto__ need not be a 400, just never a 5xx.
    const expect400 = async (
      label: string,
      method: string,
      path: string,
      body?: string,
      strict = true,
    ) => {
      const answer = await a.http(method, path, body);
      counts.requests++;
      if (answer.status >= 500) violations.push(`reserved ${label} → ${answer.status}`);
      if (answer.status >= 500 || (strict && answer.status !== 400))
        refused.push(`${label} → ${answer.status}`);
    };
    for (const name of RESERVED) {
      await expect400(
        `device_id ${name}`,
        'POST',
        '/api/chat/encryption/keys',
        JSON.stringify({ public_key: PUBLIC_KEY, device_id: name, key_id: 'k1' }),
      );
      await expect400(
        `key_id ${name}`,
        'POST',
        '/api/chat/encryption/keys',
        JSON.stringify({ public_key: PUBLIC_KEY, device_id: 'phone', key_id: name }),
      );
      await expect400(
        `temp_id ${name}`,
        'POST',
        `/api/chat/rooms/${room}/messages`,
        JSON.stringify({ content: 'x', temp_id: name }),
      );
      await expect400(
        `media key ${name}`,
        'POST',
        `/api/chat/rooms/${room}/messages`,
        `{"content":"x","media":${withKey({ a: 1 }, name, 1)}}`,
      );
      await expect400(
        `nested media key ${name}`,
        'POST',
        `/api/chat/rooms/${room}/messages`,
        `{"content":"x","media":{"m":${withKey({}, name, { x: 1 })}}}`,
      );
      await expect400(
        `member id ${name}`,
        'POST',
        '/api/chat/rooms',
        JSON.stringify({ type: 'group', name: 'g', member_ids: [name] }),
        name === '__proto__',
      );
      await expect400(
        `added user id ${name}`,
        'POST',
        `/api/chat/rooms/${room}/members`,
        JSON.stringify({ user_ids: [name] }),
        name === '__proto__',
      );
      await expect400(
        `read-status room id ${name}`,
        'PUT',
        '/api/chat/read-status',
        JSON.stringify({ room_ids: [name] }),
      );
      await expect400(
        `body key ${name}`,
        'POST',
        `/api/chat/rooms/${room}/messages`,
        withKey({ content: 'x' }, name, { is_admin: true }),
        false,
      );
      // A room id in the path: refused (400) before any read.
      await expect400(`room id ${name}`, 'GET', `/api/chat/rooms/${name}`);
    }
    // Nothing under a reserved name reached the store: the key directory lists none.
    const keys = await a.http<unknown>('GET', `/api/chat/encryption/keys/${a.userId}`);
    const stored = JSON.stringify(keys.body).match(/"(__proto__|constructor|prototype)"/g) ?? [];
    expect({ notRefused: refused, storedKeys: stored }).toEqual({ notRefused: [], storedKeys: [] });
  });

  it('brings emoji, CJK and right-to-left text unchanged to a member who was offline', async () => {
    const [a, b] = await users('uc_a', 'uc_b');
    const room = await group(a, b);
    const texts = [
      'family 👩‍👩‍👧‍👦 flag 🇯🇵 skin 👍🏽 😀',
      '中文字符 日本語のテキスト 한국어',
      'مرحبا بالعالم עברית ‮reversed‬ mixed 123',
      '𝒜𝓁𝓅𝒽𝒶 \u200d zero-width \ufeff bom',
    ];
    const ids: string[] = [];
    for (const content of texts) {
      const sent = await send(a, room, { content });
      expect(sent.status).toBe(201);
      expect(sent.body.data.content).toBe(content);
      ids.push(sent.body.data.id);
    }
    // b was offline throughout: the queue brings them on connect, byte for byte.
    await b.connect();
    for (const [i, id] of ids.entries()) {
      const frame = await b.waitFor(
        'new-chat-message',
        (d) => (d.message as { id: string }).id === id,
        15_000,
      );
      expect((frame.data.message as { content: string }).content).toBe(texts[i]);
    }
    const page = await b.http<{ content: string }[] | { messages: { content: string }[] }>(
      'GET',
      `/api/chat/rooms/${room}/messages`,
    );
    const listed = JSON.stringify(page.body.data);
    for (const content of texts) expect(listed).toContain(JSON.stringify(content).slice(1, -1));
    await b.close();
  });

  it('confirms a resend whose media keys come in another order as the same message, not 409', async () => {
    const [a, b] = await users('md_a', 'md_b');
    const room = await group(a, b);
    const first = await send(a, room, {
      content: 'photo',
      temp_id: 'reorder-1',
      message_type: 'image',
      media: { width: 10, height: 20, meta: { x: 1, y: [1, 2], z: { p: 1, q: 2 } } },
    });
    expect(first.status).toBe(201);
    const again = await send(a, room, {
      media: { meta: { z: { q: 2, p: 1 }, y: [1, 2], x: 1 }, height: 20, width: 10 },
      message_type: 'image',
      temp_id: 'reorder-1',
      content: 'photo',
    });
    expect(again.status).toBe(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    // Over the WebSocket as well, against the HTTP send's receipt.
    await a.connect();
    a.send({
      action: 'send-message',
      room_id: room,
      temp_id: 'reorder-1',
      content: 'photo',
      message_type: 'image',
      media: { meta: { y: [1, 2], z: { q: 2, p: 1 }, x: 1 }, width: 10, height: 20 },
    });
    const confirmed = await a.waitFor(
      'message-confirmed',
      (d) => d.temp_id === 'reorder-1',
      10_000,
    );
    expect(confirmed.data.message_id).toBe(first.body.data.id);
    expect(a.eventsNamed('error').filter((f) => f.data.temp_id === 'reorder-1')).toEqual([]);
    await a.close();
  });

  it('sends a newcomer nothing from before their join: deletes, typing and seen receipts of older messages', async () => {
    const [a, b, c] = await users('nw_a', 'nw_b', 'nw_c');
    const room = await group(a, b);
    const old = (await send(a, room, { content: 'before c joined' })).body.data.id;
    const added = await a.http('POST', `/api/chat/rooms/${room}/members`, { user_ids: [c.userId] });
    expect(added.status).toBeLessThan(300);
    await c.connect();
    await b.connect();
    // b marks the old message seen, a deletes it: neither concerns c, who never saw it.
    b.send({ action: 'mark-messages-seen', room_id: room, message_ids: [old] });
    await a.http('DELETE', `/api/chat/messages/${old}`);
    // The positive marker: a message sent after both, which c must get, through the same fan-out.
    const marker = (await send(a, room, { content: 'after' })).body.data.id;
    await c.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === marker, 15_000);
    await b.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === marker, 15_000);
    expect(c.eventsNamed('message-deleted').filter((f) => f.data.message_id === old)).toEqual([]);
    expect(
      c.eventsNamed('messages-seen').filter((f) => JSON.stringify(f.data).includes(old)),
    ).toEqual([]);
    expect(
      c
        .eventsNamed('new-chat-message')
        .filter((f) => (f.data.message as { id: string }).id === old),
    ).toEqual([]);
    // Nor does sync from before the join give it.
    const synced = await c.http<{ events: Frame[] }>('GET', '/api/chat/sync');
    expect(JSON.stringify(synced.body.data ?? {})).not.toContain(`"${old}"`);
    await Promise.all([b.close(), c.close()]);
  });

  it('sends a leaver and a direct-room deleter nothing of the room after they left it', async () => {
    const [a, b, l] = await users('lv_a', 'lv_b', 'lv_l');
    const room = await group(a, b, l);
    const direct = (
      await a.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: [l.userId],
      })
    ).body.data.id;
    const other = await group(a, l);
    // l is online throughout, so nothing reaches them later through the offline queue.
    await l.connect();
    const kept = (await send(a, room, { content: 'before l left' })).body.data.id;
    const inDirect = (await send(a, direct, { content: 'direct, before the delete' })).body.data.id;
    for (const id of [kept, inDirect])
      await l.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === id, 15_000);
    const left = await l.http('DELETE', `/api/chat/rooms/${room}`);
    expect(left.status).toBeLessThan(300);
    const deleted = await l.http('DELETE', `/api/chat/rooms/${direct}`);
    expect(deleted.status).toBeLessThan(300);
    await l.waitFor('room-deleted', (d) => d.room_id === direct, 15_000);
    const since = l.frames.length;
    await b.connect();
    // After leaving: a deletes an old message, types, b marks it seen, a sends; in the
    // direct room a deletes the old message.
    await a.http('DELETE', `/api/chat/messages/${kept}`);
    await a.http('DELETE', `/api/chat/messages/${inDirect}`);
    b.send({ action: 'typing', room_id: room, is_typing: true });
    b.send({ action: 'mark-messages-seen', room_id: room, message_ids: [kept] });
    const after = (await send(a, room, { content: 'after l left' })).body.data.id;
    await b.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === after, 15_000);
    // The positive marker: a message in a room l is still in, sent after all of it.
    const marker = (await send(a, other, { content: 'marker' })).body.data.id;
    await l.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === marker, 15_000);
    const leaked = l.frames.slice(since).filter((f) => {
      const text = JSON.stringify(f.data);
      return (
        f.event !== 'room-member-removed' &&
        f.event !== 'room-deleted' &&
        (text.includes(room) || text.includes(direct))
      );
    });
    expect(leaked).toEqual([]);
    await Promise.all([b.close(), l.close()]);
  });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The suite, defined by each fuzz test file: the handlers run in the test's own
 * process and keep their clients, so each stack (limits off, limits on) gets a
 * file, and with it a fresh module graph, of its own.
 */
export function defineFuzz(options: { limitsOn: boolean }) {
  if (!options.limitsOn) {
    describe('fuzzing (rate limits off: every request reaches its handler)', () => {
      beforeAll(() => setUp(false), 120_000);
      afterAll(async () => env?.stop());

      it('answers every hostile or valid-ish HTTP request in time, without a 5xx or a leak', async () => {
        await fuzzHttp(1);
      }, 240_000);

      it('answers every hostile or valid-ish frame in time, without INTERNAL, a leak or a closed socket', async () => {
        await fuzzFrames(200);
      }, 240_000);

      describe('scenarios the draw cannot be trusted to reach', () => {
        scenarios();
      });
    });
    return;
  }
  describe('fuzzing with the default rate limits on (RATE_LIMITED is expected, well-formed, never 5xx)', () => {
    beforeAll(() => setUp(true), 120_000);
    afterAll(async () => env?.stop());

    it('answers HTTP requests in time: 429 with Retry-After and RATE_LIMITED, never 5xx or a leak', async () => {
      await fuzzHttp(0.25);
    }, 240_000);

    it('answers frames in time: RATE_LIMITED error frames name the action and temp_id, never INTERNAL', async () => {
      await fuzzFrames(80);
    }, 240_000);

    // The draw alone rarely empties a bucket: a burst of sends does, over both transports.
    it('refuses a burst of sends with well-formed RATE_LIMITED answers, each send answered, never 5xx', async () => {
      // A room of its own: the draw may have left the shared fixture without its member.
      const burster = await env.client('fz_burst');
      const direct = await needed<{ id: string }>(burster, 'POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['fz_burst_peer'],
      });
      const fx: Fixture = {
        roomId: direct.body.data.id,
        messageId: '',
        deviceId: '',
        attachmentId: '',
        reportId: '',
      };
      const before = { limited: counts.rateLimited, violations: violations.length };
      const statuses = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          probe(
            'POST',
            '/api/chat/rooms/{room_id}/messages',
            [fx.roomId],
            '',
            JSON.stringify({ content: 'burst', temp_id: `hb${i}` }),
            burster,
            fx,
          ),
        ),
      );
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === undefined || s >= 500)).toEqual([]);

      const conn = burster;
      await conn.connect();
      const tempIds = Array.from({ length: 130 }, (_, i) => `wb${i}`);
      for (const temp_id of tempIds)
        conn.send({ action: 'send-message', room_id: fx.roomId, content: 'burst', temp_id });
      counts.frames += tempIds.length;
      const answerOf = (t: string) =>
        conn.frames.find(
          (f) => (f.event === 'message-confirmed' || f.event === 'error') && f.data.temp_id === t,
        );
      const deadline = Date.now() + ANSWER_TIMEOUT_MS * 2;
      while (tempIds.some((t) => !answerOf(t)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const answers = tempIds.map((t) => [t, answerOf(t)] as const);
      for (const [t, answer] of answers) {
        if (!answer) {
          counts.unanswered++;
          violations.push(`ws send-message ${t} → no answer (neither confirmed nor refused)`);
        } else if (answer.event === 'error') {
          if (answer.data.code === 'RATE_LIMITED') counts.rateLimited++;
          else violations.push(`ws send-message ${t} → ${JSON.stringify(answer.data)}`);
          if (answer.data.action !== 'send-message')
            violations.push(`ws send-message ${t} → refused without its action`);
        }
      }
      await conn.close();
      expect(answers.filter(([, a]) => a?.event === 'error').length).toBeGreaterThan(0);
      expect(counts.rateLimited).toBeGreaterThan(before.limited);
      expect(violations.slice(before.violations)).toEqual([]);
    }, 120_000);
  });
}
