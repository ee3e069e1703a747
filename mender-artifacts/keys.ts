// Signing and verification keys. mender-artifact 3.9 signs only with PKCS#1 RSA or SEC1 ECDSA P-256
// keys and chokes on PKCS#8 and on the `EC PARAMETERS` block `openssl ecparam -genkey` adds (RECIPE
// §2.3), so every private key is parsed with node:crypto and re-exported in the one form it reads.
// Key material never appears in an error message or a log line; only file names, types and
// fingerprints do.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { VanError } from '../core/errors.js';

export type KeyAlgorithm = 'rsa' | 'ecdsa-p256';

export interface SigningKey {
  algorithm: KeyAlgorithm;
  /** RSA modulus length in bits, or 256 for P-256. */
  bits: number;
  /** sha256 of the public key's SPKI DER, hex: the key's name in manifests and reports. */
  fingerprint: string;
  /** The private key as mender-artifact reads it (PKCS#1 / SEC1 PEM). Write it 0600, delete after use. */
  menderPem: string;
}

export interface VerifyKey {
  algorithm: KeyAlgorithm;
  bits: number;
  fingerprint: string;
  /** SPKI `BEGIN PUBLIC KEY` PEM, the form mender-artifact verifies with. */
  spkiPem: string;
}

const UNSUPPORTED = 'not supported by Mender (use ECDSA P-256 or RSA ≥ 2048)';

export function fingerprintOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The Mender-usable algorithm of a key, or a VanError naming what it is instead. */
function algorithmOf(key: KeyObject, what: string): { algorithm: KeyAlgorithm; bits: number } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw new VanError('INPUT_INVALID', `${what} is RSA-${bits}: too short, ${UNSUPPORTED}`);
    return { algorithm: 'rsa', bits };
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown curve';
    if (curve !== 'prime256v1') {
      const name = { secp384r1: 'P-384', secp521r1: 'P-521', secp256k1: 'secp256k1' }[curve] ?? curve;
      throw new VanError('INPUT_INVALID', `${what} is ECDSA ${name}: ${UNSUPPORTED}`);
    }
    return { algorithm: 'ecdsa-p256', bits: 256 };
  }
  const names: Record<string, string> = { ed25519: 'Ed25519', ed448: 'Ed448', dsa: 'DSA', 'rsa-pss': 'RSA-PSS' };
  throw new VanError(
    'INPUT_INVALID',
    `${what} is ${names[type ?? ''] ?? type ?? 'of an unknown type'}: ${UNSUPPORTED}`,
  );
}

function isEncrypted(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /^Proc-Type:\s*4,ENCRYPTED/m.test(pem);
}

/**
 * Parse a private key PEM (PKCS#1, SEC1 or PKCS#8; RSA ≥ 2048 or ECDSA P-256) into the form
 * mender-artifact signs with. `source` names the key in errors (a file name, never the content).
 */
export function parseSigningKey(pem: string, source: string): SigningKey {
  const what = `signing key ${source}`;
  if (!pem.includes('-----BEGIN ')) throw new VanError('INPUT_INVALID', `${what} is not a PEM file`);
  if (isEncrypted(pem)) {
    throw new VanError(
      'INPUT_INVALID',
      `${what} is encrypted: give an unencrypted key (e.g. openssl pkey -in KEY -out KEY.plain), kept in a CI secret file`,
    );
  }
  if (!/-----BEGIN (RSA |EC |)PRIVATE KEY-----/.test(pem)) {
    const kind = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1] ?? 'something else';
    throw new VanError('INPUT_INVALID', `${what} holds a ${kind}, not a private key`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // OpenSSL's decoder messages say nothing useful and must not carry key bytes anyway.
    throw new VanError('INPUT_INVALID', `${what} cannot be parsed as a private key`);
  }
  const { algorithm, bits } = algorithmOf(key, what);
  const menderPem = key.export({ type: algorithm === 'rsa' ? 'pkcs1' : 'sec1', format: 'pem' }).toString();
  return { algorithm, bits, fingerprint: fingerprintOf(key), menderPem };
}

/** Parse a public key PEM (SPKI, PKCS#1 RSA public, or a certificate) for verification. */
export function parseVerifyKey(pem: string, source: string): VerifyKey {
  const what = `key ${source}`;
  if (!pem.includes('-----BEGIN ')) throw new VanError('INPUT_INVALID', `${what} is not a PEM file`);
  if (isEncrypted(pem)) throw new VanError('INPUT_INVALID', `${what} is encrypted: give the public key`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new VanError('INPUT_INVALID', `${what} cannot be parsed as a public key`);
  }
  const { algorithm, bits } = algorithmOf(key, what);
  return {
    algorithm,
    bits,
    fingerprint: fingerprintOf(key),
    spkiPem: key.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
