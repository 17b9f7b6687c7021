import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { type HttpRoute, httpRoutes } from '#functions/routes.ts';
import { bearerToken, createTokenVerifier, type TokenVerifier } from '#platform/auth.ts';
import { LIMITS } from '#platform/limits.ts';
import { DEFAULT_TOKEN_SECONDS, type LocalIssuer } from './issuer.ts';
import { invokeInLane } from './lambda-runtime.ts';
import { serveSite } from './site.ts';

/**
 * The local API Gateway HTTP API: matches the route table, runs the JWT
 * authorizer every route has on AWS (lib/http-api.ts), builds a payload v2.0
 * event as AWS does, and invokes the route's handler module. /local/* is the dev
 * issuer, which a deployed stack does not have.
 */
interface CompiledRoute {
  route: HttpRoute;
  pattern: RegExp;
  params: string[];
}

const compiled: CompiledRoute[] = httpRoutes.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), params };
});

/** The route for method + path, with its path parameters still percent-encoded. */
function match(method: string, path: string) {
  for (const c of compiled) {
    if (c.route.method !== method) continue;
    const m = c.pattern.exec(path);
    if (m) {
      const rawParameters = Object.fromEntries(c.params.map((p, i) => [p, m[i + 1]!]));
      return { route: c.route, rawParameters };
    }
  }
  return undefined;
}

/** Methods that have a route on this path: a wrong method gets 405 with them in `Allow`. */
function allowedMethods(path: string): string[] {
  return [...new Set(compiled.filter((c) => c.pattern.test(path)).map((c) => c.route.method))];
}

/** As the deployed API's CORS configuration (lib/http-api.ts) answers a preflight. */
const CORS_PREFLIGHT = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization,content-type',
  'access-control-allow-methods': 'GET,POST,PUT,DELETE',
};

/** Decodes path parameters; a malformed `%` escape is the client's error (400), not ours. */
function decodeParameters(raw: Record<string, string>): Record<string, string> | undefined {
  try {
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decodeURIComponent(v)]));
  } catch {
    return undefined;
  }
}

const envelope = (code: string, message: string) =>
  JSON.stringify({ success: false, error: { code, message } });

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

/** Reads the body, stopping early past the API's limit (API Gateway refuses those too). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMITS.bodyBytes) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Claims as API Gateway's JWT authorizer hands them to the integration: every
 * value a string (numbers and booleans printed, arrays as `[a b]`).
 */
export function gatewayClaims(payload: Record<string, unknown>): Record<string, string> {
  const text = (value: unknown): string =>
    Array.isArray(value)
      ? `[${value.map(text).join(' ')}]`
      : value !== null && typeof value === 'object'
        ? `map[${Object.entries(value)
            .map(([k, v]) => `${k}:${text(v)}`)
            .join(' ')}]`
        : String(value);
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, text(v)]));
}

/**
 * The JWT authorizer of the deployed HTTP API (issuer + audience, RS256 keys from
 * the issuer's JWKS), with the same aws-jwt-verify code the $connect authorizer
 * uses. Like API Gateway it takes the token with or without `Bearer `.
 */
