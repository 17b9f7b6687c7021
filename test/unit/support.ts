import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** Env every function reads; set before any module under test is imported. */
export function setTestEnv() {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    TABLE_NAME: 'chat-test',
    WS_ENDPOINT: 'https://ws.example.com/test',
    JWT_ISSUER: 'https://issuer.test',
    JWT_AUDIENCE: 'chat-test',
    JWKS_URI: 'https://issuer.test/.well-known/jwks.json',
    OFFLINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/offline',
    FLUSH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/flush',
    PRESENCE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/presence',
    PURGE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/purge',
    FANOUT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/fanout',
    PUSH_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:push',
    CURSOR_KEY: 'unit-test-cursor-key-material-32-bytes-or-more',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
}

/** A real RS256 issuer, offline: the verifier is seeded with its JWKS (no fetch, no mock). */
export async function testIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const sign = (
    claims: { sub?: string; name?: string; iss?: string; aud?: string; exp?: number | string },
    key = privateKey,
  ) => {
    const jwt = new SignJWT({ name: claims.name })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(claims.iss ?? 'https://issuer.test')
      .setAudience(claims.aud ?? 'chat-test')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '1h');
    if (claims.sub) jwt.setSubject(claims.sub);
    return jwt.sign(key);
  };
  return { jwks: { keys: [jwk] }, sign };
}
