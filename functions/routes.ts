/**
 * The route table: the single source of truth for every Lambda. The CDK stack
 * (lib/) and the local gateway (local/) both read it, so a route cannot exist in
 * one and not the other.
 *
 * `handler` is a module path under functions/ (without extension) that exports
 * `handler`.
 */

import type { RateBucket } from '#platform/rate-limit-rules.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpRoute {
  method: HttpMethod;
  /** API Gateway path template, e.g. /api/chat/rooms/{room_id} */
  path: string;
  handler: string;
  /**
   * The per-user bucket a valid request draws on (platform/rate-limit-rules.ts
   * has the defaults), or null for none. Every route that touches the table
   * has one, reads included: a check costs one write unit, and without it one
   * user's parallel reads take throughput (and the bill) from everyone.
   */
  rateLimit: RateBucket | null;
  /** Moderators only (CONTRACT §9): the http wrapper refuses anyone else with 403. */
  moderators?: true;
  /**
   * Served to a suspended user too (the wrapper skips the suspension check):
   * erasing one's account, which the app stores require be always possible.
   */
  whileSuspended?: true;
}

export interface WsRoute {
  /** `$connect`, `$disconnect`, `$default` or the frame's `action`. */
  routeKey: string;
  handler: string;
  /** The action's bucket (or null); every valid frame also draws on the per-user `frames` budget. */
  rateLimit: RateBucket | null;
}

export interface QueueDefinition {
  /** Logical id; the env var `${ENV}` holds its URL. */
  id: string;
  env: string;
  /** Lambda consuming it; undefined when the queue is only a destination. */
  consumer?: string;
  batchSize: number;
  /** Receive count after which a message moves to the queue's DLQ. */
  maxReceiveCount: number;
  /**
   * At most this many concurrent invocations of the consumer (the event source's
   * maxConcurrency, 2-1000): a burst queues up here instead of taking the
   * account's concurrency from $connect and send. See BACKGROUND_CONCURRENCY.
   */
  maxConcurrency: number;
}

/**
 * Bounds on background work. An account has 1,000 concurrent executions by
 * default (a new one may start far lower until raised), shared by every
 * function. User-facing functions ($connect, send, the HTTP routes) must always
 * find room, so the background consumers are capped: the SQS consumers by their
 * event sources' maxConcurrency (per queue below: 77 in all), the stream
 * consumer by the number of shards times its parallelization factor (2 batches
 * per shard at once; its writes are idempotent maxima and set-adds, so order
 * across batches does not matter), the sweeper by its one-a-minute schedule.
 * That leaves over 90% of the default quota to user-facing work. No reserved
 * concurrency is used: reserving takes capacity away from everything else, and
 * an account whose quota is still at its starting value cannot reserve at all
 * (Lambda keeps 10 unreserved), so the first deploy would fail.
 */
export const BACKGROUND_CONCURRENCY = {
  /** Concurrent batches per stream shard (ParallelizationFactor, 1-10). */
  streamParallelization: 2,
} as const;

export interface ScheduleDefinition {
  handler: string;
  everySeconds: number;
}

/**
 * Every HTTP route sits behind API Gateway's JWT authorizer (issuer + audience,
 * lib/http-api.ts; emulated by the local gateway), and handlers read the verified
 * claims. The WebSocket $connect has this REQUEST Lambda authorizer, with the
 * same aws-jwt-verify code.
 */
export const wsAuthorizer = 'ws/authorizer';

/**
 * Identity sources of the $connect authorizer. API Gateway calls a REQUEST
 * authorizer only when *every* listed source is present and non-empty (else it
 * answers 401 itself); a list is all-of, never one-of, and a WebSocket authorizer
 * has no result-TTL setting of its own (AuthorizerResultTtlInSeconds is for HTTP
 * APIs only). So no list accepts both token forms of the connect (docs/asyncapi.json):
 * `route.request.querystring.token` would refuse token-less connects for free and
 * key any cached result on the token, but it would also refuse every subprotocol
 * connect (`Sec-WebSocket-Protocol: chat, <token>`) before the authorizer could
 * read it. The contract keeps both forms, so the list is empty: every connect
 * runs the authorizer (a cached-JWKS verify, about a millisecond; a missing token
 * is refused before any work), and $connect's stage throttling
 * (lib/websocket-api.ts) bounds what a flood of strangers can cost. Setting it to
 * ['route.request.querystring.token'] switches the stack and the local gateway
 * to the query-only arrangement.
 */
export const wsConnectIdentitySource: readonly string[] = [];

