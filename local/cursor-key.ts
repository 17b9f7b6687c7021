import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * The local stand-in for the stack's generated cursor secret: 32 random bytes
 * made at start-up, kept under DATA_DIR when set so cursors handed out before a
 * restart still open after it.
 */
export function loadOrCreateCursorKey(dataDir: string | undefined): string {
  const file = dataDir ? `${dataDir}/cursor-key` : undefined;
  if (file && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const material = randomBytes(32).toString('base64url');
  if (file && dataDir) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, material, { mode: 0o600 });
  }
  return material;
}
