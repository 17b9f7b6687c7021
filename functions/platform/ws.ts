import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import type { Caller } from './auth.ts';
import { AppError, loggedError, toAppError } from './errors.ts';
import { describeIssues } from './issues.ts';
import { LIMITS } from './limits.ts';
import { logger } from './observability.ts';
import { closeConnection, postToConnection } from './post-to-connection.ts';
import {
  chargeInvalidFrame,
  chargeLifecycle,
  chargeWsFrame,
  wsActionBuckets,
} from './rate-limit.ts';
import { firstRefusal, requireNotSuspended } from './suspension.ts';

/** What the $connect authorizer put in the context reaches every route of the connection. */
export type WsEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: {
    authorizer?: { principalId?: string; user_id?: string; name?: string; exp?: string | number };
  };
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
};

export const OK = { statusCode: 200 } as const;

export function callerOf(event: WsEvent): Caller {
  const auth = event.requestContext.authorizer;
  const userId = auth?.user_id ?? auth?.principalId;
  if (!userId) throw new AppError('UNAUTHORIZED', 'Connection is not authenticated');
  return { userId, name: auth?.name ?? userId };
}

/**
 * The connection outlived its token: the $connect authorizer put the token's `exp`
 * (epoch seconds) in the context, which API Gateway passes to every later route
 * of the connection. A connection without one is refused as well.
 */
export function tokenExpired(event: WsEvent, nowMs = Date.now()): boolean {
  const exp = Number(event.requestContext.authorizer?.exp);
  return !Number.isFinite(exp) || exp * 1000 <= nowMs;
}

/** The token's expiry as an ISO time, for the connection record (undefined: none given). */
export function tokenExpiresAt(event: WsEvent): string | undefined {
  const exp = Number(event.requestContext.authorizer?.exp);
  return Number.isFinite(exp) ? new Date(exp * 1000).toISOString() : undefined;
}

/** The frame as far as it parses, for naming its action and temp_id in an answer. */
function lenientFrame(body: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body ?? '');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface WsRequest<T> {
  caller: Caller;
  connectionId: string;
  body: T;
}

/** Lifecycle routes ($connect, $disconnect): logging and the caller, no frame to parse. */
export function wsLifecycle(
  handle: (event: WsEvent, caller: Caller) => Promise<APIGatewayProxyResultV2>,
) {
  return middy<WsEvent, APIGatewayProxyResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      try {
        const caller = callerOf(event);
        const refused = await chargeLifecycle(
          event.requestContext.routeKey,
          caller.userId,
          event.requestContext.requestTimeEpoch,
        );
        return refused ?? (await handle(event, caller));
      } catch (thrown) {
        // API Gateway answers the handshake with this status; a raw Lambda error would be a bare 500.
        const error = toAppError(thrown);
        if (error.status >= 500) logger.error('Unhandled error', { error: loggedError(error) });
        return error.retryAfterSeconds
          ? {
              statusCode: error.status,
              headers: { 'Retry-After': String(error.retryAfterSeconds) },
            }
          : { statusCode: error.status };
      }
    });
}

export interface WsActionOptions<T> {
  /** The action an answer names ($default names the one the client sent). */
  reportedAction?: (frame: Record<string, unknown>) => string;
  /**
   * Tokens of the action's bucket a valid frame draws: what it writes, where
   * that grows with the frame (one per message id marked seen). Default 1.
   */
  cost?: (body: T) => number;
}

/**
 * A client action (route key = the frame's `action`): parse and validate the
 * frame, charge it, run `handle`. A bad or refused frame is answered with an
 * `error` event on the same connection, which stays open.
 */
export function wsAction<T>(
  action: string,
  schema: z.ZodMiniType<T>,
  handle: (request: WsRequest<T>) => Promise<void>,
  options: WsActionOptions<T> = {},
) {
  const reportedAction = options.reportedAction ?? (() => action);
  // Resolved at cold start: an action without a rate-limit declaration fails to load.
  const buckets = wsActionBuckets(action);
  const handler = middy<WsEvent, APIGatewayProxyResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const connectionId = event.requestContext.connectionId;
      if (tokenExpired(event)) {
        // Checked before anything else: an expired socket can do nothing but go.
        const seen = lenientFrame(event.body);
        const tempId = typeof seen.temp_id === 'string' ? seen.temp_id : undefined;
        const expired = new AppError('UNAUTHORIZED', 'The token has expired: connect again');
        await postToConnection(connectionId, {
          event: 'error',
          data: errorData(expired, reportedAction(seen), tempId),
        });
        await closeConnection(connectionId);
        return OK;
      }
      let frame: Record<string, unknown> = {};
      try {
        const caller = callerOf(event);
        const receivedAt = event.requestContext.requestTimeEpoch;
        let body: T;
        try {
          frame = parseFrame(event.body);
          const parsed = schema.safeParse(frame);
          if (!parsed.success) {
            throw new AppError(
              'VALIDATION_ERROR',
              `Invalid ${action}: ${describeIssues(parsed.error.issues)}`,
            );
          }
          body = parsed.data;
        } catch (invalid) {
          await chargeInvalidFrame(caller.userId, receivedAt);
          throw invalid;
        }
        logger.appendKeys({ user_id: caller.userId, action });
        // Charged once the frame is known to be valid, before any domain work.
        const cost = options.cost?.(body) ?? 1;
        const charged = chargeWsFrame(buckets, caller.userId, cost, receivedAt);
        await firstRefusal([requireNotSuspended(caller.userId), charged]);
        if ((await charged) === 'drop') return OK;
        await handle({ caller, connectionId, body });
      } catch (error) {
        const tempId = typeof frame.temp_id === 'string' ? frame.temp_id : undefined;
        await postToConnection(connectionId, {
          event: 'error',
          data: errorData(error, reportedAction(frame), tempId),
        });
        // A suspended user keeps no socket: one that slipped past the moderator's close goes now.
        if (toAppError(error).code === 'SUSPENDED') await closeConnection(connectionId);
      }
      return OK;
    });
  // The API documents (docs/) are generated from this same schema.
  return Object.assign(handler, { schema, action });
}

function parseFrame(body: string | undefined): Record<string, unknown> {
  if (body && Buffer.byteLength(body, 'utf8') > LIMITS.bodyBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Frame is over ${LIMITS.bodyBytes} bytes`);
  }
  try {
    const value: unknown = JSON.parse(body ?? '');
    if (value && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new AppError('VALIDATION_ERROR', 'Frame must be a JSON object');
}

function errorData(error: unknown, action: string, tempId: string | undefined) {
  const base = tempId ? { action, temp_id: tempId } : { action };
  const appError = toAppError(error);
  if (appError.status >= 500)
    logger.error('Unhandled error', { error: loggedError(appError), action });
  return { code: appError.code, message: appError.publicMessage, ...base };
}