export const httpRoutes: readonly HttpRoute[] = [
  // Asking for a room draws on `write` (asking again for an existing direct room reads
  // it); a room actually created also draws on `roomsCreated` (domain/rooms.ts).
  { method: 'POST', path: '/api/chat/rooms', handler: 'http/create-room', rateLimit: 'write' },
  { method: 'GET', path: '/api/chat/rooms', handler: 'http/list-rooms', rateLimit: 'reads' },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}',
    handler: 'http/get-room',
    rateLimit: 'reads',
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/members',
    handler: 'http/add-members',
    rateLimit: 'members',
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/members/{user_id}',
    handler: 'http/remove-member',
    rateLimit: 'write',
  },
  {
    method: 'GET',
    path: '/api/chat/rooms/{room_id}/messages',
    handler: 'http/list-messages',
    rateLimit: 'reads',
  },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/messages',
    handler: 'http/send-message',
    rateLimit: 'send',
  },
  {
    method: 'DELETE',
    path: '/api/chat/messages/{message_id}',
    handler: 'http/delete-message',
    rateLimit: 'write',
  },
  {
    method: 'POST',
    path: '/api/chat/messages/{message_id}/forward',
    handler: 'http/forward-message',
    rateLimit: 'forward',
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}',
    handler: 'http/delete-room',
    rateLimit: 'write',
  },
  {
    method: 'DELETE',
    path: '/api/chat/rooms/{room_id}/messages',
    handler: 'http/clear-messages',
    rateLimit: 'write',
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/archive',
    handler: 'http/archive-room',
    rateLimit: 'write',
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/mute',
    handler: 'http/mute-room',
    rateLimit: 'write',
  },
  {
    method: 'GET',
    path: '/api/chat/unread-count',
    handler: 'http/unread-count',
    rateLimit: 'reads',
  },
  {
    method: 'PUT',
    path: '/api/chat/rooms/{room_id}/read-status',
    handler: 'http/read-status',
    rateLimit: 'receipts',
  },
  {
    method: 'PUT',
    path: '/api/chat/read-status',
    handler: 'http/batch-read-status',
    rateLimit: 'receipts',
  },
  {
    method: 'POST',
    path: '/api/chat/encryption/keys',
    handler: 'http/upload-key',
    rateLimit: 'keyUpload',
  },
  {
    method: 'GET',
    path: '/api/chat/encryption/keys/{user_id}',
    handler: 'http/get-keys',
    rateLimit: 'keyRead',
  },
  {
    method: 'POST',
    path: '/api/chat/encryption/verify',
    handler: 'http/verify-key',
    rateLimit: 'keyVerify',
  },
  {
    method: 'POST',
    path: '/api/chat/devices',
    handler: 'http/register-device',
    rateLimit: 'write',
  },
  {
    method: 'DELETE',
    path: '/api/chat/devices/{device_id}',
    handler: 'http/delete-device',
    rateLimit: 'write',
  },
  { method: 'GET', path: '/api/chat/sync', handler: 'http/sync', rateLimit: 'sync' },
  {
    method: 'POST',
    path: '/api/chat/rooms/{room_id}/attachments',
    handler: 'http/create-attachment',
    rateLimit: 'uploads',
  },
  {
    method: 'GET',
    path: '/api/chat/attachments/{attachment_id}',
    handler: 'http/get-attachment',
    rateLimit: 'reads',
  },
  {
    method: 'PUT',
    path: '/api/chat/blocks/{user_id}',
    handler: 'http/block-user',
    rateLimit: 'write',
  },
  {
    method: 'DELETE',
    path: '/api/chat/blocks/{user_id}',
    handler: 'http/unblock-user',
    rateLimit: 'write',
  },
  { method: 'GET', path: '/api/chat/blocks', handler: 'http/list-blocks', rateLimit: 'reads' },
  {
    method: 'POST',
    path: '/api/chat/reports',
    handler: 'http/create-report',
    rateLimit: 'reports',
  },
  {
    method: 'GET',
    path: '/api/chat/me/settings',
    handler: 'http/get-settings',
    rateLimit: 'reads',
  },
  {
    method: 'PUT',
    path: '/api/chat/me/settings',
    handler: 'http/update-settings',
    rateLimit: 'write',
  },
  // Erasing the caller's account: 202, the work runs on the account-erase queue.
  // A suspended user may still erase their account (the suspension item outlives it).
  {
    method: 'DELETE',
    path: '/api/chat/me',
    handler: 'http/erase-account',
    rateLimit: 'write',
    whileSuspended: true,
  },
  // Moderation (CONTRACT §9): the token's groups must hold the stage's moderator group.
  {
    method: 'GET',
    path: '/api/chat/moderation/reports',
    handler: 'http/list-reports',
    rateLimit: 'reads',
    moderators: true,
  },
  {
    method: 'POST',
    path: '/api/chat/moderation/reports/{report_id}/resolve',
    handler: 'http/resolve-report',
    rateLimit: 'write',
    moderators: true,
  },
  {
    method: 'PUT',
    path: '/api/chat/moderation/users/{user_id}/suspension',
    handler: 'http/suspend-user',
    rateLimit: 'write',
    moderators: true,
  },
  {
    method: 'DELETE',
    path: '/api/chat/moderation/users/{user_id}/suspension',
    handler: 'http/lift-suspension',
    rateLimit: 'write',
    moderators: true,
  },
  {
    method: 'GET',
    path: '/api/chat/moderation/audit',
    handler: 'http/list-audit',
    rateLimit: 'reads',
    moderators: true,
  },
];

let httpRoutesByKey: Map<string, HttpRoute> | undefined;

