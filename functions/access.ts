/**
 * What each function may do on AWS, declared once, beside the route table
 * (routes.ts). The CDK stack grants exactly this, at the action level
 * (lib/access-grants.ts), and gives each function exactly the environment
 * variables its declaration implies (environmentOf). `npm run test:deployed`
 * runs the synthesized bundles and fails on any AWS call a declaration does not
 * cover, and on a grant no test used unless test/deployed/survivors.ts says
 * which rarer path uses it; the infra tests check that every function has a
 * declaration and that its role and environment match it.
 *
 * Editing: a function that starts to write a new kind of item, query the
 * index, send to a queue or post to connections needs its line here. The
 * actions are IAM's: a TransactWriteItems is authorized per item as PutItem,
 * UpdateItem, DeleteItem or ConditionCheckItem (there is no Transact* action),
 * SendMessageBatch as SendMessage. Scan is not in the list: the app never scans.
 */

import { ENV, type EnvName } from './platform/env.ts';
import { ConfigError } from './platform/errors.ts';
import { queues } from './routes.ts';

export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** @connections methods: POST posts a frame, GET reads a connection, DELETE closes it. */
export type ConnectionMethod = 'POST' | 'GET' | 'DELETE';

/**
 * What a function does with attachment files (the bucket's `rooms/*` keys):
 * `upload` signs upload forms (the form's PUT and its tagging run under the
 * signer's role), `read` reads sizes and signs download URLs, `tag` retags a
 * sent file, `delete` deletes released ones.
 */
export type FileUse = 'upload' | 'read' | 'tag' | 'delete';

export const FILE_ACTIONS: Record<FileUse, readonly string[]> = {
  upload: ['s3:PutObject', 's3:PutObjectTagging'],
  read: ['s3:GetObject'],
  tag: ['s3:PutObjectTagging'],
  delete: ['s3:DeleteObject'],
};

/** Mobile push through SNS device endpoints (only with a platform application; ENV.pushApplications). */
export type PushUse = 'publish' | 'endpoints' | 'remove';

export const PUSH_ACTIONS: Record<PushUse, readonly string[]> = {
  /** Send to a device: the owner check, then Publish to its TargetArn. */
  publish: ['sns:GetEndpointAttributes', 'sns:Publish'],
  /** Register, move and remove devices (removing checks the owner first). */
  endpoints: [
    'sns:CreatePlatformEndpoint',
    'sns:SetEndpointAttributes',
    'sns:GetEndpointAttributes',
    'sns:DeleteEndpoint',
  ],
  /** Remove a user's devices (an account erase): the owner check, then DeleteEndpoint. */
  remove: ['sns:GetEndpointAttributes', 'sns:DeleteEndpoint'],
};

export interface Access {
  /** DynamoDB actions on the table's items. */
  table?: readonly TableAction[];
  /** Global secondary indexes it queries (by name). */
  indexes?: readonly string[];
  /** Queues it sends to (route-table queue ids). */
  sendsTo?: readonly string[];
  connections?: readonly ConnectionMethod[];
  push?: readonly PushUse[];
  /** Attachment files in the bucket. */
  files?: readonly FileUse[];
  /** Publishes to the operator's reports topic (a new report). */
  notifiesOperators?: boolean;
  /** Reads the cursor-sealing key from Secrets Manager at cold start. */
  cursorKey?: boolean;
  /** Verifies JWTs itself (the $connect authorizer; HTTP routes have API Gateway's). */
  verifiesTokens?: boolean;
  /** Plain settings it reads. */
  settings?: readonly EnvName[];
}

