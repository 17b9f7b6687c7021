import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import {
  gatewayReplyFrame,
  wsAuthorizer,
  wsConnectIdentitySource,
  wsGatewayReplies,
  wsRoutes,
} from '#functions/routes.ts';
import { LIMITS, WS_MESSAGE_BYTES } from '#platform/limits.ts';
import { invoke, invokeInLane } from './lambda-runtime.ts';

/**
 * The local API Gateway WebSocket API and, on a port of its own bound to
 * 127.0.0.1, its @connections management endpoint (the functions' WS_ENDPOINT):
 * the public port serves upgrades only, so no client can post to, read or close
 * another's connection through it. It keeps AWS's rules that the code depends on: $connect runs
 * behind the REQUEST authorizer, a connection cannot be posted to until its
 * $connect has returned (410), a closed connection answers 410 GoneException,
 * frames route by `action` with `$default` as the fallback, and the route's
 * return value is not sent to the client.
 */
interface LiveConnection {
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  authorizer: Record<string, string>;
}

type WsResult = { statusCode?: number; headers?: Record<string, string> } | undefined;

const routeByKey = new Map(wsRoutes.map((r) => [r.routeKey, r.handler]));

export interface WsGateway {
  /** The public WebSocket port: upgrades only, any other request is 404. */
  server: Server;
  /** @connections, for the functions: to be bound to loopback only. */
  management: Server;
  /** Connection ids still inside their $connect (posting to them answers 410). */
  connecting: Set<string>;
  connections: Map<string, LiveConnection>;
}

function newConnectionId(): string {
  // API Gateway's ids look like "L0SM9cOFvHcCIhw=".
  return randomBytes(10).toString('base64');
}

function requestContext(
  connectionId: string,
  conn: Pick<LiveConnection, 'connectedAt' | 'sourceIp'>,
  routeKey: string,
  eventType: string,
  port: number,
) {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    connectionId,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    requestTime: new Date(now).toUTCString(),
    requestId: randomUUID(),
    extendedRequestId: randomUUID(),
    messageId: eventType === 'MESSAGE' ? randomBytes(8).toString('base64') : undefined,
    messageDirection: 'IN',
    domainName: `127.0.0.1:${port}`,
    stage: 'local',
    apiId: 'local-ws',
    identity: { sourceIp: conn.sourceIp },
  };
}

/**
 * API Gateway calls a REQUEST authorizer only when every identity source is
 * present and non-empty; otherwise it answers 401 itself.
 */
export function identitySourcesPresent(
  sources: readonly string[],
  headers: Record<string, string>,
  query: Record<string, string> | undefined,
): boolean {
  return sources.every((source) => {
    const header = /^route\.request\.header\.(.+)$/.exec(source)?.[1];
    if (header) return Boolean(headers[header.toLowerCase()]);
    const param = /^route\.request\.querystring\.(.+)$/.exec(source)?.[1];
    if (param) return Boolean(query?.[param]);
    return true; // stage variables and context values are always there
  });
}