/** An HTTP route by API Gateway's routeKey ("POST /api/chat/rooms"). */
export function httpRouteOf(routeKey: string): HttpRoute | undefined {
  httpRoutesByKey ??= new Map(httpRoutes.map((r) => [`${r.method} ${r.path}`, r]));
  return httpRoutesByKey.get(routeKey);
}

export const wsRoutes: readonly WsRoute[] = [
  { routeKey: '$connect', handler: 'ws/connect', rateLimit: 'connect' },
  { routeKey: '$disconnect', handler: 'ws/disconnect', rateLimit: null },
  // Unknown actions draw on the frame budget alone (rate-limit.ts wsActionBuckets).
  { routeKey: '$default', handler: 'ws/default', rateLimit: null },
  { routeKey: 'send-message', handler: 'ws/send-message', rateLimit: 'send' },
  { routeKey: 'mark-messages-seen', handler: 'ws/mark-messages-seen', rateLimit: 'receipts' },
  { routeKey: 'room-archive', handler: 'ws/room-archive', rateLimit: 'write' },
  { routeKey: 'sync', handler: 'ws/sync', rateLimit: 'sync' },
  // Over its bucket a typing frame is dropped without an answer (QUIET_BUCKETS).
  { routeKey: 'typing', handler: 'ws/typing', rateLimit: 'typing' },
];

/**
 * Actions API Gateway answers itself, with a MOCK integration and a two-way
 * route response: no function runs and nothing is written, so a heartbeat
 * costs its two WebSocket messages and nothing else. The sweeper learns each
 * connection's last activity from API Gateway (GetConnection) instead.
 */
export interface WsGatewayReply {
  routeKey: string;
  /** The event of the frame sent back: `{event, data: {server_time}}`. */
  event: string;
}

export const wsGatewayReplies: readonly WsGatewayReply[] = [{ routeKey: 'ping', event: 'pong' }];

/** The reply frame, as the local gateway sends it and the VTL in lib/websocket-api.ts builds it. */
export const gatewayReplyFrame = (reply: WsGatewayReply, at: Date) => ({
  event: reply.event,
  data: { server_time: at.toISOString() },
});

/** DynamoDB-stream consumers of the table. */
export const streamConsumers: readonly { handler: string; batchSize: number }[] = [
  { handler: 'streams/room-activity', batchSize: 100 },
];

export const queues: readonly QueueDefinition[] = [
  {
    id: 'offline-delivery',
    env: 'OFFLINE_QUEUE_URL',
    consumer: 'queues/offline-delivery',
    batchSize: 10,
    maxReceiveCount: 5,
    // pending writes and pushes for members who were offline
    maxConcurrency: 20,
  },
  {
    id: 'flush-pending',
    env: 'FLUSH_QUEUE_URL',
    consumer: 'queues/flush-pending',
    batchSize: 10,
    maxReceiveCount: 5,
    // a reconnect's pending messages; bursts after an outage wait their turn
    maxConcurrency: 10,
  },
  {
    id: 'fan-out',
    env: 'FANOUT_QUEUE_URL',
    consumer: 'queues/fan-out',
    batchSize: 1,
    maxReceiveCount: 5,
    // big-room chunks: their posts draw on the account's 10,000 rps API Gateway quota
    maxConcurrency: 20,
  },
  {
    id: 'seq-gaps',
    env: 'GAP_QUEUE_URL',
    consumer: 'queues/fill-gaps',
    batchSize: 10,
    maxReceiveCount: 5,
    // rare: numbers that failed sends took
    maxConcurrency: 5,
  },
  {
    id: 'room-purge',
    env: 'PURGE_QUEUE_URL',
    consumer: 'queues/room-purge',
    batchSize: 5,
    maxReceiveCount: 5,
    // background deletes; never urgent
    maxConcurrency: 5,
  },
  {
    id: 'attachments',
    env: 'ATTACHMENTS_QUEUE_URL',
    consumer: 'queues/attachment-storage',
    batchSize: 10,
    maxReceiveCount: 5,
    // retagging sent files and deleting released ones; never urgent
    maxConcurrency: 5,
  },
  {
    id: 'presence-check',
    env: 'PRESENCE_QUEUE_URL',
    consumer: 'queues/presence-check',
    batchSize: 10,
    maxReceiveCount: 5,
    // one check per last disconnect, after the grace period
    maxConcurrency: 10,
  },
  {
    id: 'account-erase',
    env: 'ERASE_QUEUE_URL',
    consumer: 'queues/account-erase',
    batchSize: 1,
    maxReceiveCount: 5,
    // erasing accounts (DELETE /api/chat/me): rare, each job continues itself
    maxConcurrency: 2,
  },
];

export const schedules: readonly ScheduleDefinition[] = [
  { handler: 'schedules/presence-sweeper', everySeconds: 60 },
];

/** Every Lambda entry, for bundling and the bundle benchmark. */
export function allHandlers(): string[] {
  return [
    wsAuthorizer,
    ...httpRoutes.map((r) => r.handler),
    ...wsRoutes.map((r) => r.handler),
    ...streamConsumers.map((c) => c.handler),
    ...queues.flatMap((q) => (q.consumer ? [q.consumer] : [])),
    ...schedules.map((s) => s.handler),
  ];
}
