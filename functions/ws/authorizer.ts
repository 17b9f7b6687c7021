import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { verifyToken } from '#platform/auth.ts';
import { AppError } from '#platform/errors.ts';
import { headerValue } from '#platform/headers.ts';

/**
 * `$connect` REQUEST authorizer. Browsers cannot set headers on a WebSocket, so
 * the token comes from `?token=` or as the second value of Sec-WebSocket-Protocol
 * (the $connect handler echoes the first value back).
 */
export function tokenFrom(event: APIGatewayRequestAuthorizerEvent): string | undefined {
  const fromQuery = event.queryStringParameters?.token;
  if (fromQuery) return fromQuery;
  const protocols = headerValue(event.headers, 'sec-websocket-protocol');
  return protocols
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean)[1];
}

export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  // API Gateway answers 401 only to this exact error message.
  const { caller, expiresAt } = await verifyToken(tokenFrom(event)).catch((cause) => {
    throw new AppError('UNAUTHORIZED', 'Unauthorized', { cause });
  });
  return {
    principalId: caller.userId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
    // API Gateway hands this context to every later route of the connection; `exp`
    // lets each action refuse a connection that outlived its token (platform/ws.ts).
    context: { user_id: caller.userId, name: caller.name, exp: String(expiresAt) },
  };
};
