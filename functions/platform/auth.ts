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
  /**
   * The issuer's JWKS. Unset: read from the issuer's OpenID discovery document
   * (`<issuer>/.well-known/openid-configuration`, its `jwks_uri`), as API
   * Gateway's HTTP JWT authorizer does.
   */
  jwksUri?: string | undefined;
}

/**
 * aws-jwt-verify fetches JWKS over https only. The local issuer (`npm start`)
 * serves plain http on loopback, so loopback URLs are fetched with the runtime's
 * fetch; every other URL (discovery document or JWKS) goes through the library's
 * own fetcher.
 */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//;
/** What fetches the discovery document and the JWKS (aws-jwt-verify's Fetcher); tests pass their own. */
export interface Fetcher {
  fetch(
    uri: string,
    requestOptions?: Record<string, unknown>,
    data?: ArrayBuffer,
  ): Promise<ArrayBuffer>;
}
/** Discovery runs in a $connect: a short budget per attempt (the library retries once). */
const DISCOVERY_TIMEOUT_MS = 1000;
const httpsFetcher = new SimpleFetcher();
const jwksFetcher: Fetcher = {
  async fetch(uri, requestOptions, data) {
    if (!LOOPBACK.test(uri)) return httpsFetcher.fetch(uri, requestOptions, data);
    const response = await fetch(uri, { signal: AbortSignal.timeout(2 * DISCOVERY_TIMEOUT_MS) });
    if (!response.ok) throw new AppError('INTERNAL', `${uri}: status ${response.status}`);
    return response.arrayBuffer();
  },
};

/**
 * The issuer's `jwks_uri`, from its OpenID discovery document. The document must
 * name the configured issuer exactly (OpenID Connect Discovery §4.3) and an https
 * JWKS; plain http only where the issuer itself is the local stack's loopback one.
 */
export async function discoverJwksUri(issuer: string, fetcher: Fetcher = jwksFetcher) {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const body = await fetcher.fetch(url, {
    timeout: DISCOVERY_TIMEOUT_MS,
    responseTimeout: 2 * DISCOVERY_TIMEOUT_MS,
  });
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder().decode(body));
  } catch (cause) {
    throw new ConfigError(`${url} is not JSON`, cause);
  }
  const { issuer: named, jwks_uri: jwksUri } = (document ?? {}) as Record<string, unknown>;
  if (named !== issuer)
    throw new ConfigError(`${url} names the issuer ${JSON.stringify(named)}, not ${issuer}`);
  if (typeof jwksUri !== 'string') throw new ConfigError(`${url} has no jwks_uri`);
  let protocol: string;
  try {
    protocol = new URL(jwksUri).protocol;
  } catch (cause) {
    throw new ConfigError(`${url}: jwks_uri ${jwksUri} is not a URL`, cause);
  }
  const local = LOOPBACK.test(`${issuer.replace(/\/$/, '')}/`) && LOOPBACK.test(jwksUri);
  if (protocol !== 'https:' && !local)
    throw new ConfigError(`${url}: jwks_uri ${jwksUri} is not https`);
  return jwksUri;
}

/**
 * A verifier for RS256 JWTs: signature against the issuer's JWKS, `exp`/`nbf`,
 * `iss` and `aud`. The same code checks tokens on AWS ($connect authorizer) and in
 * the local gateway's emulation of API Gateway's JWT authorizer.
 */
export function createTokenVerifier(config: TokenConfig, fetcher: Fetcher = jwksFetcher) {
  if (!config.audience) throw new ConfigError('A JWT audience is required');
  const jwksCache = new SimpleJwksCache({ fetcher });
  const verifierFor = (jwksUri: string) =>
    JwtVerifier.create(
      { issuer: config.issuer, audience: config.audience, jwksUri },
      { jwksCache },
    );
  type Verifier = ReturnType<typeof verifierFor>;
  const configured = config.jwksUri ? verifierFor(config.jwksUri) : undefined;
  /*
   * Without a configured JWKS URI, discovery runs at the first verification and
   * its result is kept for the life of the container. A failed discovery is not
   * kept: that token is refused (401) and the next verification tries again.
   */
  let discovered: Promise<Verifier> | undefined;
  const ready = (): Promise<Verifier> => {
    if (configured) return Promise.resolve(configured);
    if (!discovered) {
      const attempt = discoverJwksUri(config.issuer, fetcher).then(verifierFor);
      discovered = attempt;
      attempt.catch((error: unknown) => {
        if (discovered === attempt) discovered = undefined;
        // Every $connect is refused until it works: say why, where an operator looks.
        console.warn(`OpenID discovery failed, tried again at the next token: ${error}`);
      });
    }
    return discovered;
  };
  return {
    async verify(token: string | undefined): Promise<VerifiedToken> {
      if (!token) throw new InvalidTokenError();
      try {
        const payload = await (await ready()).verify(token);
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
    cacheJwks(jwks: Parameters<Verifier['cacheJwks']>[0]): void {
      if (!configured) throw new ConfigError('Seeding the JWKS cache needs a configured jwksUri');
      configured.cacheJwks(jwks);
    },
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/**
 * The verifier configured by the environment, made on first use and kept at module
 * scope: its JWKS cache (and the discovered JWKS URI) lives across invocations of
 * a warm Lambda, so keys are fetched once per cold start (and on an unknown `kid`).
 */
let fromEnv: TokenVerifier | undefined;
function envVerifier(): TokenVerifier {
  fromEnv ??= createTokenVerifier({
    issuer: requireEnv(ENV.jwtIssuer),
    audience: requireEnv(ENV.jwtAudience),
    // Optional (`-c jwksUri`): without it, OpenID discovery from the issuer.
    jwksUri: process.env[ENV.jwksUri] || undefined,
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
