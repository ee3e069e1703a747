// Tokens and signatures. Real Mender signs JWTs with RS256; the simulator uses HS256 with a per-instance
// secret because signing is on the device hot path (10,000 devices authenticate in seconds) and no Mender
// client verifies the signature: the client uses the token verbatim (RECIPE §6.2), the bridge only
// decodes `exp`/`sub`. The claims follow useradm/deviceauth (`jti`, `sub`, `exp`, `iat`, `iss`, `scp`).
import {
  createHash,
  createHmac,
  createPublicKey,
  createSecretKey,
  randomUUID,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';

export interface JwtClaims {
  jti: string;
  sub: string;
  iat: number;
  exp?: number;
  iss: string;
  scp?: string;
  'mender.user'?: boolean;
  'mender.device'?: boolean;
  'mender.pat'?: boolean;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export class JwtSigner {
  /** One key object for every HMAC: createHmac with a Buffer would build a new one per call. */
  readonly #key: KeyObject;
  readonly #macs = new Map<string, string>();

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  sign(claims: JwtClaims): string {
    const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${body}.${createHmac('sha256', this.#key).update(body).digest('base64url')}`;
  }

  /** The claims of a well-formed token signed with this key, whatever its expiry; else undefined. */
  verify(token: string): JwtClaims | undefined {
    const dot2 = token.lastIndexOf('.');
    const dot1 = token.indexOf('.');
    if (dot1 <= 0 || dot2 <= dot1) return undefined;
    const body = token.slice(0, dot2);
    const want = createHmac('sha256', this.#key).update(body).digest();
    let got: Buffer;
    try {
      got = Buffer.from(token.slice(dot2 + 1), 'base64url');
    } catch {
      return undefined;
    }
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const claims: unknown = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'));
      if (typeof claims !== 'object' || claims === null) return undefined;
      const c = claims as Partial<JwtClaims>;
      if (typeof c.jti !== 'string' || typeof c.sub !== 'string') return undefined;
      return claims as JwtClaims;
    } catch {
      return undefined;
    }
  }

  /**
   * HMAC for presigned download links. Memoised (bounded): every `next` answer in the same millisecond
   * signs the same text, and each device's download checks the text its link was signed with.
   */
  mac(text: string): string {
    let m = this.#macs.get(text);
    if (m === undefined) {
      m = createHmac('sha256', this.#key).update(text).digest('hex');
      if (this.#macs.size >= 4096) this.#macs.clear();
      this.#macs.set(text, m);
    }
    return m;
  }
}

export const newJti = (): string => randomUUID();

/** The bearer token of an Authorization header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Basic auth credentials, or undefined when the header is absent or malformed. */
export function basicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Parse device public keys (PEM: SPKI, or PKCS#1 RSA) to a normalised SPKI PEM and a key object. Parsing
 * costs ~0.2 ms and a client re-sends the same key on every auth request, so results are cached (bounded).
 */
export class PublicKeyCache {
  readonly #cache = new Map<string, { pem: string; key: KeyObject } | null>();
  readonly #max: number;

  constructor(max = 50_000) {
    this.#max = max;
  }

  parse(pem: string): { pem: string; key: KeyObject } | undefined {
    const hit = this.#cache.get(pem);
    if (hit !== undefined) return hit ?? undefined;
    let result: { pem: string; key: KeyObject } | null = null;
    try {
      const key = ed25519FromSpkiPem(pem) ?? createPublicKey(pem);
      if (key.type === 'public') {
        // SPKI PEM is already the normal form; only other encodings are re-exported.
        const spki = /^-----BEGIN PUBLIC KEY-----\n/.test(pem.trimStart())
          ? `${pem.trim()}\n`
          : key.export({ type: 'spki', format: 'pem' }).toString();
        result = { pem: spki, key };
      }
    } catch {
      result = null;
    }
    if (this.#cache.size >= this.#max) this.#cache.clear();
    this.#cache.set(pem, result);
    return result ?? undefined;
  }
}

/** DER prefix of an Ed25519 SPKI (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** A canonical one-line-body SPKI PEM of 44 DER bytes, as Go and OpenSSL write an Ed25519 public key. */
const ED25519_SPKI_PEM = /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/]{59}=)\n-----END PUBLIC KEY-----\n?$/;

/**
 * The key of a canonical Ed25519 SPKI PEM, imported from its raw 32 bytes as a JWK: the same key as
 * createPublicKey(pem) gives, at ~12 µs instead of ~130 µs (OpenSSL 3's PEM decoder search). Anything
 * else (RSA, EC, other layouts) is undefined and takes the general path.
 */
function ed25519FromSpkiPem(pem: string): KeyObject | undefined {
  const b64 = ED25519_SPKI_PEM.exec(pem)?.[1];
  if (b64 === undefined) return undefined;
  const der = Buffer.from(b64, 'base64');
  if (der.length !== 44 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) return undefined;
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: der.subarray(12).toString('base64url') },
    format: 'jwk',
  });
}

/**
 * Signature checks already passed: a (key, body, signature) triple verifies the same way every time, and a
 * client re-sends the same signed body on every auth request (Ed25519 and RSA PKCS#1 v1.5 signatures are
 * deterministic), so the ~0.2 ms public-key operation is done once per triple. Only successes are kept;
 * bounded like PublicKeyCache.
 */
export class VerifiedSignatures {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  verify(key: { pem: string; key: KeyObject }, body: Buffer, signatureB64: string): boolean {
    const id = `${createHash('sha256').update(key.pem).update('\0').update(body).digest('base64')} ${signatureB64}`;
    if (this.#seen.has(id)) return true;
    if (!verifyDeviceSignature(key.key, body, signatureB64)) return false;
    if (this.#seen.size >= this.#max) this.#seen.clear();
    this.#seen.add(id);
    return true;
  }
}

/**
 * Verify `X-MEN-Signature` (base64) over the exact request body, as deviceauth does: RSA PKCS#1 v1.5 with
 * SHA256, ECDSA (ASN.1 DER r,s) with SHA256, Ed25519 over the raw body.
 */
export function verifyDeviceSignature(key: KeyObject, body: Buffer, signatureB64: string): boolean {
  let sig: Buffer;
  try {
    sig = Buffer.from(signatureB64, 'base64');
  } catch {
    return false;
  }
  if (sig.length === 0) return false;
  try {
    switch (key.asymmetricKeyType) {
      case 'rsa':
        return verify('sha256', body, key, sig);
      case 'ec':
        return verify('sha256', body, { key, dsaEncoding: 'der' }, sig);
      case 'ed25519':
        return verify(null, body, key, sig);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
