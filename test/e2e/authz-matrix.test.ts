import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { httpRoutes, wsRoutes } from '#functions/routes.ts';
import { LOCAL_AUDIENCE } from '#local/issuer.ts';
import type { ChatClient, Frame } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * The authorization matrix (issue 11): every HTTP route and every WebSocket
 * action against every kind of caller, each cell asserting the exact status and
 * error code the contract gives. Token cells: no token, malformed, expired,
 * wrong issuer, wrong audience, `alg: none`, wrong signature. Role cells: a
 * non-member, a member, an admin, a removed member, and users whose ids are
 * JavaScript built-in names. A summary line gives passed/total cells.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;

beforeAll(async () => {
  env = await startStack();
  await buildWorld();
}, 120_000);

let passed = 0;
const failedCells: string[] = [];
let total = 0;
afterAll(async () => {
  console.log(
    `authorization matrix: cells passed ${passed} of ${total}` +
      (failedCells.length ? ` (failing: ${failedCells.join(' | ')})` : ''),
  );
  await env?.stop();
});

/** Registers one cell as its own test and counts it for the summary. */
function cell(name: string, run: () => Promise<void>) {
  total++;
  it(name, async () => {
    try {
      await run();
      passed++;
    } catch (error) {
      failedCells.push(name);
      throw error;
    }
  });
}

// ---------------------------------------------------------------- callers

const BUILT_IN_IDS = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];
type Role = 'non-member' | 'member' | 'admin' | 'removed' | `built-in ${string}`;
const ROLES: Role[] = [
  'non-member',
  'member',
  'admin',
  'removed',
  ...BUILT_IN_IDS.map((id) => `built-in ${id}` as const),
];
type RoleClass = 'outsider' | 'member' | 'admin';
const classOf = (role: Role): RoleClass =>
  role === 'member' ? 'member' : role === 'admin' ? 'admin' : 'outsider';
/**
 * `__proto__` cannot be a key of a stored map (the SDK's marshaller drops it),
 * so no token may name it: its every request is 401, its upgrade refused.
 */
const UNREPRESENTABLE: Role = 'built-in __proto__';

const TOKEN_KINDS = [
  'no token',
  'malformed',
  'expired',
  'wrong issuer',
  'wrong audience',
  'alg none',
  'wrong signature',
] as const;
type TokenKind = (typeof TOKEN_KINDS)[number];

let strangerKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'] | undefined;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token that must be refused; every other claim is valid, so only the named flaw is tested. */
async function badToken(kind: TokenKind, sub: string): Promise<string | undefined> {
  const issuer = `${env.stack.httpUrl}/local`;
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, name: sub, iss: issuer, aud: LOCAL_AUDIENCE, iat: now, exp: now + 600 };
  switch (kind) {
    case 'no token':
      return undefined;
    case 'malformed':
      return 'not.a.jwt';
    case 'expired':
      return env.stack.issueToken(sub, sub, { expiresInSeconds: -60 });
    case 'wrong issuer':
      return env.stack.issueToken(sub, sub, { issuer: 'https://issuer.evil.example' });
    case 'wrong audience':
      return env.stack.issueToken(sub, sub, { audience: 'another-app' });
    case 'alg none':
      return `${b64({ alg: 'none', typ: 'JWT', kid: 'local-dev-key' })}.${b64(claims)}.`;
    case 'wrong signature': {
      // A key of the right type and kid that the issuer never published.
      strangerKey ??= (await generateKeyPair('RS256')).privateKey;
      return new SignJWT({ name: sub })
        .setProtectedHeader({ alg: 'RS256', kid: 'local-dev-key', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(LOCAL_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(strangerKey);
    }
  }
}

interface Answer {
  status: number;
  body: { success?: boolean; error?: { code?: string } } & Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${env.stack.httpUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** [status, error code] for a refusal, [status] for a success. */
type Expect = readonly [number, string?];
const OK: Expect = [200];
const CREATED: Expect = [201];
const FORBIDDEN: Expect = [403, 'FORBIDDEN'];
const NOT_FOUND: Expect = [404, 'NOT_FOUND'];
const UNAUTHORIZED: Expect = [401, 'UNAUTHORIZED'];
const VALIDATION: Expect = [400, 'VALIDATION_ERROR'];

function expectAnswer(answer: Answer, [status, code]: Expect) {
  expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status, code });
  expect(answer.body.success).toBe(code === undefined);
}

// ---------------------------------------------------------------- the world

/**
 * One group room: created by the admin with the member and the removed member
 * (then removed by the admin), messages from each, spare members and messages
 * so each cell acts on its own target.
 */
interface Fixture {
  tag: string;
  roomId: string;
  callers: Map<Role, ChatClient>;
  /** A spare member per role, for remove-member cells. */
  spareMember: Map<Role, string>;
  /** An admin message per role, for delete cells (the removed member's is their own). */
  deletable: Map<Role, string>;
  sourceMessageId: string;
  /** A room each caller belongs to alone: the forward target. */
  ownRoom: Map<Role, string>;
  adminKey: { key_id: string; fingerprint: string };
  /** The member's devices: the first is theirs to delete; others try the second. */
  memberDevices: [string, string];
  /** A sync cursor issued to the member: it opens for them only. */
  memberSince: string;
}

let world: Fixture;

async function clientFor(role: Role, tag: string): Promise<ChatClient> {
  if (role.startsWith('built-in ')) return env.client(role.slice('built-in '.length));
  const short = { 'non-member': 'out', member: 'mem', admin: 'adm', removed: 'rem' }[
    role as 'non-member'
  ];
  return env.client(`${tag}-${short}`);
}

async function ok<T = Record<string, unknown>>(
  client: ChatClient,
  method: string,
  path: string,
  body?: unknown,
) {
  const res = await client.http<T>(method, path, body);
  if (res.status >= 300)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

async function baseRoom(tag: string, extraMembers: string[] = []) {
  const callers = new Map<Role, ChatClient>(
    await Promise.all(
      ROLES.map(async (r): Promise<[Role, ChatClient]> => [r, await clientFor(r, tag)]),
    ),
  );
  const admin = callers.get('admin')!;
  const member = callers.get('member')!;
  const removed = callers.get('removed')!;
  const room = await ok<{ id: string }>(admin, 'POST', '/api/chat/rooms', {
    type: 'group',
    name: `room ${tag}`,
    member_ids: [member.userId, removed.userId, ...extraMembers],
  });
  const removedMessage = await ok<{ id: string }>(
    removed,
    'POST',
    `/api/chat/rooms/${room.id}/messages`,
    { content: 'before I was removed' },
  );
  await ok(admin, 'POST', `/api/chat/rooms/${room.id}/messages`, { content: 'hello' });
  await ok(member, 'POST', `/api/chat/rooms/${room.id}/messages`, { content: 'hi' });
  await ok(admin, 'DELETE', `/api/chat/rooms/${room.id}/members/${removed.userId}`);
  return { roomId: room.id, callers, removedMessageId: removedMessage.id };
}

const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`;

async function buildWorld() {
  const tag = 'mx';
  const spareMember = new Map(ROLES.map((r) => [r, `${tag}-spare-${ROLES.indexOf(r)}`]));
  const { roomId, callers, removedMessageId } = await baseRoom(tag, [...spareMember.values()]);
  const admin = callers.get('admin')!;
  const deletable = new Map<Role, string>(
    await Promise.all(
      ROLES.map(
        async (role): Promise<[Role, string]> => [
          role,
          role === 'removed'
            ? removedMessageId
            : (
                await ok<{ id: string }>(admin, 'POST', `/api/chat/rooms/${roomId}/messages`, {
                  content: `delete me (${role})`,
                })
              ).id,
        ],
      ),
    ),
  );
  const source = await ok<{ id: string }>(admin, 'POST', `/api/chat/rooms/${roomId}/messages`, {
    content: 'forward me',
  });
  const ownRoom = new Map<Role, string>(
    await Promise.all(
      ROLES.filter((r) => r !== UNREPRESENTABLE).map(async (role): Promise<[Role, string]> => {
        const own = await ok<{ id: string }>(callers.get(role)!, 'POST', '/api/chat/rooms', {
          type: 'group',
          name: 'just me',
          member_ids: [],
        });
        return [role, own.id];
      }),
    ),
  );
  const adminKey = await ok<{ key_id: string; fingerprint: string }>(
    admin,
    'POST',
    '/api/chat/encryption/keys',
    { public_key: PUBLIC_KEY, device_id: 'phone', key_id: 'adm-key-1' },
  );
  const member = callers.get('member')!;
  const devices = [];
  for (const n of [1, 2]) {
    devices.push(
      (
        await ok<{ device_id: string }>(member, 'POST', '/api/chat/devices', {
          platform: 'fcm',
          token: `member-phone-${n}-token`,
        })
      ).device_id,
    );
  }
  const memberSince = (await ok<{ next_since: string }>(member, 'GET', '/api/chat/sync'))
    .next_since;
  world = {
    memberSince,
    tag,
    roomId,
    callers,
    spareMember,
    deletable,
    sourceMessageId: source.id,
    ownRoom,
    adminKey,
    memberDevices: [devices[0]!, devices[1]!],
  };
}

// ---------------------------------------------------------------- HTTP routes

interface RouteCase {
  /** As in functions/routes.ts. */
  method: string;
  path: string;
  variant?: string;
  /**
   * Destructive: a member's or admin's cell, which succeeds, runs on a room of
   * its own. Outsiders' cells, which must fail, share the common room.
   */
  fresh?: boolean;
  request(role: Role, fx: Fixture): { path: string; body?: unknown };
  expect: Record<RoleClass, Expect>;
  check?(answer: Answer, role: Role, fx: Fixture): void;
}

const room = (fx: Fixture) => `/api/chat/rooms/${fx.roomId}`;
const roomScoped = (success: Expect): Record<RoleClass, Expect> => ({
  outsider: FORBIDDEN,
  member: success,
  admin: success,
});

const ROUTE_CASES: RouteCase[] = [
  {
    method: 'POST',
    path: '/api/chat/rooms',
    request: () => ({
      path: '/api/chat/rooms',
      body: { type: 'group', name: 'another', member_ids: [] },
    }),
    expect: { outsider: CREATED, member: CREATED, admin: CREATED },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms',
    request: () => ({ path: '/api/chat/rooms?limit=100' }),
    expect: { outsider: OK, member: OK, admin: OK },
    check: (answer, role, fx) => {
      const ids = (answer.body.data as { rooms: { id: string }[] }).rooms.map((r) => r.id);
      expect(ids.includes(fx.roomId)).toBe(classOf(role) !== 'outsider');
    },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}',
    request: (_r, fx) => ({ path: room(fx) }),
    expect: roomScoped(OK),
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/members',
    request: (role, fx) => ({
      path: `${room(fx)}/members`,
      body: { user_ids: [`${fx.tag}-newcomer-${ROLES.indexOf(role)}`] },
    }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK },
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/members/{user_id}',
    request: (role, fx) => ({ path: `${room(fx)}/members/${fx.spareMember.get(role)}` }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}/messages',
    request: (_r, fx) => ({ path: `${room(fx)}/messages` }),
    expect: roomScoped(OK),
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/messages',
    request: (_r, fx) => ({ path: `${room(fx)}/messages`, body: { content: 'cell' } }),
    expect: roomScoped(CREATED),
  },
  {
    method: 'DELETE',
    path: '/api/chat/messages/{message_id}',
    request: (role, fx) => ({ path: `/api/chat/messages/${fx.deletable.get(role)}` }),
    // Only the sender deletes; a removed member no longer may, even their own message.
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK },
  },
  {
    method: 'POST',
    path: '/api/chat/messages/{message_id}/forward',
    request: (role, fx) => ({
      path: `/api/chat/messages/${fx.sourceMessageId}/forward`,
      body: { target_room_ids: [fx.ownRoom.get(role)] },
    }),
    expect: roomScoped(OK),
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}',
    fresh: true,
    request: (_r, fx) => ({ path: room(fx) }),
    expect: roomScoped(OK),
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/messages',
    variant: 'for me',
    fresh: true,
    request: (_r, fx) => ({ path: `${room(fx)}/messages` }),
    expect: roomScoped(OK),
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/messages',
    variant: 'for everyone',
    fresh: true,
    request: (_r, fx) => ({ path: `${room(fx)}/messages?for_everyone=true` }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK },
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/archive',
    request: (_r, fx) => ({ path: `${room(fx)}/archive`, body: { is_archived: false } }),
    expect: roomScoped(OK),
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/mute',
    request: (_r, fx) => ({ path: `${room(fx)}/mute`, body: { is_muted: false } }),
    expect: roomScoped(OK),
  },
  {
    method: 'GET',
    path: '/api/chat/unread-count',
    variant: 'one room',
    request: (_r, fx) => ({ path: `/api/chat/unread-count?room_id=${fx.roomId}` }),
    expect: roomScoped(OK),
  },
  {
    method: 'GET',
    path: '/api/chat/unread-count',
    variant: 'all rooms',
    request: () => ({ path: '/api/chat/unread-count' }),
    expect: { outsider: OK, member: OK, admin: OK },
    check: (answer, role, fx) => {
      const text = JSON.stringify(answer.body.data);
      expect(text.includes(fx.roomId)).toBe(classOf(role) !== 'outsider');
    },
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/read-status',
    request: (_r, fx) => ({ path: `${room(fx)}/read-status`, body: { is_read: true } }),
    expect: roomScoped(OK),
  },
  {
    method: 'PUT',
    path: '/api/chat/read-status',
    request: (_r, fx) => ({ path: '/api/chat/read-status', body: { room_ids: [fx.roomId] } }),
    expect: roomScoped(OK),
  },
  {
    method: 'POST',
    path: '/api/chat/encryption/keys',
    request: (role) => ({
      path: '/api/chat/encryption/keys',
      body: { public_key: PUBLIC_KEY, device_id: 'tablet', key_id: `k-${ROLES.indexOf(role)}` },
    }),
    expect: { outsider: OK, member: OK, admin: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/encryption/keys/{user_id}',
    request: (_r, fx) => ({
      path: `/api/chat/encryption/keys/${fx.callers.get('admin')!.userId}`,
    }),
    // Keys are read by the owner and those who share a room with them; others learn nothing.
    expect: { outsider: NOT_FOUND, member: OK, admin: OK },
  },
  {
    method: 'POST',
    path: '/api/chat/encryption/verify',
    request: (_r, fx) => ({
      path: '/api/chat/encryption/verify',
      body: {
        user_id: fx.callers.get('admin')!.userId,
        key_id: fx.adminKey.key_id,
        fingerprint: fx.adminKey.fingerprint,
      },
    }),
    expect: { outsider: NOT_FOUND, member: OK, admin: OK },
  },
  {
    method: 'POST',
    path: '/api/chat/devices',
    request: (role) => ({
      path: '/api/chat/devices',
      body: { platform: 'apns', token: `cell-device-${ROLES.indexOf(role)}-token` },
    }),
    expect: { outsider: CREATED, member: CREATED, admin: CREATED },
  },
  {
    method: 'DELETE',
    path: '/api/chat/devices/{device_id}',
    // The member deletes their own device; anyone else naming the member's other device finds nothing.
    request: (role, fx) => ({
      path: `/api/chat/devices/${fx.memberDevices[role === 'member' ? 0 : 1]}`,
    }),
    expect: { outsider: NOT_FOUND, member: OK, admin: NOT_FOUND },
  },
  {
    method: 'GET',
    path: '/api/chat/sync',
    variant: 'first cursor',
    request: () => ({ path: '/api/chat/sync' }),
    expect: { outsider: OK, member: OK, admin: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/sync',
    variant: "the member's cursor",
    request: (_r, fx) => ({ path: `/api/chat/sync?since=${encodeURIComponent(fx.memberSince)}` }),
    // A cursor is bound to the user it was issued to: anyone else's use of it is malformed.
    expect: { outsider: VALIDATION, member: OK, admin: VALIDATION },
  },
  // The caller's own settings: anyone signed in, about themselves only.
  {
    method: 'GET',
    path: '/api/chat/me/settings',
    request: () => ({ path: '/api/chat/me/settings' }),
    expect: { outsider: OK, member: OK, admin: OK },
  },
  {
    method: 'PUT',
    path: '/api/chat/me/settings',
    // The default again, so no other cell's add is refused.
    request: () => ({ path: '/api/chat/me/settings', body: { who_can_add_me: 'everyone' } }),
    expect: { outsider: OK, member: OK, admin: OK },
  },
];

const freshFixtures = new Map<string, Fixture>();
let freshCount = 0;
/** A room of its own for one destructive cell, with the same cast. */
async function freshFixture(): Promise<Fixture> {
  const tag = `fx${++freshCount}`;
  const { roomId, callers } = await baseRoom(tag);
  const fx = { ...world, tag, roomId, callers: new Map(world.callers) };
  for (const role of ['admin', 'member', 'removed'] as const)
    fx.callers.set(role, callers.get(role)!);
  freshFixtures.set(tag, fx);
  return fx;
}

const label = (c: RouteCase) => `${c.method} ${c.path}${c.variant ? ` (${c.variant})` : ''}`;

describe('HTTP routes × tokens', () => {
  for (const route of ROUTE_CASES.filter(
    (c) => !c.variant || ['one room', 'first cursor'].includes(c.variant),
  )) {
    for (const kind of TOKEN_KINDS) {
      cell(`${label(route)} × ${kind} → 401`, async () => {
        const { path, body } = route.request('member', world);
        const answer = await call(route.method, path, await badToken(kind, 'mx-mem'), body);
        expectAnswer(answer, UNAUTHORIZED);
      });
    }
  }
});

describe('HTTP routes × callers', () => {
  for (const route of ROUTE_CASES) {
    for (const role of ROLES) {
      const expected = role === UNREPRESENTABLE ? UNAUTHORIZED : route.expect[classOf(role)];
      cell(`${label(route)} × ${role} → ${expected.join(' ')}`, async () => {
        const fx = route.fresh && classOf(role) !== 'outsider' ? await freshFixture() : world;
        const client = fx.callers.get(role)!;
        const { path, body } = route.request(role, fx);
        const answer = await call(route.method, path, client.token, body);
        expectAnswer(answer, expected);
        if (answer.status < 300) route.check?.(answer, role, fx);
      });
    }
  }

  it('has a row for every route in the route table', () => {
    const covered = new Set(ROUTE_CASES.map((c) => `${c.method} ${c.path}`));
    expect(httpRoutes.map((r) => `${r.method} ${r.path}`).filter((r) => !covered.has(r))).toEqual(
      [],
    );
  });
});

// ---------------------------------------------------------------- WebSocket

function openSocket(token: string | undefined): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const url = token ? `${env.stack.wsUrl}?token=${encodeURIComponent(token)}` : env.stack.wsUrl;
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  socket.on('message', (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, frames }));
    socket.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }),
      );
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

interface ActionCase {
  action: string;
  variant?: string;
  frame(fx: Fixture, n: number): Record<string, unknown>;
  /** The event that answers the caller when the action is allowed. */
  success: string | null;
  expect: Record<RoleClass, 'ok' | string>;
}

const ACTION_CASES: ActionCase[] = [
  {
    action: 'send-message',
    frame: (fx, n) => ({ room_id: fx.roomId, content: 'ws cell', temp_id: `cell-${n}` }),
    success: 'message-confirmed',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok' },
  },
  {
    action: 'mark-messages-seen',
    frame: (fx) => ({ room_id: fx.roomId, message_ids: [fx.sourceMessageId] }),
    success: 'unread-count-update',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok' },
  },
  {
    action: 'room-archive',
    frame: (fx) => ({ room_id: fx.roomId, is_archived: false }),
    success: 'room-archived',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok' },
  },
  {
    action: 'ping',
    frame: () => ({}),
    success: 'pong',
    expect: { outsider: 'ok', member: 'ok', admin: 'ok' },
  },
  {
    // Without `since`, sync answers nothing: it flushes what is pending. No error is the pass.
    action: 'sync',
    frame: () => ({}),
    success: null,
    expect: { outsider: 'ok', member: 'ok', admin: 'ok' },
  },
  {
    action: 'sync',
    variant: "with the member's cursor",
    frame: (fx) => ({ since: fx.memberSince }),
    success: 'sync-result',
    expect: { outsider: 'VALIDATION_ERROR', member: 'ok', admin: 'VALIDATION_ERROR' },
  },
  {
    // Only members may type; the sender gets no answer, the others `user-typing`.
    action: 'typing',
    frame: (fx) => ({ room_id: fx.roomId, is_typing: true }),
    success: null,
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok' },
  },
];

/** The caller's answer to `action`: 'ok', an error code, or 'closed'. */
async function answerTo(
  conn: { socket: WebSocket; frames: Frame[] },
  action: string,
  success: string | null,
  from: number,
): Promise<string> {
  const deadline = Date.now() + 5000;
  let quietUntil: number | undefined;
  while (Date.now() < deadline) {
    const fresh = conn.frames.slice(from);
    const error = fresh.find((f) => f.event === 'error' && f.data.action === action);
    if (error) return String(error.data.code);
    if (success && fresh.some((f) => f.event === success)) return 'ok';
    if (conn.socket.readyState !== WebSocket.OPEN) return 'closed';
    // An action with no answer of its own passes when a ping sent after it is answered
    // and no error for it follows shortly.
    if (!success && quietUntil === undefined && fresh.some((f) => f.event === 'pong')) {
      quietUntil = Date.now() + 250;
    }
    if (quietUntil !== undefined && Date.now() > quietUntil) return 'ok';
    await new Promise((r) => setTimeout(r, 25));
  }
  return 'no answer';
}

describe('WebSocket $connect × tokens', () => {
  for (const kind of TOKEN_KINDS) {
    cell(`$connect × ${kind} → upgrade refused 401`, async () => {
      const token = await badToken(kind, 'mx-mem');
      const refused = await openSocket(token).then(
        ({ socket }) => {
          socket.terminate();
          return 'opened';
        },
        (error: { status?: number }) => error.status,
      );
      expect(refused).toBe(401);
    });
  }
  cell(`$connect × ${UNREPRESENTABLE} → upgrade refused 401`, async () => {
    const refused = await openSocket(world.callers.get(UNREPRESENTABLE)!.token).then(
      ({ socket }) => {
        socket.terminate();
        return 'opened';
      },
      (error: { status?: number }) => error.status,
    );
    expect(refused).toBe(401);
  });
  cell('$connect × member (token in Sec-WebSocket-Protocol) → opens', async () => {
    const client = world.callers.get('member')!;
    const socket = new WebSocket(env.stack.wsUrl, ['chat', client.token]);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
      socket.once('unexpected-response', (_q, res) => reject(new Error(`${res.statusCode}`)));
    });
    socket.terminate();
  });
});

describe('WebSocket actions × callers', () => {
  const sockets = new Map<Role, { socket: WebSocket; frames: Frame[] }>();
  afterAll(() => {
    for (const conn of sockets.values()) conn.socket.terminate();
  });
  let n = 0;
  for (const action of ACTION_CASES) {
    for (const role of ROLES.filter((r) => r !== UNREPRESENTABLE)) {
      const expected = action.expect[classOf(role)];
      const name = `${action.action}${action.variant ? ` (${action.variant})` : ''}`;
      cell(`${name} × ${role} → ${expected}`, async () => {
        let conn = sockets.get(role);
        if (!conn) {
          conn = await openSocket(world.callers.get(role)!.token);
          sockets.set(role, conn);
        }
        const from = conn.frames.length;
        conn.socket.send(JSON.stringify({ action: action.action, ...action.frame(world, ++n) }));
        if (!action.success) conn.socket.send(JSON.stringify({ action: 'ping' }));
        expect(await answerTo(conn, action.action, action.success, from)).toBe(expected);
      });
    }
  }

  it('has a row for every client action in the route table', () => {
    const covered = new Set(ACTION_CASES.map((c) => c.action));
    const actions = wsRoutes.map((r) => r.routeKey).filter((k) => !k.startsWith('$'));
    expect(actions.filter((a) => !covered.has(a))).toEqual([]);
  });
});

describe('WebSocket actions × a token that expired while connected', () => {
  let conn: { socket: WebSocket; frames: Frame[] } | undefined;
  beforeAll(async () => {
    const token = await env.stack.issueToken('mx-mem', 'Member', { expiresInSeconds: 2 });
    conn = await openSocket(token);
    await new Promise((r) => setTimeout(r, 3500));
  });
  afterAll(() => conn?.socket.terminate());
  for (const action of ACTION_CASES) {
    const name = `${action.action}${action.variant ? ` (${action.variant})` : ''}`;
    cell(`${name} × expired while connected → closed or UNAUTHORIZED`, async () => {
      const from = conn!.frames.length;
      if (conn!.socket.readyState === WebSocket.OPEN) {
        conn!.socket.send(JSON.stringify({ action: action.action, ...action.frame(world, 0) }));
        if (!action.success) conn!.socket.send(JSON.stringify({ action: 'ping' }));
      }
      // Closed (or closing) by the server, or the frame refused: either way nothing ran.
      expect(['closed', 'UNAUTHORIZED']).toContain(
        await answerTo(conn!, action.action, action.success, from),
      );
    });
  }
});
