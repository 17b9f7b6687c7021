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
 * non-member, a member, an admin, a removed member, a leaver (left the group),
 * a newcomer (added after messages were sent), a room-deleter (deleted their
 * direct room with the admin: their room-scoped cells target it), and users
 * whose ids are JavaScript built-in names. Besides answers, what each caller
 * hears: live events and sync about messages they could not see (issue 21).
 * A summary line gives passed/total cells.
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
type Role =
  | 'non-member'
  | 'member'
  | 'admin'
  | 'removed'
  | 'leaver'
  | 'newcomer'
  | 'room-deleter'
  | `built-in ${string}`;
const ROLES: Role[] = [
  'non-member',
  'member',
  'admin',
  'removed',
  'leaver',
  'newcomer',
  'room-deleter',
  ...BUILT_IN_IDS.map((id) => `built-in ${id}` as const),
];
/** `gone`: a member of a room they deleted (a direct room), which is 404 for them until a new message. */
type RoleClass = 'outsider' | 'member' | 'admin' | 'gone';
const classOf = (role: Role): RoleClass =>
  role === 'member' || role === 'newcomer'
    ? 'member'
    : role === 'admin'
      ? 'admin'
      : role === 'room-deleter'
        ? 'gone'
        : 'outsider';
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
const ACCEPTED: Expect = [202];

function expectAnswer(answer: Answer, [status, code]: Expect) {
  expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status, code });
  expect(answer.body.success).toBe(code === undefined);
}

// ---------------------------------------------------------------- the world

/**
 * One group room: created by the admin with the member, the removed member
 * (then removed by the admin) and the leaver (then gone), messages from each;
 * the newcomer added after those. The room-deleter's direct room with the admin,
 * with messages from both, deleted by the room-deleter. Spare members and
 * messages so each cell acts on its own target.
 */
interface Fixture {
  tag: string;
  roomId: string;
  /** The room-deleter's direct room with the admin, which they deleted. */
  deletedRoomId: string;
  /** An admin message of the group from before the newcomer joined. */
  oldMessageId: string;
  /** Another, which no cell marks seen before "what each caller hears" does. */
  oldUnseenId: string;
  /** An admin message of the deleted direct room, from before its deletion. */
  deletedRoomMessageId: string;
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
  /** Another direct room the room-deleter deleted: their send cell brings it back. */
  spareDeletedRoomId: string;
  /** Admin messages from before the newcomer joined (group) and the deletion (direct room), deleted in "what each caller hears". */
  toDelete: { group: string; direct: string };
  /** Files the admin sent: in the group before the newcomer joined, in the direct room before its deletion. */
  files: { group: string; direct: string };
}

let world: Fixture;

async function clientFor(role: Role, tag: string): Promise<ChatClient> {
  if (role.startsWith('built-in ')) return env.client(role.slice('built-in '.length));
  const short = {
    'non-member': 'out',
    member: 'mem',
    admin: 'adm',
    removed: 'rem',
    leaver: 'lvr',
    newcomer: 'nwc',
    'room-deleter': 'del',
  }[role as 'non-member'];
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
  const [admin, member, removed, leaver, newcomer, deleter] = (
    ['admin', 'member', 'removed', 'leaver', 'newcomer', 'room-deleter'] as const
  ).map((r) => callers.get(r)!) as [
    ChatClient,
    ChatClient,
    ChatClient,
    ChatClient,
    ChatClient,
    ChatClient,
  ];
  const send = (c: ChatClient, roomId: string, content: string) =>
    ok<{ id: string }>(c, 'POST', `/api/chat/rooms/${roomId}/messages`, { content });
  const room = await ok<{ id: string }>(admin, 'POST', '/api/chat/rooms', {
    type: 'group',
    name: `room ${tag}`,
    member_ids: [member.userId, removed.userId, leaver.userId, ...extraMembers],
  });
  const removedMessage = await send(removed, room.id, 'before I was removed');
  const leaverMessage = await send(leaver, room.id, 'before I left');
  const oldMessage = await send(admin, room.id, 'hello');
  const oldUnseen = await send(admin, room.id, 'hello again');
  const oldToDelete = await send(admin, room.id, 'hello, soon deleted');
  const groupFile = await sendFile(admin, room.id);
  await send(member, room.id, 'hi');
  await ok(admin, 'DELETE', `/api/chat/rooms/${room.id}/members/${removed.userId}`);
  await ok(leaver, 'DELETE', `/api/chat/rooms/${room.id}`);
  await ok(admin, 'POST', `/api/chat/rooms/${room.id}/members`, { user_ids: [newcomer.userId] });

  const direct = await ok<{ id: string }>(deleter, 'POST', '/api/chat/rooms', {
    type: 'direct',
    member_ids: [admin.userId],
  });
  const directMessage = await send(admin, direct.id, 'direct hello');
  const directToDelete = await send(admin, direct.id, 'direct hello, soon deleted');
  const deleterMessage = await send(deleter, direct.id, 'mine, before I deleted the chat');
  const directFile = await sendFile(admin, direct.id);
  await ok(deleter, 'DELETE', `/api/chat/rooms/${direct.id}`);
  return {
    roomId: room.id,
    callers,
    removedMessageId: removedMessage.id,
    leaverMessageId: leaverMessage.id,
    oldMessageId: oldMessage.id,
    oldUnseenId: oldUnseen.id,
    deletedRoomId: direct.id,
    deletedRoomMessageId: directMessage.id,
    deleterMessageId: deleterMessage.id,
    toDelete: { group: oldToDelete.id, direct: directToDelete.id },
    files: { group: groupFile, direct: directFile },
  };
}

