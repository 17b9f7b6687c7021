import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { cursorKey } from '#platform/cursor-key.ts';
import { InvalidCursor } from '#platform/errors.ts';

/**
 * Opaque, tamper-evident cursors: the payload is JSON sealed with AES-256-GCM,
 * so a client can neither read it (it shows no key layout) nor change it. The
 * purpose (which list) and the user it was issued to are authenticated data: a
 * cursor handed to another user, or to another list, fails to open.
 *
 * Token: base64url(version ‖ 12-byte IV ‖ 16-byte tag ‖ ciphertext).
 */
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
/** Longer than any cursor this server makes; the query schemas bound it too. */
const MAX_TOKEN_CHARS = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const associatedData = (purpose: string, userId: string) =>
  Buffer.from(JSON.stringify(['chat-cursor', VERSION, purpose, userId]), 'utf8');

export function sealCursor(purpose: string, userId: string, payload: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', cursorKey(), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(purpose, userId));
  const sealed = Buffer.concat([
    cipher.update(JSON.stringify(payload ?? null), 'utf8'),
    cipher.final(),
  ]);
  return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/**
 * The payload `sealCursor` sealed for this purpose and user, or a 400 naming
 * `field` (the query parameter the client sent it in).
 */
export function openCursor(
  purpose: string,
  userId: string,
  token: string,
  field = 'cursor',
): unknown {
  const invalid = () => new InvalidCursor(field);
  if (token.length > MAX_TOKEN_CHARS || !BASE64URL.test(token)) throw invalid();
  const raw = Buffer.from(token, 'base64url');
  if (raw.length <= HEADER_BYTES || raw[0] !== VERSION) throw invalid();
  const key = cursorKey();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, 1 + IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(associatedData(purpose, userId));
    decipher.setAuthTag(raw.subarray(1 + IV_BYTES, HEADER_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(HEADER_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  } catch {
    throw invalid();
  }
}
