import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { validationError } from '#platform/errors.ts';

/**
 * Checks that a PEM is an SPKI public key of an accepted kind, and returns its
 * fingerprint (uppercase hex SHA-256 of the DER). node:crypto's createPublicKey
 * also accepts a private key (deriving its public half), so a private key is
 * recognised and refused first, in every form: PKCS#1, PKCS#8 (plain or
 * encrypted), SEC1 and OpenSSH.
 */
const SPKI_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;
const PRIVATE_MARKER = /PRIVATE KEY/;

export interface AcceptedKey {
  algorithm: 'rsa' | 'ec-p256' | 'ec-p384' | 'ed25519' | 'x25519';
  fingerprint: string;
  pem: string;
}

function looksPrivate(pem: string): boolean {
  if (PRIVATE_MARKER.test(pem)) return true;
  try {
    createPrivateKey({ key: pem, format: 'pem' });
    return true;
  } catch {
    return false;
  }
}

function algorithmOf(key: KeyObject): AcceptedKey['algorithm'] | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (details.modulusLength ?? 0) >= 2048 ? 'rsa' : undefined;
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ec-p256';
      if (details.namedCurve === 'secp384r1') return 'ec-p384';
      return undefined;
    case 'ed25519':
      return 'ed25519';
    case 'x25519':
      return 'x25519';
    default:
      return undefined;
  }
}

export function acceptPublicKey(pem: string): AcceptedKey {
  if (looksPrivate(pem))
    throw validationError('public_key must be a public key; private keys are refused');
  if (!SPKI_PEM.test(`${pem.trim()}\n`)) {
    throw validationError('public_key must be a PEM "PUBLIC KEY" (SPKI)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
  } catch {
    throw validationError('public_key is not a valid SPKI public key');
  }
  const algorithm = algorithmOf(key);
  if (!algorithm) {
    throw validationError('public_key must be RSA ≥ 2048 bits, EC P-256/P-384, Ed25519 or X25519');
  }
  const der = key.export({ format: 'der', type: 'spki' });
  return {
    algorithm,
    fingerprint: createHash('sha256').update(der).digest('hex').toUpperCase(),
    pem: key.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Fingerprints are compared without case, spaces or colons (as people type them). */
export const normalizeFingerprint = (value: string) => value.replace(/[\s:]/g, '').toUpperCase();