function jwtAuthorizer(issuer: LocalIssuer) {
  let verifier: TokenVerifier | undefined;
  return async (authorization: string | undefined) => {
    if (!verifier) {
      verifier = createTokenVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        jwksUri: `${issuer.issuer}/.well-known/jwks.json`,
      });
      // API Gateway fetches the issuer's JWKS; here the gateway already holds it.
      verifier.cacheJwks(issuer.jwks as Parameters<TokenVerifier['cacheJwks']>[0]);
    }
    try {
      return gatewayClaims((await verifier.verify(bearerToken(authorization))).claims);
    } catch {
      return undefined;
    }
  };
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: HttpRoute,
  pathParameters: Record<string, string>,
  body: string,
  claims: Record<string, string>,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const query = url.searchParams.size ? Object.fromEntries(url.searchParams) : undefined;
  const now = Date.now();
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length ? { pathParameters } : {}),
    ...(body ? { body } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local-http',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'local-http',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      // Where the deployed API's JWT authorizer puts the verified token's claims.
      authorizer: { jwt: { claims, scopes: null } },
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  issuer: LocalIssuer,
  isReady: () => boolean,
  authorize: ReturnType<typeof jwtAuthorizer>,
) {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://127.0.0.1');
  } catch {
    return send(res, 400, envelope('VALIDATION_ERROR', 'Malformed request target'));
  }
  const method = req.method ?? 'GET';
  const body = await readBody(req);
  if (body === undefined)
    return send(res, 413, envelope('PAYLOAD_TOO_LARGE', `Body is over ${LIMITS.bodyBytes} bytes`));

  if (url.pathname === '/local/health' && method === 'GET') {
    return send(
      res,
      isReady() ? 200 : 503,
      JSON.stringify({ status: isReady() ? 'ok' : 'starting' }),
    );
  }
  if (url.pathname === '/local/.well-known/jwks.json' && method === 'GET') {
    return send(res, 200, JSON.stringify(issuer.jwks));
  }
  // OpenID discovery: the $connect authorizer finds the JWKS here, as on AWS.
  if (url.pathname === '/local/.well-known/openid-configuration' && method === 'GET') {
    return send(
      res,
      200,
      JSON.stringify({
        issuer: issuer.issuer,
        jwks_uri: `${issuer.issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ['RS256'],
      }),
    );
  }
  if (url.pathname === '/local/token' && method === 'POST') {
    let input: { sub?: unknown; name?: unknown; expires_in?: unknown; groups?: unknown } = {};
    try {
      input = JSON.parse(body || '{}');
    } catch {
      return send(res, 400, envelope('VALIDATION_ERROR', 'Body is not valid JSON'));
    }
    if (typeof input.sub !== 'string' || !/^[^#\s]{1,128}$/.test(input.sub)) {
      return send(
        res,
        400,
        envelope('VALIDATION_ERROR', 'sub must be a user id (1-128 characters, no # or spaces)'),
      );
    }
    const name = typeof input.name === 'string' ? input.name : undefined;
    const expiresIn = input.expires_in ?? DEFAULT_TOKEN_SECONDS;
    if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 1)
      return send(
        res,
        400,
        envelope('VALIDATION_ERROR', 'expires_in must be a whole number of seconds, at least 1'),
      );
    const groups = input.groups ?? [];
    if (
      !Array.isArray(groups) ||
      groups.length > 20 ||
      !groups.every((g) => typeof g === 'string' && /^[^\s,[\]]{1,128}$/.test(g))
    )
      return send(
        res,
        400,
        envelope(
          'VALIDATION_ERROR',
          'groups must be a list of up to 20 names (no spaces, commas or brackets)',
        ),
      );
    const token = await issuer.issue(input.sub, name, {
      expiresInSeconds: expiresIn,
      ...(groups.length ? { groups } : {}),
    });
    return send(res, 200, JSON.stringify({ token, expires_in: expiresIn }));
  }

  if (method === 'OPTIONS' && req.headers['access-control-request-method']) {
    res.writeHead(204, CORS_PREFLIGHT).end();
    return;
  }
  // The API reference (/docs) and the playground, beside the API as on no deployed stack.
  if (method === 'GET' && (await serveSite(url.pathname, res))) return;

  const found = match(method, url.pathname);
  if (!found) {
    const allow = allowedMethods(url.pathname);
    if (allow.length)
      return send(
        res,
        405,
        envelope('METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allow.join(', ')}`),
        { allow: allow.join(', ') },
      );
    return send(res, 404, envelope('NOT_FOUND', `No route for ${method} ${url.pathname}`));
  }
  const pathParameters = decodeParameters(found.rawParameters);
  if (!pathParameters)
    return send(res, 400, envelope('VALIDATION_ERROR', 'Malformed percent-encoding in the path'));
  // As on AWS, a request without a valid token never reaches a handler.
  const claims = await authorize(req.headers.authorization);
  if (!claims)
    return send(res, 401, envelope('UNAUTHORIZED', 'A valid bearer token is required'), {
      'www-authenticate': 'Bearer',
    });
  const event = toEvent(req, url, found.route, pathParameters, body, claims);
  const result = await invokeInLane<APIGatewayProxyStructuredResultV2>(
    String(claims.sub),
    found.route.handler,
    event,
  );
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]),
  );
  send(res, result.statusCode ?? 200, result.body ?? '', headers);
}

export function createHttpGateway(issuer: LocalIssuer, isReady: () => boolean): Server {
  const authorize = jwtAuthorizer(issuer);
  return createServer((req, res) => {
    handle(req, res, issuer, isReady, authorize).catch((error: unknown) => {
      // A handler that throws is a Lambda error: API Gateway answers a plain 500.
      console.error('[http] handler failed', error);
      if (!res.headersSent) send(res, 500, envelope('INTERNAL', 'Internal server error'));
    });
  });
}
