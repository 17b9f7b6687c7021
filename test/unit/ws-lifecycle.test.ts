import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { AppError, StoreError } = await import('#platform/errors.ts');
const { wsLifecycle } = await import('#platform/ws.ts');
type WsEvent = import('#platform/ws.ts').WsEvent;

const context = {
  functionName: 'test',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 10_000,
} as Context;

// $disconnect draws on no rate-limit bucket, so nothing here reaches DynamoDB.
const event = (authorizer?: Record<string, string>) =>
  ({
    requestContext: { routeKey: '$disconnect', connectionId: 'c1', authorizer },
  }) as unknown as WsEvent;

describe('connect/disconnect lifecycle errors', () => {
  it('answers a status API Gateway understands instead of escaping as a Lambda error', async () => {
    // Prepare
    const throwing = (error: unknown) =>
      wsLifecycle(async () => {
        throw error;
      });
    const caller = { user_id: 'u_1' };

    // Act
    const unauthenticated = await wsLifecycle(async () => ({ statusCode: 200 }))(event(), context);
    const unexpected = await throwing(new Error('boom'))(event(caller), context);
    const store = await throwing(new StoreError('kept failing'))(event(caller), context);
    const limited = await throwing(
      new AppError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 7 }),
    )(event(caller), context);
    const fine = await wsLifecycle(async () => ({ statusCode: 200 }))(event(caller), context);

    // Assess
    expect(unauthenticated).toEqual({ statusCode: 401 });
    expect(unexpected).toEqual({ statusCode: 500 });
    expect(store).toEqual({ statusCode: 500 });
    expect(limited).toEqual({ statusCode: 429, headers: { 'Retry-After': '7' } });
    expect(fine).toEqual({ statusCode: 200 });
  });

  it('keeps what a wrapped error wraps, and tells a client nothing internal', () => {
    const cause = new Error('ProvisionedThroughputExceeded');
    const error = new StoreError('BatchGet kept returning unprocessed keys', cause);
    expect(error.cause).toBe(cause);
    expect(error.status).toBe(500);
    expect(error.publicMessage).toBe('Internal server error');
    expect(new AppError('NOT_FOUND', 'Room not found').publicMessage).toBe('Room not found');
  });
});
