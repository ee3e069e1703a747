import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { VanError } from '../../../core/errors.js';
import { parseSigningKey, parseVerifyKey } from '../../../mender-artifacts/keys.js';
import { type KeyForm, keyPair, tempDir } from './fixtures.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof VanError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected a VanError');
}

/** sha256 of the SPKI DER as openssl computes it: an independent check of our fingerprint. */
function opensslFingerprint(pubPem: string): string {
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: pubPem });
  return createHash('sha256').update(der).digest('hex');
}

describe('parseSigningKey', () => {
  it.each<[KeyForm, string, string]>([
    ['ec-sec1', 'ecdsa-p256', '-----BEGIN EC PRIVATE KEY-----'],
    ['ec-pkcs8', 'ecdsa-p256', '-----BEGIN EC PRIVATE KEY-----'],
    ['ec-params', 'ecdsa-p256', '-----BEGIN EC PRIVATE KEY-----'],
    ['rsa-pkcs1', 'rsa', '-----BEGIN RSA PRIVATE KEY-----'],
    ['rsa-pkcs8', 'rsa', '-----BEGIN RSA PRIVATE KEY-----'],
  ])('%s → %s, re-exported as mender-artifact reads it', async (form, algorithm, header) => {
    const dir = await tempDir();
    const files = await keyPair(dir, form);
    const pem = await readFile(files.priv, 'utf8');
    const key = parseSigningKey(pem, 'k.pem');
    expect(key.algorithm).toBe(algorithm);
    // One PEM block only: no EC PARAMETERS block, no PKCS#8 wrapper.
    expect(key.menderPem.startsWith(header)).toBe(true);
    expect(key.menderPem.match(/-----BEGIN /g)).toHaveLength(1);
    // Same key material, and the fingerprint is the public key's, as openssl sees it.
    expect(createPrivateKey(key.menderPem).equals(createPrivateKey(pem))).toBe(true);
    expect(key.fingerprint).toBe(opensslFingerprint(await readFile(files.pub, 'utf8')));
  });

  const pkcs8 = (k: { privateKey: { export(o: object): string | Buffer } }) =>
    k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it.each<[string, () => string, string]>([
    [
      'Ed25519',
      () => pkcs8(generateKeyPairSync('ed25519')),
      'INPUT_INVALID: signing key k.pem is Ed25519: not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)',
    ],
    [
      'P-384',
      () => pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp384r1' })),
      'INPUT_INVALID: signing key k.pem is ECDSA P-384: not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)',
    ],
    [
      'DSA',
      () => pkcs8(generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 })),
      'INPUT_INVALID: signing key k.pem is DSA: not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)',
    ],
    [
      'RSA-1024',
      () => pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 })),
      'INPUT_INVALID: signing key k.pem is RSA-1024: too short, not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)',
    ],
    [
      'encrypted PKCS#8',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
          .toString(),
      'INPUT_INVALID: signing key k.pem is encrypted: give an unencrypted key (e.g. openssl pkey -in KEY -out KEY.plain), kept in a CI secret file',
    ],
    [
      'encrypted PKCS#1',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 2048 })
          .privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
          .toString(),
      'INPUT_INVALID: signing key k.pem is encrypted: give an unencrypted key (e.g. openssl pkey -in KEY -out KEY.plain), kept in a CI secret file',
    ],
    [
      'a public key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          .publicKey.export({ type: 'spki', format: 'pem' })
          .toString(),
      'INPUT_INVALID: signing key k.pem holds a PUBLIC KEY, not a private key',
    ],
    ['not PEM', () => 'hello', 'INPUT_INVALID: signing key k.pem is not a PEM file'],
    [
      'a broken PEM',
      () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      'INPUT_INVALID: signing key k.pem cannot be parsed as a private key',
    ],
  ])('%s → one clear line', (_name, pem, message) => {
    expect(errorOf(() => parseSigningKey(pem(), 'k.pem'))).toBe(message);
  });

  it('never puts key material in its message', () => {
    const pem = pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }));
    const body = pem.split('\n')[1] as string;
    expect(errorOf(() => parseSigningKey(pem, 'k.pem'))).not.toContain(body.slice(0, 20));
  });
});

describe('parseVerifyKey', () => {
  it('takes an SPKI public key (and derives from a private one) with the same fingerprint', async () => {
    const dir = await tempDir();
    const files = await keyPair(dir, 'rsa-pkcs1');
    const pub = parseVerifyKey(await readFile(files.pub, 'utf8'), 'k.pub');
    const signing = parseSigningKey(await readFile(files.priv, 'utf8'), 'k.key');
    expect(pub).toMatchObject({ algorithm: 'rsa', bits: 2048, fingerprint: signing.fingerprint });
    expect(pub.spkiPem.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(parseVerifyKey(await readFile(files.priv, 'utf8'), 'k.key').fingerprint).toBe(signing.fingerprint);
  });

  it('refuses an Ed25519 public key before mender-artifact can wave it through (validate exits 0)', () => {
    const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(errorOf(() => parseVerifyKey(pem, 'ed.pub'))).toBe(
      'INPUT_INVALID: key ed.pub is Ed25519: not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)',
    );
  });
});