/** Merges declarations (the groups below) into one. */
export function needs(...parts: Access[]): Access {
  const union = <T>(pick: (a: Access) => readonly T[] | undefined) => {
    const all = [...new Set(parts.flatMap((p) => pick(p) ?? []))];
    return all.length ? all : undefined;
  };
  const merged: Access = {
    table: union((p) => p.table),
    indexes: union((p) => p.indexes),
    sendsTo: union((p) => p.sendsTo),
    connections: union((p) => p.connections),
    push: union((p) => p.push),
    files: union((p) => p.files),
    settings: union((p) => p.settings),
    cursorKey: parts.some((p) => p.cursorKey) || undefined,
    notifiesOperators: parts.some((p) => p.notifiesOperators) || undefined,
    verifiesTokens: parts.some((p) => p.verifiesTokens) || undefined,
  };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Access;
}

// Groups, each named after the shared code that needs it. A function takes only
// the groups its bundle reaches: a group's action that a function's code cannot
// call is a grant it must not hold (`npm run test:deployed` lists the unused
// ones, and test/deployed/survivors.ts explains each that stays).

/** Keyed reads: GetItem and BatchGetItem on the table's own keys. */
const GET: Access = { table: ['GetItem', 'BatchGetItem'] };
/** Keyed reads and a Query of a partition (a room's messages, a user's rooms or keys). */
const READ: Access = needs(GET, { table: ['Query'] });
/** platform/rate-limit.ts: one conditional UpdateItem per check; per-stage overrides. */
const RATE_LIMIT: Access = { table: ['UpdateItem'], settings: [ENV.rateLimits] };
/** RATE_LIMIT, and platform/suspension.ts: the caller's suspension (a GetItem a minute). */
const LIMITED: Access = needs(RATE_LIMIT, { table: ['GetItem'] });
/**
 * domain/delivery.ts: BatchGet of the users' connection maps, posts, and a gone
 * connection's removal (map update, connection item delete) which may start
 * the user's grace period (presence item update; the sweeper finds it due).
 * The DeleteItem is used only when a post answers 410 (a socket that went
 * without its $disconnect yet): rare, and kept.
 */
const DELIVER: Access = {
  table: ['BatchGetItem', 'UpdateItem', 'DeleteItem'],
  connections: ['POST'],
  settings: [ENV.presenceGraceSeconds],
};
/**
 * domain/connection-lifecycle.ts connectionGone: a connection's removal (map
 * update, connection item delete), then the delayed presence check. It posts
 * nothing and reads no map in bulk.
 */
const GONE: Access = {
  table: ['UpdateItem', 'DeleteItem'],
  sendsTo: ['presence-check'],
  settings: [ENV.presenceGraceSeconds],
};
/** store/event-log.ts: the events `sync` replays (room archived, deleted, cleared, members, keys). */
const EVENT_LOG: Access = { table: ['PutItem', 'UpdateItem'] };
/** Writes of the app's own items (rooms, members, messages, receipts) by put, update and delete. */
const WRITE: Access = { table: ['PutItem', 'UpdateItem', 'DeleteItem'] };
/**
 * domain/messages.ts send: the room head's ADD, the message and receipt
 * transaction (PutItem), the read marker. Keyed reads only (no Query). The
 * queues are for rarer cases, kept: fan-out only for a room of more than
 * LIMITS.inlineFanOutMembers others; offline-delivery only for members whose
 * post failed (the stream's outbox queues the ones with no connection).
 */
const SEND: Access = needs(GET, WRITE, { sendsTo: ['fan-out', 'offline-delivery'] }, DELIVER);
/** domain/attachment-claims.ts: a send reads the size storage holds (HeadObject). */
const SEND_FILES: Access = { files: ['read'] };
/**
 * platform/ws.ts, every WebSocket action: the rate limiter, and closing a
 * connection whose token has expired, or whose user is suspended
 * (DeleteConnection), after telling it so: rare, and kept on every action.
 */
const WS_ACTION: Access = needs(LIMITED, { connections: ['POST', 'DELETE'] });
/** platform/moderators.ts: the moderation routes read the stage's moderator group. */
const MODERATE: Access = { settings: [ENV.moderatorGroup] };
/**
 * domain/moderation.ts: the audit entry (PutItem), the suspension item, and the
 * suspended user's sockets closed (DeleteConnection) and removed (GONE).
 */
