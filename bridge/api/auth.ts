// Bearer tokens from config, each with a role: `support` reads, `ops` reads and writes. Tokens are
// compared as SHA-256 digests in constant time; config may hold the token or `sha256:<hex>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '../../core/config/bridge-config.js';

export type Role = ApiToken['role'];

export interface Caller {
  name: string;
  role: Role;
}

const digest = (token: string) => createHash('sha256').update(token).digest();

export class TokenAuth {
  readonly #tokens: { name: string; role: Role; digest: Buffer }[];

  constructor(tokens: readonly ApiToken[]) {
    this.#tokens = tokens.map((t) => ({
      name: t.name,
      role: t.role,
      digest: t.token.startsWith('sha256:') ? Buffer.from(t.token.slice(7), 'hex') : digest(t.token),
    }));
  }

  get enabled(): boolean {
    return this.#tokens.length > 0;
  }

  /** The caller for an Authorization header, or undefined when it matches no token. */
  identify(header: string | undefined): Caller | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return undefined;
    const d = digest(m[1]!);
    const hit = this.#tokens.find((t) => t.digest.length === d.length && timingSafeEqual(t.digest, d));
    return hit ? { name: hit.name, role: hit.role } : undefined;
  }
}

export function mayWrite(role: Role): boolean {
  return role === 'ops';
}

/**
 * Requests per client address per minute for callers without a valid token (issue #16 item 5): checked
 * before any route work, so wrong or missing tokens and the unauthenticated probes cannot be used to
 * hammer the bridge (or, through /readyz, Mender). Fixed one-minute windows; memory is bounded by
 * forgetting expired windows once the table holds `maxAddresses`.
 */
export class AddressLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly perMinute: number,
    readonly maxAddresses = 10_000,
  ) {}

  /** Count one request; the seconds to wait when the address is over its limit, else undefined. */
  hit(address: string, nowMs: number): number | undefined {
    let w = this.#windows.get(address);
    if (!w || nowMs - w.start >= 60_000) {
      if (!w && this.#windows.size >= this.maxAddresses) this.#forgetExpired(nowMs);
      w = { start: nowMs, count: 0 };
      this.#windows.set(address, w);
    }
    w.count++;
    return w.count > this.perMinute ? Math.max(1, Math.ceil((w.start + 60_000 - nowMs) / 1000)) : undefined;
  }

  #forgetExpired(nowMs: number): void {
    for (const [k, w] of this.#windows) if (nowMs - w.start >= 60_000) this.#windows.delete(k);
    // Still full (a flood from many addresses): start over rather than grow without bound.
    if (this.#windows.size >= this.maxAddresses) this.#windows.clear();
  }
}
