import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import pLimit from 'p-limit';
import { ENV, requireEnv } from './env.ts';
import { LIMITS, WS_MESSAGE_BYTES } from './limits.ts';
import { logger } from './observability.ts';

let managementClient: ApiGatewayManagementApiClient | undefined;
/** The @connections API of the WebSocket stage (WS_ENDPOINT), created on first use. */
function connectionsApi(): ApiGatewayManagementApiClient {
  managementClient ??= new ApiGatewayManagementApiClient({ endpoint: requireEnv(ENV.wsEndpoint) });
  return managementClient;
}

export type PostResult = 'delivered' | 'gone' | 'failed';

/**
 * Server → client frame of the WebSocket protocol (docs/asyncapi.json). One
 * post is one message, at most API Gateway's 128 KB (limits.ts
 * WS_MESSAGE_BYTES). The only frame that carries many events, `sync-result`,
 * is cut to fit (domain/sync.ts); every other carries one event, whose size a
 * request of at most 32 KB bounds (a message), or ids and times (at most 100
 * ids, or 99 members added).
 */
export interface ServerEvent {
  event: string;
  data: unknown;
}

export async function postToConnection(
  connectionId: string,
  frame: ServerEvent,
): Promise<PostResult> {
  const data = JSON.stringify(frame);
  try {
    await connectionsApi().send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }),
    );
    return 'delivered';
  } catch (error) {
    if (error instanceof GoneException || (error as Error).name === 'GoneException') return 'gone';
    if (
      error instanceof PayloadTooLargeException ||
      (error as Error).name === 'PayloadTooLargeException'
    ) {
      // A bug here, not the connection's fault: it stays. Nothing reached the client.
      logger.error('postToConnection refused: frame over the 128 KB message limit', {
        connectionId,
        event: frame.event,
        bytes: Buffer.byteLength(data, 'utf8'),
        limitBytes: WS_MESSAGE_BYTES,
      });
      return 'failed';
    }
    logger.warn('postToConnection failed', {
      connectionId,
      event: frame.event,
      error: error as Error,
    });
    return 'failed';
  }
}

/**
 * Posts frames to many connections in parallel, with a bound: posts draw on the
 * account-wide API Gateway request quota.
 */
export async function postToMany(
  posts: readonly { connectionId: string; frame: ServerEvent }[],
): Promise<PostResult[]> {
  const limit = pLimit(LIMITS.fanOutConcurrency);
  return Promise.all(posts.map((p) => limit(() => postToConnection(p.connectionId, p.frame))));
}

/** Closes a connection (API Gateway then runs $disconnect); an already closed one is fine. */
export async function closeConnection(connectionId: string): Promise<void> {
  try {
    await connectionsApi().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  } catch (error) {
    if (!(error instanceof GoneException || (error as Error).name === 'GoneException')) throw error;
  }
}

/**
 * API Gateway's view of a connection: when it was last active, or 'gone'. Lets
 * the sweeper find dead connections with no write per heartbeat. That a `ping`
 * answered by the MOCK integration counts as activity is assumed, not
 * documented by AWS: the sweep's breaker (domain/presence.ts, SILENCE_BREAKER)
 * keeps it safe if it does not.
 */
export async function connectionActivity(
  connectionId: string,
): Promise<{ lastActiveAt: Date } | 'gone'> {
  try {
    const out = await connectionsApi().send(
      new GetConnectionCommand({ ConnectionId: connectionId }),
    );
    return { lastActiveAt: out.LastActiveAt ?? out.ConnectedAt ?? new Date(0) };
  } catch (error) {
    if (error instanceof GoneException || (error as Error).name === 'GoneException') return 'gone';
    throw error;
  }
}