const SUSPEND: Access = needs(GET, WRITE, GONE, { connections: ['DELETE'] });
/** store/cursor.ts: pages sealed with the key from Secrets Manager. */
const PAGES: Access = { cursorKey: true };
/** store/reports.ts, store/audit.ts: lists through the index (keys), then one BatchGet; no Query of the table. */
const MODERATION_LISTS: Access = needs(GET, { indexes: ['gsi1'] }, PAGES);
/** domain/presence.ts: the settings its connection and presence bookkeeping reads. */
const PRESENCE_SETTINGS: Access = {
  settings: [ENV.heartbeatTimeoutSeconds, ENV.presenceGraceSeconds],
};

/**
 * Every function's declaration, by route-table handler. A new handler without a
 * line here fails the infra tests.
 */
export const access: Readonly<Record<string, Access>> = {
  'ws/authorizer': { verifiesTokens: true },

  // A direct room's transaction also checks that no block stands between the two.
  'http/create-room': needs(
    GET,
    WRITE,
    { table: ['ConditionCheckItem'] },
    EVENT_LOG,
    DELIVER,
    LIMITED,
  ),
  'http/list-rooms': needs(READ, PAGES, LIMITED),
  'http/get-room': needs(GET, LIMITED),
  'http/add-members': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/remove-member': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/list-messages': needs(READ, LIMITED),
  'http/send-message': needs(SEND, SEND_FILES, LIMITED),
  'http/delete-message': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/forward-message': needs(SEND, LIMITED),
  'http/delete-room': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/clear-messages': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/archive-room': needs(GET, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/mute-room': needs(GET, { table: ['UpdateItem'] }, LIMITED),
  'http/unread-count': needs(READ, LIMITED),
  'http/read-status': needs(GET, { table: ['UpdateItem'] }, DELIVER, LIMITED),
  // The new counts go to the caller's own open sockets (DELIVER), if any.
  'http/batch-read-status': needs(GET, { table: ['UpdateItem'] }, DELIVER, LIMITED),
  'http/upload-key': needs(READ, WRITE, EVENT_LOG, DELIVER, LIMITED),
  'http/get-keys': needs(READ, LIMITED),
  'http/verify-key': needs(READ, { table: ['PutItem'] }, LIMITED),
  // The user's devices (a Query), the device item, its endpoint.
  'http/register-device': needs(
    { table: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'], push: ['endpoints'] },
    LIMITED,
  ),
  // The device item (read, then deleted), its endpoint removed.
  'http/delete-device': needs({ table: ['GetItem', 'DeleteItem'], push: ['remove'] }, LIMITED),
  'http/sync': needs(READ, PAGES, LIMITED),
  // One GetItem / one UpdateItem of the caller's settings item.
  'http/get-settings': needs({ table: ['GetItem'] }, LIMITED),
  // The pair's direct room, then one transaction: both block items and the room's
  // `blocked_by` (or a check that no room exists); the caller's devices hear of it.
  'http/block-user': needs(
    READ,
    { table: ['UpdateItem', 'ConditionCheckItem'] },
    EVENT_LOG,
    DELIVER,
    LIMITED,
  ),
  'http/unblock-user': needs(
    GET,
    { table: ['DeleteItem', 'UpdateItem', 'ConditionCheckItem'] },
    EVENT_LOG,
    DELIVER,
    LIMITED,
  ),
  // The caller's blocks: one Query of its partition.
  'http/list-blocks': needs({ table: ['Query'] }, LIMITED),
  // The message and the reporter's membership (the evidence), the report, the topic.
  'http/create-report': needs(GET, { table: ['PutItem'], notifiesOperators: true }, LIMITED),
  'http/update-settings': needs({ table: ['UpdateItem'] }, LIMITED),
  // Queues the erase; the account-erase consumer does the work. Served to a suspended
  // user too (routes.ts), so no suspension read: the rate limit only.
  'http/erase-account': needs({ sendsTo: ['account-erase'] }, RATE_LIMIT),
  // The membership check, the slot item, the signed form.
  'http/create-attachment': needs(GET, { table: ['PutItem'], files: ['upload'] }, LIMITED),
  // The file, its carriers and who may see them, the signed URL.
  'http/get-attachment': needs(READ, { files: ['read'] }, LIMITED),
  // Moderation (CONTRACT §9). Resolving may delete the message for everyone (as
  // delete-message) or suspend its sender (as suspend-user).
  'http/list-reports': needs(MODERATION_LISTS, MODERATE, LIMITED),
  'http/resolve-report': needs(SUSPEND, EVENT_LOG, DELIVER, MODERATE, LIMITED),
  // SUSPEND's socket closing runs only when the user has sockets open.
  'http/suspend-user': needs(SUSPEND, MODERATE, LIMITED),
  'http/lift-suspension': needs({ table: ['DeleteItem', 'PutItem'] }, MODERATE, LIMITED),
  'http/list-audit': needs(MODERATION_LISTS, MODERATE, LIMITED),

  // domain/presence.ts connected: the connection and presence items, the queued
  // flush of pending messages; an over-cap or suspended socket is closed (DELETE).
  'ws/connect': needs(
    GET,
    WRITE,
    GONE,
    PRESENCE_SETTINGS,
    { sendsTo: ['flush-pending'], connections: ['DELETE'] },
    LIMITED,
  ),
  'ws/disconnect': needs(GONE),
  // Answers the frame on its own connection (no delivery to others).
  'ws/default': needs(WS_ACTION, { settings: [ENV.presenceGraceSeconds] }),
  'ws/send-message': needs(SEND, SEND_FILES, WS_ACTION),
  'ws/mark-messages-seen': needs(
    GET,
    { table: ['UpdateItem', 'DeleteItem', 'BatchWriteItem'] },
    DELIVER,
    WS_ACTION,
  ),
  'ws/room-archive': needs(GET, WRITE, EVENT_LOG, DELIVER, WS_ACTION),
  // Replies on its own connection: posts, and no gone-connection removal. Messages
  // still queued for the user are replayed and their pending items deleted
  // (BatchWriteItem), only when some are left at the sync.
  'ws/sync': needs(
    READ,
    PAGES,
    { table: ['BatchWriteItem', 'UpdateItem'], connections: ['POST'] },
    { settings: [ENV.presenceGraceSeconds] },
    WS_ACTION,
  ),
  'ws/typing': needs(READ, DELIVER, WS_ACTION),

  // Room changes from the stream: receipts and heads updated, members told, the
  // offline ones queued, gaps checked, purges and attachment releases queued.
  'streams/room-activity': needs(GET, { table: ['UpdateItem', 'DeleteItem'] }, DELIVER, {
    sendsTo: ['offline-delivery', 'seq-gaps', 'room-purge', 'attachments'],
  }),
  // Retags sent files, checks them again once their slot has expired (a HEAD, s3:GetObject,
  // only for a file sent while its upload slot was still open; then a delayed job of
  // its own), and deletes released or swapped bytes.
  'queues/attachment-storage': needs(READ, {
    table: ['BatchWriteItem'],
    files: ['read', 'tag', 'delete'],
    sendsTo: ['attachments'],
  }),
  // Pending items written (PutItem, BatchWriteItem), posts to the live ones, pushes
  // to the offline ones' devices. Its posts remove no gone connection.
  'queues/offline-delivery': needs(
    READ,
    { table: ['PutItem', 'UpdateItem', 'BatchWriteItem'], push: ['publish'] },
    { table: ['BatchGetItem', 'UpdateItem'], connections: ['POST'] },
    { settings: [ENV.presenceGraceSeconds] },
  ),
  // Replays a new connection's pending items, retries itself (flush-pending) while
  // the connection is not yet ready.
  'queues/flush-pending': needs(
    READ,
    { table: ['UpdateItem', 'DeleteItem', 'BatchWriteItem'], sendsTo: ['flush-pending'] },
    DELIVER,
    PRESENCE_SETTINGS,
  ),
  // A big room's chunk: posts to the members' connections, queues the offline ones.
  // Its chunk names the connections: no BatchGet of the members' maps.
  'queues/fan-out': needs({
    table: ['GetItem', 'UpdateItem', 'DeleteItem'],
    connections: ['POST'],
    sendsTo: ['offline-delivery'],
    settings: [ENV.presenceGraceSeconds],
  }),
  // Fills a sequence gap: the message before it (BatchGet), a tombstone put on condition
  // the number is still empty; only when it went in, the room's deleted seqs and
  // head are updated (UpdateItem: a send that took a number and never stored it).
  'queues/fill-gaps': needs({ table: ['BatchGetItem', 'PutItem', 'UpdateItem'] }),
  // A room's items in pages (Query), deleted in batches, the next page queued.
  'queues/room-purge': needs({ table: ['Query', 'BatchWriteItem'], sendsTo: ['room-purge'] }),
  // A user's grace period is over: presence, then the status broadcast.
  'queues/presence-check': needs(
    { table: ['BatchGetItem', 'Query', 'UpdateItem', 'DeleteItem'] },
    DELIVER,
    PRESENCE_SETTINGS,
  ),
  // domain/account-erase.ts: closes the user's sockets (DELETE) and drops their records,
  // leaves rooms (transactions of Update and Delete), blanks messages, tells the
  // members (DELIVER, EVENT_LOG), removes devices' push endpoints (only for a device
  // registered under a push application), deletes the account's items
  // (BatchWriteItem), and queues its own continuation.
  'queues/account-erase': needs(READ, WRITE, EVENT_LOG, DELIVER, {
    table: ['BatchWriteItem'],
    connections: ['DELETE'],
    push: ['remove'],
    sendsTo: ['account-erase'],
  }),
  // Due presence (gsi1), stale connections asked about (GET) and closed (DELETE),
  // the presence check queued for each user left with none. The table Query,
  // BatchGet and POST are its backup of a lost presence check (checkOffline: the
  // user's rooms, their members' maps, the status broadcast), kept.
  'schedules/presence-sweeper': needs(
    { table: ['BatchGetItem', 'Query', 'UpdateItem', 'DeleteItem'], indexes: ['gsi1'] },
    DELIVER,
    GONE,
    PRESENCE_SETTINGS,
    { connections: ['GET', 'DELETE'] },
  ),
};

/** The environment variables a declaration implies, and nothing else. */
export function environmentOf(a: Access): EnvName[] {
  const names = new Set<EnvName>();
  if (a.table?.length || a.indexes?.length) {
    names.add(ENV.tableName);
    // Whatever touches the table validates input or bounds its work with LIMITS.
    names.add(ENV.chatLimits);
  }
  for (const id of a.sendsTo ?? []) {
    const queue = queues.find((q) => q.id === id);
    if (!queue) throw new ConfigError(`${id} is not a queue of the route table`);
    names.add(queue.env as EnvName);
  }
  if (a.connections?.length) names.add(ENV.wsEndpoint);
  // Making endpoints and publishing route each device by its platform; removing needs no application.
  if (a.push?.some((p) => p !== 'remove')) names.add(ENV.pushApplications);
  if (a.files?.length) names.add(ENV.attachmentsBucket);
  if (a.notifiesOperators) names.add(ENV.reportsTopicArn);
  if (a.cursorKey) names.add(ENV.cursorKeySecretArn);
  if (a.verifiesTokens) {
    names.add(ENV.jwtIssuer);
    names.add(ENV.jwksUri);
    names.add(ENV.jwtAudience);
  }
  for (const s of a.settings ?? []) names.add(s);
  return [...names];
}
