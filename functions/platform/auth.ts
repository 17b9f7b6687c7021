import { JwtVerifier } from 'aws-jwt-verify';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { ENV, optionalEnv, requireEnv } from './env.ts';

export interface Caller {
  userId: string;
  name: string;
}

/**
 * aws-jwt-verify fetches JWKS over https only. The local issuer (`npm start`)
 * serves plain http on loopback, so loopback URLs are fetched with the runtime's
 * fetch; every other URL goes through the library's own fetcher.
 */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//;
const httpsFetcher = new SimpleFetcher();
const jwksFetcher = {
  async fetch(uri: string, requestOptions?: Record<string, unknown>, data?: ArrayBuffer) {
    if (!LOOPBACK.test(uri)) return httpsFetcher.fetch(uri, requestOptions, data);
    const response = await fetch(uri);
    if (!response.ok) throw new Error(`JWKS fetch failed: ${response.status}`);
    return response.arrayBuffer();
  },
};

/**
 * Module scope on purpose: the verifier's JWKS cache lives across invocations of a
 * warm Lambda, so keys are fetched once per cold start (and on an unknown `kid`).
 */
const verifier = JwtVerifier.create(
  {
    issuer: requireEnv(ENV.jwtIssuer),
    audience: optionalEnv(ENV.jwtAudience) ?? null,
    jwksUri: requireEnv(ENV.jwksUri),
  },
  { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher }) },
);

export class InvalidTokenError extends Error {
  constructor() {
    super('Unauthorized');
    this.name = 'InvalidTokenError';
  }
}

/** Verifies an RS256 JWT (signature, expiry, issuer, optional audience) and names its caller. */
export async function verifyToken(token: string | undefined): Promise<Caller> {
  if (!token) throw new InvalidTokenError();
  try {
    const payload = await verifier.verify(token);
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) {
      throw new InvalidTokenError();
    }
    const name = typeof payload.name === 'string' && payload.name ? payload.name : sub;
    return { userId: sub, name: name.slice(0, 200) };
  } catch {
    throw new InvalidTokenError();
  }
}

/** `Authorization: Bearer <jwt>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}

/** Test hook: seed the JWKS cache so verification runs offline, with no fetch. */
export function cacheJwksForTests(jwks: Parameters<typeof verifier.cacheJwks>[0]): void {
  verifier.cacheJwks(jwks);
}
