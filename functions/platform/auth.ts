import { JwtVerifier } from 'aws-jwt-verify';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { type Caller, callerFromClaims } from './caller.ts';
import { ENV, requireEnv } from './env.ts';
import { AppError, ConfigError, InvalidTokenError } from './errors.ts';

/*
 * The caller and its claims live in caller.ts, so that HTTP functions (whose tokens
 * API Gateway verifies) read claims without bundling aws-jwt-verify.
 */
export { type Caller, callerFromClaims };

/** What a verified token says: who calls, and until when (`exp`, epoch seconds). */
export interface VerifiedToken {
  caller: Caller;
  expiresAt: number;
  claims: Record<string, unknown>;
}

export interface TokenConfig {
  issuer: string;
  /** Required: a token the same identity provider issued for another app is refused. */
  audience: string;
  jwksUri: string;
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
    if (!response.ok) throw new AppError('INTERNAL', `JWKS fetch failed: ${response.status}`);
    return response.arrayBuffer();
  },
};

/**
 * A verifier for RS256 JWTs: signature against the issuer's JWKS, `exp`/`nbf`,
 * `iss` and `aud`. The same code checks tokens on AWS ($connect authorizer) and in
 * the local gateway's emulation of API Gateway's JWT authorizer.
 */
export function createTokenVerifier(config: TokenConfig) {
  if (!config.audience) throw new ConfigError('A JWT audience is required');
  const verifier = JwtVerifier.create(
    { issuer: config.issuer, audience: config.audience, jwksUri: config.jwksUri },
    { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher }) },
  );
  return {
    async verify(token: string | undefined): Promise<VerifiedToken> {
      if (!token) throw new InvalidTokenError();
      try {
        const payload = await verifier.verify(token);
        if (typeof payload.exp !== 'number') throw new InvalidTokenError();
        return {
          caller: callerFromClaims(payload),
          expiresAt: payload.exp,
          claims: payload as Record<string, unknown>,
        };
      } catch (cause) {
        throw cause instanceof InvalidTokenError ? cause : new InvalidTokenError(cause);
      }
    },
    /** Seeds the JWKS cache (tests run offline, the local gateway knows its own keys). */
    cacheJwks(jwks: Parameters<typeof verifier.cacheJwks>[0]): void {
      verifier.cacheJwks(jwks);
    },
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/**
 * The verifier configured by the environment, made on first use and kept at module
 * scope: its JWKS cache lives across invocations of a warm Lambda, so keys are
 * fetched once per cold start (and on an unknown `kid`).
 */
let fromEnv: TokenVerifier | undefined;
function envVerifier(): TokenVerifier {
  fromEnv ??= createTokenVerifier({
    issuer: requireEnv(ENV.jwtIssuer),
    audience: requireEnv(ENV.jwtAudience),
    jwksUri: requireEnv(ENV.jwksUri),
  });
  return fromEnv;
}

/** Verifies a token against the issuer and audience in the environment. */
export function verifyToken(token: string | undefined): Promise<VerifiedToken> {
  return envVerifier().verify(token);
}

/** `Authorization: Bearer <jwt>` (or the bare token, as API Gateway accepts) → token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.trim().match(/^(?:Bearer\s+)?([A-Za-z0-9_.~+/=-]+)$/i);
  return match?.[1];
}

/** Test hook: seed the JWKS cache so verification runs offline, with no fetch. */
export function cacheJwksForTests(jwks: Parameters<TokenVerifier['cacheJwks']>[0]): void {
  envVerifier().cacheJwks(jwks);
}
