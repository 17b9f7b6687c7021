import { hkdfSync } from 'node:crypto';
import { ENV, optionalEnv } from './env.ts';
import { ConfigError } from './errors.ts';

/**
 * The key that seals pagination cursors (store/cursor.ts).
 *
 * On AWS the stack generates a Secrets Manager secret and gives its ARN only to
 * the functions that page; they read it once here, at cold start (a top-level
 * await, so it is done before the first request and sealing stays synchronous).
 * Functions without the ARN never call Secrets Manager. Locally the stack passes
 * the material itself in CURSOR_KEY (made at start-up, kept in DATA_DIR).
 */
async function readSecret(arn: string): Promise<string> {
  // Loaded only where a secret is configured: the other functions skip the SDK package.
  const { GetSecretValueCommand, SecretsManagerClient } = await import(
    '@aws-sdk/client-secrets-manager'
  );
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (!out.SecretString) throw new ConfigError('The cursor key secret has no SecretString');
  return out.SecretString;
}

const secretArn = optionalEnv(ENV.cursorKeySecretArn);
const fromSecret = secretArn ? await readSecret(secretArn) : undefined;

let cached: { material: string; key: Buffer } | undefined;

/** The 256-bit AES key, derived with HKDF so any secret string of enough entropy will do. */
export function cursorKey(): Buffer {
  const material = fromSecret ?? optionalEnv(ENV.cursorKey);
  if (!material) {
    throw new ConfigError(`Neither ${ENV.cursorKeySecretArn} nor ${ENV.cursorKey} is set`);
  }
  if (cached?.material !== material) {
    const key = Buffer.from(hkdfSync('sha256', material, '', 'chat-cursor-v1', 32));
    cached = { material, key };
  }
  return cached.key;
}
