import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acceptPublicKey, normalizeFingerprint } from '#domain/public-key.ts';
import { AppError } from '#platform/errors.ts';

const spki = (pair: {
  publicKey: { export: (o: { type: 'spki'; format: 'pem' }) => string | Buffer };
}) => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function refused(pem: string): AppError {
  try {
    acceptPublicKey(pem);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('acceptPublicKey', () => {
  it.each([
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'rsa'],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'ec-p256'],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), 'ec-p384'],
    ['Ed25519', () => generateKeyPairSync('ed25519'), 'ed25519'],
    ['X25519', () => generateKeyPairSync('x25519'), 'x25519'],
  ] as const)(
    'accepts %s and fingerprints the DER with uppercase SHA-256',
    (_name, make, algorithm) => {
      // Prepare
      const pair = make();
      const der = pair.publicKey.export({ type: 'spki', format: 'der' });
      // Act
      const accepted = acceptPublicKey(spki(pair));
      // Assess
      expect(accepted.algorithm).toBe(algorithm);
      expect(accepted.fingerprint).toBe(
        createHash('sha256').update(der).digest('hex').toUpperCase(),
      );
      expect(accepted.fingerprint).toMatch(/^[0-9A-F]{64}$/);
    },
  );

  it('refuses RSA keys under 2048 bits and other curves', () => {
    expect(refused(spki(generateKeyPairSync('rsa', { modulusLength: 1024 }))).code).toBe(
      'VALIDATION_ERROR',
    );
    expect(refused(spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }))).message).toMatch(
      /P-256/,
    );
  });

  it('refuses private keys in every form, without echoing them', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    const forms = [
      rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rsa.privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
        .toString(),
      ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      // OpenSSH's own container (header only matters: it must never be parsed as public).
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n',
    ];
    for (const pem of forms) {
      const error = refused(pem);
      expect(error.code).toBe('VALIDATION_ERROR');
      expect(error.message).toMatch(/private keys are refused/);
      expect(error.message).not.toContain(pem.slice(40, 80));
    }
  });

  it('refuses PKCS#1 public keys, certificates, garbage and a private key hidden under a public label', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1Public = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(refused(pkcs1Public).message).toMatch(/SPKI/);
    expect(refused('hello').code).toBe('VALIDATION_ERROR');
    const body = rsa.privateKey
      .export({ type: 'pkcs8', format: 'pem' })
      .toString()
      .split('\n')
      .slice(1, -2)
      .join('\n');
    const disguised = `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
    expect(refused(disguised).code).toBe('VALIDATION_ERROR');
  });

  it('normalizes typed fingerprints', () => {
    expect(normalizeFingerprint('ab:cd ef')).toBe('ABCDEF');
  });
});
