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