function rejectUpgrade(socket: Duplex, status: number, reason: string) {
  socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

export function createWsGateway(getPort: () => number): WsGateway {
  const connections = new Map<string, LiveConnection>();
  const connecting = new Set<string>();
  const chosenProtocol = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({
    noServer: true,
    // API Gateway caps a frame at 32 KB; larger ones close the connection (1009).
    maxPayload: LIMITS.bodyBytes,
    handleProtocols: (_offered, req) => chosenProtocol.get(req) ?? false,
  });

  // No client can take the process down: every emitter a client can make fail
  // (the server, the raw socket before the handshake, each WebSocket) has an
  // 'error' listener. ws itself closes a bad socket with the right code (1009 for a
  // frame over maxPayload, 1007 for invalid UTF-8, 1002 for a protocol error).
  wss.on('error', (error) => console.error('[ws] server error', error));

  const server = createServer((_req, res) => {
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ message: 'Not Found' }));
  });
  server.on('error', (error) => console.error('[ws] server error', error));
  const management = createServer((req, res) => {
    handleManagement(req, res, connections, connecting).catch((error: unknown) => {
      console.error('[ws] @connections failed', error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  management.on('error', (error) => console.error('[ws] @connections server error', error));

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets the connection during $connect must not crash us.
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((error: unknown) => {
      console.error('[ws] $connect failed', error);
      rejectUpgrade(socket, 500, 'Internal Server Error');
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const port = getPort();
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const headers = headersOf(req);
    const query = url.searchParams.size ? Object.fromEntries(url.searchParams) : undefined;
    const connectionId = newConnectionId();
    const base = { connectedAt: Date.now(), sourceIp: req.socket.remoteAddress ?? '127.0.0.1' };
    let authorizer: Record<string, string>;
    if (!identitySourcesPresent(wsConnectIdentitySource, headers, query))
      return rejectUpgrade(socket, 401, 'Unauthorized');
    try {
      const policy = await invoke<{
        principalId: string;
        context?: Record<string, string>;
        policyDocument: { Statement: { Effect: string }[] };
      }>(wsAuthorizer, {
        type: 'REQUEST',
        methodArn: `arn:aws:execute-api:us-east-1:000000000000:local-ws/local/$connect`,
        headers,
        multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        queryStringParameters: query ?? null,
        multiValueQueryStringParameters: query
          ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]))
          : null,
        stageVariables: null,
        requestContext: requestContext(connectionId, base, '$connect', 'CONNECT', port),
      });
      if (policy.policyDocument.Statement.some((s) => s.Effect !== 'Allow'))
        return rejectUpgrade(socket, 403, 'Forbidden');
      authorizer = { principalId: policy.principalId, ...(policy.context ?? {}) };
    } catch {
      return rejectUpgrade(socket, 401, 'Unauthorized');
    }

    connecting.add(connectionId);
    try {
      const result = await invoke<WsResult>(routeByKey.get('$connect')!, {
        headers,
        multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        ...(query ? { queryStringParameters: query } : {}),
        isBase64Encoded: false,
        requestContext: {
          ...requestContext(connectionId, base, '$connect', 'CONNECT', port),
          authorizer,
        },
      });
      const status = result?.statusCode ?? 200;
      if (status < 200 || status >= 300) return rejectUpgrade(socket, status, 'Refused');
      const protocol = result?.headers?.['Sec-WebSocket-Protocol'];
      if (protocol) chosenProtocol.set(req, protocol);
      wss.handleUpgrade(req, socket, head, (ws) => {
        const conn: LiveConnection = { socket: ws, lastActiveAt: Date.now(), authorizer, ...base };
        connections.set(connectionId, conn);
        ws.on('error', (error) => logSocketError(connectionId, error));
        ws.on('message', (data, isBinary) =>
          onFrame(connectionId, conn, isBinary ? '' : data.toString()),
        );
        ws.on('close', () => onClose(connectionId, conn));
      });
    } finally {
      connecting.delete(connectionId);
    }
  }

  function onFrame(connectionId: string, conn: LiveConnection, body: string) {
    conn.lastActiveAt = Date.now();
    let action: unknown;
    try {
      action = (JSON.parse(body) as { action?: unknown }).action;
    } catch {
      action = undefined;
    }
    // Routes API Gateway answers itself (MOCK integration + route response): no function runs.
    const reply = wsGatewayReplies.find((r) => r.routeKey === action);
    if (reply) {
      conn.socket.send(JSON.stringify(gatewayReplyFrame(reply, new Date(conn.lastActiveAt))));
      return;
    }
    const routeKey =
      typeof action === 'string' && routeByKey.has(action) && !action.startsWith('$')
        ? action
        : '$default';
    const caller = conn.authorizer.user_id ?? conn.authorizer.principalId ?? connectionId;
    invokeInLane(String(caller), routeByKey.get(routeKey)!, {
      body,
      isBase64Encoded: false,
      requestContext: {
        ...requestContext(connectionId, conn, routeKey, 'MESSAGE', getPort()),
        authorizer: conn.authorizer,
      },
    }).catch((error: unknown) => console.error(`[ws] ${routeKey} failed`, error));
  }

  function onClose(connectionId: string, conn: LiveConnection) {
    if (connections.get(connectionId) !== conn) return;
    connections.delete(connectionId);
    invoke(routeByKey.get('$disconnect')!, {
      isBase64Encoded: false,
      requestContext: {
        ...requestContext(connectionId, conn, '$disconnect', 'DISCONNECT', getPort()),
        authorizer: conn.authorizer,
      },
    }).catch((error: unknown) => console.error('[ws] $disconnect failed', error));
  }

  return { server, management, connecting, connections };
}

/** A client's bad frame is its own problem: ws has already closed that socket. */
function logSocketError(connectionId: string, error: Error) {
  const code = (error as Error & { code?: string }).code ?? error.message;
  console.warn(`[ws] ${connectionId} closed: ${code}`);
}

function gone(res: ServerResponse) {
  res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
  res.end(JSON.stringify({ message: null }));
}

/**
 * API Gateway's largest message (limits.ts WS_MESSAGE_BYTES, 128 KB): a bigger
 * post is PayloadTooLargeException (413) and reaches no client, so a server
 * frame that grows past it fails here as it would on AWS.
 */
export const MANAGEMENT_BODY_LIMIT = WS_MESSAGE_BYTES;

/**
 * The body, or undefined once it is known to pass `limit`: from Content-Length
 * before any byte is read, or while reading a chunked body; the rest is never
 * buffered.
 */
function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tooLarge(res: ServerResponse) {
  // Connection: close, so the unread rest of the body is dropped with the socket.
  res.writeHead(413, {
    'content-type': 'application/json',
    'x-amzn-errortype': 'PayloadTooLargeException',
    connection: 'close',
  });
  res.end(JSON.stringify({ message: 'Request Too Long' }));
}

/** POST / GET / DELETE /@connections/{id}, as the management API answers them. */
async function handleManagement(
  req: IncomingMessage,
  res: ServerResponse,
  connections: Map<string, LiveConnection>,
  connecting: Set<string>,
) {
  const match = /^\/(?:[^/]+\/)?@connections\/([^/?]+)/.exec(req.url ?? '');
  if (!match) {
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ message: 'Not Found' }));
    return;
  }
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(match[1]!);
  } catch {
    res.writeHead(400, { 'x-amzn-errortype': 'BadRequestException' }).end();
    return;
  }
  const body = await readBounded(req, MANAGEMENT_BODY_LIMIT);
  if (!body) return tooLarge(res);
  const conn = connections.get(connectionId);
  if (connecting.has(connectionId) || !conn || conn.socket.readyState !== WebSocket.OPEN)
    return gone(res);
  if (req.method === 'POST') {
    await new Promise<void>((resolve, reject) =>
      conn.socket.send(body.toString('utf8'), (e) => (e ? reject(e) : resolve())),
    );
    res.writeHead(200).end();
  } else if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      // restJson1 member names, as the SDK's GetConnection parses them.
      JSON.stringify({
        connectedAt: new Date(conn.connectedAt).toISOString(),
        lastActiveAt: new Date(conn.lastActiveAt).toISOString(),
        identity: { sourceIp: conn.sourceIp },
      }),
    );
  } else if (req.method === 'DELETE') {
    conn.socket.close(1000);
    res.writeHead(204).end();
  } else {
    res.writeHead(405).end();
  }
}
