import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type * as z from 'zod/mini';
import { httpRouteOf } from '#functions/routes.ts';
import { type Caller, callerFromClaims } from './caller.ts';
import { AppError, type ErrorCode, errorBody, loggedError, toAppError } from './errors.ts';
import { describeIssues } from './issues.ts';
import { LIMITS } from './limits.ts';
import { requireModerator } from './moderators.ts';
import { logger } from './observability.ts';
import { chargeHttpRoute } from './rate-limit.ts';
import { firstRefusal, requireNotSuspended } from './suspension.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface HttpReply<D = unknown> {
  status?: number;
  message?: string;
  data: D;
}

/**
 * A success body's schema in domain/responses.ts, by name (domain/response-ref.ts).
 * The handler's answer must type-check against the schema, and docs/generate.ts
 * looks it up by the name: the schemas are not used at run time, so no bundle
 * carries them.
 */
export interface ResponseRef<D> {
  readonly name: string;
  /** Type only: the schema's output. */
  readonly data?: D;
}

interface Schemas<B, Q, P, D> {
  body?: z.ZodMiniType<B>;
  query?: z.ZodMiniType<Q>;
  params?: z.ZodMiniType<P>;
  response?: ResponseRef<D>;
  /**
   * Tokens of the route's bucket a valid request draws: what it writes, where
   * that grows with the request (one per room marked read). Default 1.
   */
  cost?: (body: B) => number;
}

export interface HttpRequest<B, Q, P> {
  caller: Caller;
  body: B;
  query: Q;
  params: P;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function reply(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode: status,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(body),
  };
}

function failure(code: ErrorCode, status: number, message: string, retryAfter?: number) {
  const headers: Record<string, string> = retryAfter ? { 'retry-after': String(retryAfter) } : {};
  return reply(status, errorBody(code, message), headers);
}

/** One place turns every thrown error into the contract's envelope (middy http-error-handler style). */
const errorEnvelope = (): MiddlewareObj<HttpEvent, HttpResult> => ({
  name: 'errorEnvelope',
  onError: (request) => {
    const error = toAppError(request.error);
    if (error.status >= 500) {
      logger.error('Unhandled error', {
        error: loggedError(error),
        routeKey: request.event.routeKey,
        path: request.event.rawPath,
      });
    }
    request.response = failure(
      error.code,
      error.status,
      error.publicMessage,
      error.retryAfterSeconds,
    );
  },
});

function parse<T>(schema: z.ZodMiniType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new AppError(
      'VALIDATION_ERROR',
      `Invalid ${where}: ${describeIssues(result.error.issues)}`,
    );
  }
  return result.data;
}

function readJsonBody(event: HttpEvent): unknown {
  if (event.body === undefined || event.body === '') return {};
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body, 'base64').toString('utf8')
    : event.body;
  if (Buffer.byteLength(raw, 'utf8') > LIMITS.bodyBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Body is over ${LIMITS.bodyBytes} bytes`);
  }
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw new AppError('VALIDATION_ERROR', 'Body is not valid JSON', { cause });
  }
}

/**
 * The claims API Gateway's JWT authorizer verified (lib/http-api.ts; the local
 * gateway does the same): handlers never see or verify a token themselves.
 */
function claimsOf(event: HttpEvent): Record<string, unknown> | undefined {
  const context = event.requestContext as {
    authorizer?: { jwt?: { claims?: Record<string, unknown> } };
  };
  return context.authorizer?.jwt?.claims;
}

/**
 * Wraps an authenticated JSON route: take the caller from the verified claims,
 * parse and validate body, query and path with zod, run `handle`, answer in the
 * envelope.
 */
export function httpRoute<B = undefined, Q = undefined, P = undefined, D = unknown>(
  schemas: Schemas<B, Q, P, D>,
  handle: (request: HttpRequest<B, Q, P>) => Promise<HttpReply<NoInfer<D>>>,
) {
  const handler = middy<HttpEvent, HttpResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(errorEnvelope())
    .handler(async (event) => {
      const claims = claimsOf(event);
      const caller = callerFromClaims(claims);
      logger.appendKeys({ user_id: caller.userId });
      const route = httpRouteOf(event.routeKey);
      if (route?.moderators) requireModerator(claims);
      const request: HttpRequest<B, Q, P> = {
        caller,
        body: schemas.body ? parse(schemas.body, readJsonBody(event), 'body') : (undefined as B),
        query: parse(schemas.query, event.queryStringParameters, 'query'),
        params: parse(schemas.params, event.pathParameters, 'path'),
      };
      // Charged only once the request is known to be valid, before any domain work;
      // the suspension check runs beside it, and wins when both refuse.
      await firstRefusal([
        route?.whileSuspended ? undefined : requireNotSuspended(caller.userId),
        chargeHttpRoute(
          event.routeKey,
          caller.userId,
          schemas.cost?.(request.body) ?? 1,
          event.requestContext.timeEpoch,
        ),
      ]);
      const result = await handle(request);
      const body: Record<string, unknown> = { success: true };
      if (result.message) body.message = result.message;
      body.data = result.data;
      return reply(result.status ?? 200, body);
    });
  // The API documents (docs/) are generated from these same schemas.
  return Object.assign(handler, { schemas });
}
