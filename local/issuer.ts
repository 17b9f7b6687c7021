import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * The local sign-in: an RS256 key made at start-up (kept under DATA_DIR when
 * set), tokens for any `sub`, and the JWKS the functions' aws-jwt-verify reads.
 * Tokens carry `aud: chat-local`, which the local stack requires (JWT_AUDIENCE).
 */
export interface IssueOptions {
  /** Lifetime in seconds (default 12 h); e2e tests use a few seconds. */
  expiresInSeconds?: number;
  /** Tests only: a token this key signs for another app or issuer, which must be refused. */
  audience?: string;
  issuer?: string;
  /** The token's `groups` claim (CONTRACT §9: `["moderators"]` makes a moderator). */
  groups?: readonly string[];
}

export interface LocalIssuer {
  issuer: string;
  audience: string;
  jwks: { keys: JWK[] };
  issue(sub: string, name?: string, options?: IssueOptions): Promise<string>;
}

export const LOCAL_AUDIENCE = 'chat-local';
export const DEFAULT_TOKEN_SECONDS = 12 * 3600;
const KID = 'local-dev-key';

async function loadOrCreateKey(dataDir: string | undefined): Promise<JWK> {
  const file = dataDir ? `${dataDir}/issuer-key.json` : undefined;
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as JWK;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
  if (file && dataDir) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  return jwk;
}

export async function createIssuer(issuer: string, dataDir?: string): Promise<LocalIssuer> {
  const privateJwk = await loadOrCreateKey(dataDir);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  const signingKey = await importJWK(privateJwk, 'RS256');
  return {
    issuer,
    audience: LOCAL_AUDIENCE,
    jwks: { keys: [publicJwk] },
    issue: (sub, name, options = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        name: name ?? sub,
        ...(options.groups ? { groups: [...options.groups] } : {}),
      };
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? LOCAL_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.expiresInSeconds ?? DEFAULT_TOKEN_SECONDS))
        .sign(signingKey);
    },
  };
}