/** Uploads a small picture through its slot and sends it: the attachment's id. */
async function sendFile(client: ChatClient, roomId: string): Promise<string> {
  const slot = await ok<{ attachment_id: string; upload: { url: string; fields: object } }>(
    client,
    'POST',
    `/api/chat/rooms/${roomId}/attachments`,
    { content_type: 'image/png', size_bytes: 4 },
  );
  const form = new FormData();
  for (const [k, v] of Object.entries(slot.upload.fields)) form.append(k, String(v));
  form.append('file', new Blob([new Uint8Array([1, 2, 3, 4])]), 'f.png');
  const uploaded = await fetch(slot.upload.url, { method: 'POST', body: form });
  if (uploaded.status >= 300) throw new Error(`upload: ${uploaded.status}`);
  await ok(client, 'POST', `/api/chat/rooms/${roomId}/messages`, {
    attachment_ids: [slot.attachment_id],
  });
  return slot.attachment_id;
}

const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`;

async function buildWorld() {
  const tag = 'mx';
  const spareMember = new Map(ROLES.map((r) => [r, `${tag}-spare-${ROLES.indexOf(r)}`]));
  const base = await baseRoom(tag, [...spareMember.values()]);
  const { roomId, callers } = base;
  const admin = callers.get('admin')!;
  // Each caller's own message where they have one (removed, leaver, room-deleter), else the admin's.
  const own: Partial<Record<Role, string>> = {
    removed: base.removedMessageId,
    leaver: base.leaverMessageId,
    'room-deleter': base.deleterMessageId,
  };
  const deletable = new Map<Role, string>(
    await Promise.all(
      ROLES.map(
        async (role): Promise<[Role, string]> => [
          role,
          own[role] ??
            (
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
  const deleter = callers.get('room-deleter')!;
  const spare = await ok<{ id: string }>(deleter, 'POST', '/api/chat/rooms', {
    type: 'direct',
    member_ids: [`${tag}-spare-partner`],
  });
  await ok(deleter, 'DELETE', `/api/chat/rooms/${spare.id}`);
  world = {
    memberSince,
    tag,
    roomId,
    deletedRoomId: base.deletedRoomId,
    oldMessageId: base.oldMessageId,
    oldUnseenId: base.oldUnseenId,
    deletedRoomMessageId: base.deletedRoomMessageId,
    spareDeletedRoomId: spare.id,
    toDelete: base.toDelete,
    files: base.files,
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
   * Destructive: the cells of these classes (those that succeed, or bring a
   * deleted room back) run on a room of their own. The others, which must fail,
   * share the common room.
   */
  fresh?: readonly RoleClass[];
  request(role: Role, fx: Fixture): { path: string; body?: unknown };
  expect: Record<RoleClass, Expect>;
  /** Where one role's answer differs from its class's. */
  except?: Partial<Record<Role, Expect>>;
  check?(answer: Answer, role: Role, fx: Fixture): void;
  /**
   * The token a cell calls with, when not its role's own: a route about the
   * caller alone whose success would change the caller for every later cell.
   */
  as?(role: Role, fx: Fixture): Promise<string | undefined>;
}

/** The room a role's room-scoped cells act on: the room-deleter's is the direct room they deleted. */
const roomIdOf = (fx: Fixture, role: Role) =>
  role === 'room-deleter' ? fx.deletedRoomId : fx.roomId;
const room = (fx: Fixture, role: Role) => `/api/chat/rooms/${roomIdOf(fx, role)}`;
/** Whether the role sees the room in its lists (a member who has not deleted it). */
const hasRoom = (role: Role) => ['member', 'admin'].includes(classOf(role));
/** A message of the role's room that the role may not see, or the given one for the rest. */
const messageFor = (fx: Fixture, role: Role, otherwise: string, old = fx.oldMessageId) =>
  role === 'newcomer' ? old : role === 'room-deleter' ? fx.deletedRoomMessageId : otherwise;
const roomScoped = (success: Expect): Record<RoleClass, Expect> => ({
  outsider: FORBIDDEN,
  member: success,
  admin: success,
  gone: NOT_FOUND,
});
const MEMBERS_ONLY = ['member', 'admin'] as const;

const ROUTE_CASES: RouteCase[] = [
  {
    method: 'POST',
    path: '/api/chat/rooms',
    request: () => ({
      path: '/api/chat/rooms',
      body: { type: 'group', name: 'another', member_ids: [] },
    }),
    expect: { outsider: CREATED, member: CREATED, admin: CREATED, gone: CREATED },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms',
    request: () => ({ path: '/api/chat/rooms?limit=100' }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
    check: (answer, role, fx) => {
      const ids = (answer.body.data as { rooms: { id: string }[] }).rooms.map((r) => r.id);
      expect(ids.includes(roomIdOf(fx, role))).toBe(hasRoom(role));
    },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}',
    request: (role, fx) => ({ path: room(fx, role) }),
    expect: roomScoped(OK),
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/members',
    request: (role, fx) => ({
      path: `${room(fx, role)}/members`,
      body: { user_ids: [`${fx.tag}-newcomer-${ROLES.indexOf(role)}`] },
    }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK, gone: NOT_FOUND },
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/members/{user_id}',
    request: (role, fx) => ({ path: `${room(fx, role)}/members/${fx.spareMember.get(role)}` }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK, gone: NOT_FOUND },
  },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}/messages',
    request: (role, fx) => ({ path: `${room(fx, role)}/messages?limit=100` }),
    expect: roomScoped(OK),
    // A newcomer's history starts when they joined.
    check: (answer, role, fx) => {
      const ids = (answer.body.data as { messages: { id: string }[] }).messages.map((m) => m.id);
      expect(ids.includes(fx.oldMessageId)).toBe(role !== 'newcomer');
    },
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/messages',
    // The room-deleter's own new message brings the room back for them (CONTRACT §5 note 1).
    fresh: ['gone'],
    request: (role, fx) => ({ path: `${room(fx, role)}/messages`, body: { content: 'cell' } }),
    expect: { ...roomScoped(CREATED), gone: CREATED },
  },
  {
    method: 'DELETE',
    path: '/api/chat/messages/{message_id}',
    request: (role, fx) => ({ path: `/api/chat/messages/${fx.deletable.get(role)}` }),
    // Only the sender deletes; a removed member or a leaver no longer may, even their own
    // message, and a room-deleter's own message is in a room that is 404 for them.
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK, gone: NOT_FOUND },
  },
  {
    method: 'POST',
    path: '/api/chat/messages/{message_id}/forward',
    // The newcomer's source is from before they joined, the room-deleter's from their deleted room.
    request: (role, fx) => ({
      path: `/api/chat/messages/${messageFor(fx, role, fx.sourceMessageId)}/forward`,
      body: { target_room_ids: [fx.ownRoom.get(role)] },
    }),
    expect: roomScoped(OK),
    except: { newcomer: NOT_FOUND },
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}',
    fresh: MEMBERS_ONLY,
    request: (role, fx) => ({ path: room(fx, role) }),
    expect: roomScoped(OK),
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/messages',
    variant: 'for me',
    fresh: MEMBERS_ONLY,
    request: (role, fx) => ({ path: `${room(fx, role)}/messages` }),
    expect: roomScoped(OK),
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/messages',
    variant: 'for everyone',
    fresh: MEMBERS_ONLY,
    request: (role, fx) => ({ path: `${room(fx, role)}/messages?for_everyone=true` }),
    expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: OK, gone: NOT_FOUND },
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/archive',
    request: (role, fx) => ({ path: `${room(fx, role)}/archive`, body: { is_archived: false } }),
    expect: roomScoped(OK),
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/mute',
    request: (role, fx) => ({ path: `${room(fx, role)}/mute`, body: { is_muted: false } }),
    expect: roomScoped(OK),
  },
  {
    method: 'GET',
    path: '/api/chat/unread-count',
    variant: 'one room',
    request: (role, fx) => ({ path: `/api/chat/unread-count?room_id=${roomIdOf(fx, role)}` }),
    expect: roomScoped(OK),
  },
  {
    method: 'GET',
    path: '/api/chat/unread-count',
    variant: 'all rooms',
    request: () => ({ path: '/api/chat/unread-count' }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
    check: (answer, role, fx) => {
      const text = JSON.stringify(answer.body.data);
      expect(text.includes(roomIdOf(fx, role))).toBe(hasRoom(role));
    },
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/read-status',
    request: (role, fx) => ({ path: `${room(fx, role)}/read-status`, body: { is_read: true } }),
    expect: roomScoped(OK),
  },
  {
    method: 'PUT',
    path: '/api/chat/read-status',
    request: (role, fx) => ({
      path: '/api/chat/read-status',
      body: { room_ids: [roomIdOf(fx, role)] },
    }),
    expect: roomScoped(OK),
  },
  {
    method: 'POST',
    path: '/api/chat/encryption/keys',
    request: (role) => ({
      path: '/api/chat/encryption/keys',
      body: { public_key: PUBLIC_KEY, device_id: 'tablet', key_id: `k-${ROLES.indexOf(role)}` },
    }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/encryption/keys/{user_id}',
    request: (_r, fx) => ({
      path: `/api/chat/encryption/keys/${fx.callers.get('admin')!.userId}`,
    }),
    // Keys are read by the owner and those who share a room with them (a deleted direct room
    // still counts: a message brings it back); others learn nothing.
    expect: { outsider: NOT_FOUND, member: OK, admin: OK, gone: OK },
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
    expect: { outsider: NOT_FOUND, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'POST',
    path: '/api/chat/devices',
    request: (role) => ({
      path: '/api/chat/devices',
      body: { platform: 'apns', token: `cell-device-${ROLES.indexOf(role)}-token` },
    }),
    expect: { outsider: CREATED, member: CREATED, admin: CREATED, gone: CREATED },
  },
  {
    method: 'DELETE',
    path: '/api/chat/devices/{device_id}',
    // The member deletes their own device; anyone else naming the member's other device finds nothing.
    request: (role, fx) => ({
      path: `/api/chat/devices/${fx.memberDevices[role === 'member' ? 0 : 1]}`,
    }),
    expect: { outsider: NOT_FOUND, member: OK, admin: NOT_FOUND, gone: NOT_FOUND },
    except: { newcomer: NOT_FOUND },
  },
  {
    method: 'GET',
    path: '/api/chat/sync',
    variant: 'first cursor',
    request: () => ({ path: '/api/chat/sync' }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/sync',
    variant: "the member's cursor",
    request: (_r, fx) => ({ path: `/api/chat/sync?since=${encodeURIComponent(fx.memberSince)}` }),
    // A cursor is bound to the user it was issued to: anyone else's use of it is malformed.
    expect: { outsider: VALIDATION, member: OK, admin: VALIDATION, gone: VALIDATION },
    except: { newcomer: VALIDATION },
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/attachments',
    request: (role, fx) => ({
      path: `${room(fx, role)}/attachments`,
      body: { content_type: 'image/jpeg', size_bytes: 1000, file_name: `cell-${role}.jpg` },
    }),
    expect: roomScoped(CREATED),
  },
  {
    method: 'GET',
    path: '/api/chat/attachments/{attachment_id}',
    // A file of a message the caller can see: not the newcomer (sent before they joined),
    // not a removed member or a leaver, not the room-deleter (sent before their deletion).
    request: (role, fx) => ({
      path: `/api/chat/attachments/${role === 'room-deleter' ? fx.files.direct : fx.files.group}`,
    }),
    expect: { outsider: NOT_FOUND, member: OK, admin: OK, gone: NOT_FOUND },
    except: { newcomer: NOT_FOUND },
    check: (answer) => {
      expect((answer.body.data as { url: string }).url).toContain('X-Amz-Signature');
    },
  },
  // Blocks are the caller's own: anyone signed in, each cell blocking a user of its own.
  {
    method: 'PUT',
    path: '/api/chat/blocks/{user_id}',
    request: (role, fx) => ({ path: `/api/chat/blocks/${fx.tag}-blocked-${ROLES.indexOf(role)}` }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'DELETE',
    path: '/api/chat/blocks/{user_id}',
    request: (role, fx) => ({
      path: `/api/chat/blocks/${fx.tag}-unblocked-${ROLES.indexOf(role)}`,
    }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'GET',
    path: '/api/chat/blocks',
    request: () => ({ path: '/api/chat/blocks' }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
    // Only the caller's own blocks: never another cell's.
    check: (answer, role, fx) => {
      const ids = (answer.body.data as { blocked: { user_id: string }[] }).blocked.map(
        (b) => b.user_id,
      );
      const mine = `${fx.tag}-blocked-${ROLES.indexOf(role)}`;
      expect(ids.every((id) => id === mine)).toBe(true);
    },
  },
  {
    method: 'POST',
    path: '/api/chat/reports',
    // A report of a message needs to see it: only members past their markers may.
    request: (role, fx) => ({
      path: '/api/chat/reports',
      body: { message_id: messageFor(fx, role, fx.sourceMessageId), reason: 'spam' },
    }),
    expect: { outsider: NOT_FOUND, member: CREATED, admin: CREATED, gone: NOT_FOUND },
    except: { newcomer: NOT_FOUND, admin: VALIDATION },
  },
  // Moderation: no caller of the matrix holds the moderator group, whatever their
  // role in a room (test/e2e/moderation.test.ts has the moderators' own cells).
  ...(
    [
      ['GET', '/api/chat/moderation/reports', '/api/chat/moderation/reports', undefined],
      ['GET', '/api/chat/moderation/audit', '/api/chat/moderation/audit', undefined],
      [
        'POST',
        '/api/chat/moderation/reports/{report_id}/resolve',
        '/api/chat/moderation/reports/01ANY/resolve',
        { action: 'dismiss' },
      ],
      [
        'PUT',
        '/api/chat/moderation/users/{user_id}/suspension',
        '/api/chat/moderation/users/mx-target/suspension',
        { reason: 'x' },
      ],
      [
        'DELETE',
        '/api/chat/moderation/users/{user_id}/suspension',
        '/api/chat/moderation/users/mx-target/suspension',
        undefined,
      ],
    ] as const
  ).map(
    ([method, path, concrete, body]): RouteCase => ({
      method,
      path,
      request: () => ({ path: concrete, ...(body ? { body } : {}) }),
      expect: { outsider: FORBIDDEN, member: FORBIDDEN, admin: FORBIDDEN, gone: FORBIDDEN },
    }),
  ),
  // The caller's own settings: anyone signed in, about themselves only.
  {
    method: 'GET',
    path: '/api/chat/me/settings',
    request: () => ({ path: '/api/chat/me/settings' }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  {
    method: 'PUT',
    path: '/api/chat/me/settings',
    // The default again, so no other cell's add is refused.
    request: () => ({ path: '/api/chat/me/settings', body: { who_can_add_me: 'everyone' } }),
    expect: { outsider: OK, member: OK, admin: OK, gone: OK },
  },
  // Erasing is about the caller alone: anyone signed in, 202. Each cell erases a user of
  // its own (erasing the role's user would change every later cell); `__proto__` keeps
  // its own token, which no gateway accepts.
  {
    method: 'DELETE',
    path: '/api/chat/me',
    request: () => ({ path: '/api/chat/me' }),
    as: async (role, fx) =>
      role === UNREPRESENTABLE
        ? fx.callers.get(role)!.token
        : env.stack.issueToken(`${fx.tag}-erased-${ROLES.indexOf(role)}`),
    expect: { outsider: ACCEPTED, member: ACCEPTED, admin: ACCEPTED, gone: ACCEPTED },
  },
];

const freshFixtures = new Map<string, Fixture>();
let freshCount = 0;
/** A room of its own for one destructive cell, with the same cast. */
async function freshFixture(): Promise<Fixture> {
  const tag = `fx${++freshCount}`;
  const base = await baseRoom(tag);
  const fx: Fixture = {
    ...world,
    tag,
    roomId: base.roomId,
    deletedRoomId: base.deletedRoomId,
    oldMessageId: base.oldMessageId,
    oldUnseenId: base.oldUnseenId,
    deletedRoomMessageId: base.deletedRoomMessageId,
    callers: new Map(world.callers),
  };
  for (const role of ['admin', 'member', 'removed', 'leaver', 'newcomer', 'room-deleter'] as const)
    fx.callers.set(role, base.callers.get(role)!);
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
      const expected =
        role === UNREPRESENTABLE
          ? UNAUTHORIZED
          : (route.except?.[role] ?? route.expect[classOf(role)]);
      cell(`${label(route)} × ${role} → ${expected.join(' ')}`, async () => {
        const fx = route.fresh?.includes(classOf(role)) ? await freshFixture() : world;
        const client = fx.callers.get(role)!;
        const { path, body } = route.request(role, fx);
        const token = route.as ? await route.as(role, fx) : client.token;
        const answer = await call(route.method, path, token, body);
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
  frame(fx: Fixture, n: number, role: Role): Record<string, unknown>;
  /** The event that answers the caller when the action is allowed. */
  success: string | null;
  expect: Record<RoleClass, 'ok' | string>;
  except?: Partial<Record<Role, 'ok' | string>>;
}

const ACTION_CASES: ActionCase[] = [
  {
    action: 'send-message',
    // The room-deleter sends into another direct room they deleted: their own new message
    // brings it back for them (CONTRACT §5 note 1), so it must not be the one the other cells use.
    frame: (fx, n, role) => ({
      room_id: role === 'room-deleter' ? fx.spareDeletedRoomId : fx.roomId,
      content: 'ws cell',
      temp_id: `cell-${n}`,
    }),
    success: 'message-confirmed',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok', gone: 'ok' },
  },
  {
    // The newcomer names a message from before they joined: answered, but no sender hears of
    // it (see "what each caller hears").
    action: 'mark-messages-seen',
    frame: (fx, _n, role) => ({
      room_id: roomIdOf(fx, role),
      message_ids: [messageFor(fx, role, fx.sourceMessageId)],
    }),
    success: 'unread-count-update',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok', gone: 'NOT_FOUND' },
  },
  {
    action: 'room-archive',
    frame: (fx, _n, role) => ({ room_id: roomIdOf(fx, role), is_archived: false }),
    success: 'room-archived',
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok', gone: 'NOT_FOUND' },
  },
  {
    action: 'ping',
    frame: () => ({}),
    success: 'pong',
    expect: { outsider: 'ok', member: 'ok', admin: 'ok', gone: 'ok' },
  },
  {
    // Without `since`, sync answers nothing: it flushes what is pending. No error is the pass.
    action: 'sync',
    frame: () => ({}),
    success: null,
    expect: { outsider: 'ok', member: 'ok', admin: 'ok', gone: 'ok' },
  },
  {
    action: 'sync',
    variant: "with the member's cursor",
    frame: (fx) => ({ since: fx.memberSince }),
    success: 'sync-result',
    expect: {
      outsider: 'VALIDATION_ERROR',
      member: 'ok',
      admin: 'VALIDATION_ERROR',
      gone: 'VALIDATION_ERROR',
    },
    except: { newcomer: 'VALIDATION_ERROR' },
  },
  {
    // Only members may type; the sender gets no answer, the others `user-typing`. A room the
    // caller deleted is 404 for them, as on HTTP.
    action: 'typing',
    frame: (fx, _n, role) => ({ room_id: roomIdOf(fx, role), is_typing: true }),
    success: null,
    expect: { outsider: 'FORBIDDEN', member: 'ok', admin: 'ok', gone: 'NOT_FOUND' },
  },
];

/** Polls until `done` holds; fails the cell after 10 s. */
async function waitUntil(done: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`marker not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The caller's answer to `action`: 'ok', an error code, or 'closed'. */
async function answerTo(
  conn: { socket: WebSocket; frames: Frame[] },
  action: string,
  success: string | null,
  from: number,
  /** For an action with no answer of its own: its effect, observed elsewhere (a positive 'ok'). */
  effect?: () => boolean,
): Promise<string> {
  const deadline = Date.now() + 5000;
  let quietUntil: number | undefined;
  while (Date.now() < deadline) {
    const fresh = conn.frames.slice(from);
    const error = fresh.find((f) => f.event === 'error' && f.data.action === action);
    if (error) return String(error.data.code);
    if (success && fresh.some((f) => f.event === success)) return 'ok';
    if (effect?.()) return 'ok';
    if (conn.socket.readyState !== WebSocket.OPEN) return 'closed';
    // An action with no answer of its own passes when a ping sent after it is answered
    // and no error for it follows shortly.
    // (Only `sync` without `since` is left to this: with nothing pending it has no effect.)
    if (!success && !effect && quietUntil === undefined && fresh.some((f) => f.event === 'pong')) {
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
      const expected = action.except?.[role] ?? action.expect[classOf(role)];
      const name = `${action.action}${action.variant ? ` (${action.variant})` : ''}`;
      cell(`${name} × ${role} → ${expected}`, async () => {
        let conn = sockets.get(role);
        if (!conn) {
          conn = await openSocket(world.callers.get(role)!.token);
          sockets.set(role, conn);
        }
        const from = conn.frames.length;
        // Typing answers no one but the room's other members: the pass is one of them
        // hearing this caller type (an error, if any, comes back to the caller).
        let effect: (() => boolean) | undefined;
        if (action.action === 'typing') {
          const observerRole: Role = role === 'admin' ? 'member' : 'admin';
          let observer = sockets.get(observerRole);
          if (!observer) {
            observer = await openSocket(world.callers.get(observerRole)!.token);
            sockets.set(observerRole, observer);
          }
          const seenFrom = observer.frames.length;
          const typist = world.callers.get(role)!.userId;
          const roomId = roomIdOf(world, role);
          const frames = observer.frames;
          effect = () =>
            frames
              .slice(seenFrom)
              .some(
                (f) =>
                  f.event === 'user-typing' &&
                  f.data.user_id === typist &&
                  f.data.room_id === roomId,
              );
        }
        conn.socket.send(
          JSON.stringify({ action: action.action, ...action.frame(world, ++n, role) }),
        );
        if (!action.success) conn.socket.send(JSON.stringify({ action: 'ping' }));
        expect(await answerTo(conn, action.action, action.success, from, effect)).toBe(expected);
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
        conn!.socket.send(
          JSON.stringify({ action: action.action, ...action.frame(world, 0, 'member') }),
        );
        if (!action.success) conn!.socket.send(JSON.stringify({ action: 'ping' }));
      }
      // Closed (or closing) by the server, or the frame refused: either way nothing ran.
      expect(['closed', 'UNAUTHORIZED']).toContain(
        await answerTo(conn!, action.action, action.success, from),
      );
    });
  }
});

// ---------------------------------------------------------------- what each caller hears

/**
 * Events about messages a caller could not see tell them nothing (issue 21): the
 * admin deletes a group message from before the newcomer joined and a message
 * of the room-deleter's direct room from before its deletion, and types in
 * both rooms; every caller asks to mark a message they cannot see (the
 * member, who can, is the control). Each cell says who heard what, live and in
 * sync from a cursor taken before.
 */
describe('What each caller hears', () => {
  const roles = ROLES.filter((r) => r !== UNREPRESENTABLE);
  const sockets = new Map<Role, { socket: WebSocket; frames: Frame[] }>();
  const since = new Map<Role, string>();
  beforeAll(async () => {
    await Promise.all(
      roles.map(async (role) => {
        const client = world.callers.get(role)!;
        sockets.set(role, await openSocket(client.token));
        since.set(
          role,
          (await ok<{ next_since: string }>(client, 'GET', '/api/chat/sync')).next_since,
        );
      }),
    );
    const admin = world.callers.get('admin')!;
    const adminSocket = sockets.get('admin')!.socket;
    for (const roomId of [world.roomId, world.deletedRoomId])
      adminSocket.send(JSON.stringify({ action: 'typing', room_id: roomId, is_typing: true }));
    await ok(admin, 'DELETE', `/api/chat/messages/${world.toDelete.group}`);
    await ok(admin, 'DELETE', `/api/chat/messages/${world.toDelete.direct}`);
    for (const role of roles) {
      sockets.get(role)!.socket.send(
        JSON.stringify({
          action: 'mark-messages-seen',
          room_id: roomIdOf(world, role),
          message_ids: [messageFor(world, role, world.oldUnseenId, world.oldUnseenId)],
        }),
      );
    }
    // Positive markers instead of a quiet spell: the member hears the admin type in the
    // group (the typing frames were handled), then the admin sends a message into each
    // room after all of the above; every caller in a room waits for it, so whatever the
    // deletions and receipts were to tell them has been fanned out before it. (Callers
    // in neither room cannot be told anything through these rooms; they wait for a pong.)
    const memberConn = sockets.get('member')!;
    await waitUntil(() =>
      memberConn.frames.some(
        (f) =>
          f.event === 'user-typing' &&
          f.data.user_id === admin.userId &&
          f.data.room_id === world.roomId,
      ),
    );
    const markers = new Map<string, string>();
    for (const roomId of [world.roomId, world.deletedRoomId]) {
      const sent = await ok<{ id: string }>(admin, 'POST', `/api/chat/rooms/${roomId}/messages`, {
        content: 'marker',
      });
      markers.set(roomId, sent.id);
    }
    // (The admin, the sender, gets no copy of their own message: they wait for the
    // control's seen receipt, on the path the other callers' receipts would take.)
    const memberId = world.callers.get('member')!.userId;
    const adminConn = sockets.get('admin')!;
    await waitUntil(() =>
      adminConn.frames.some(
        (f) =>
          f.event === 'messages-seen' &&
          (f.data.seen_by as { user_id: string }).user_id === memberId,
      ),
    );
    const inRoom: Partial<Record<Role, string>> = {
      member: world.roomId,
      newcomer: world.roomId,
      'room-deleter': world.deletedRoomId,
    };
    await Promise.all(
      roles.map(async (role) => {
        const conn = sockets.get(role)!;
        const roomId = inRoom[role];
        if (roomId) {
          const marker = markers.get(roomId)!;
          await waitUntil(() =>
            conn.frames.some(
              (f) =>
                f.event === 'new-chat-message' && (f.data.message as { id: string }).id === marker,
            ),
          );
          return;
        }
        const from = conn.frames.length;
        conn.socket.send(JSON.stringify({ action: 'ping' }));
        await answerTo(conn, 'ping', 'pong', from);
      }),
    );
  }, 60_000);
  afterAll(() => {
    for (const conn of sockets.values()) conn.socket.terminate();
  });

  const deletions = (frames: Frame[]) =>
    frames
      .filter((f) => f.event === 'message-deleted')
      .map((f) => String(f.data.message_id))
      .filter((id) => id === world.toDelete.group || id === world.toDelete.direct);
  /** Only the admin's own group's members who saw the message hear of its deletion. */
  const seesDeletion = (role: Role) => role === 'member' || role === 'admin';

  for (const role of roles) {
    const hears = seesDeletion(role);
    cell(
      `message-deleted (live) of a message before they joined or deleted the room × ${role} → ${hears ? 'heard' : 'not heard'}`,
      async () => {
        const heard = deletions(sockets.get(role)!.frames);
        expect(heard.length > 0).toBe(hears);
      },
    );
    cell(
      `message-deleted (sync) of a message before they joined or deleted the room × ${role} → ${hears ? 'in sync' : 'not in sync'}`,
      async () => {
        const client = world.callers.get(role)!;
        const events: Frame[] = [];
        let cursor = since.get(role)!;
        for (;;) {
          const page = await ok<{ events: Frame[]; next_since: string; has_more: boolean }>(
            client,
            'GET',
            `/api/chat/sync?since=${encodeURIComponent(cursor)}&limit=500`,
          );
          events.push(...page.events);
          if (!page.has_more) break;
          cursor = page.next_since;
        }
        expect(deletions(events).length > 0).toBe(hears);
      },
    );
    // The admin types in the group and in the direct room: group members hear it, the
    // room-deleter (whose direct room it is) does not, nor anyone outside.
    const typingHeard = role === 'member' || role === 'newcomer';
    cell(
      `user-typing from the admin × ${role} → ${typingHeard ? 'heard' : 'not heard'}`,
      async () => {
        const heard = sockets
          .get(role)!
          .frames.filter(
            (f) =>
              f.event === 'user-typing' && f.data.user_id === world.callers.get('admin')!.userId,
          );
        expect(heard.length > 0).toBe(typingHeard);
      },
    );
    // Seen receipts only for messages the caller can see: the member (the control) saw the
    // admin's message; the newcomer joined after it; the rest are refused.
    const seenTold = role === 'member';
    cell(
      `messages-seen to the admin, for a message the caller cannot see × ${role} → ${seenTold ? 'told (control: can see it)' : 'not told'}`,
      async () => {
        const userId = world.callers.get(role)!.userId;
        const told = sockets
          .get('admin')!
          .frames.filter(
            (f) =>
              f.event === 'messages-seen' &&
              (f.data.seen_by as { user_id: string }).user_id === userId,
          );
        expect(told.length > 0).toBe(seenTold);
      },
    );
  }
});
