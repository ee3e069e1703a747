// Bearer tokens from config, each with a role: `support` reads, `ops` reads and writes. Tokens are
// compared as SHA-256 digests in constant time; config may hold the token or `sha256:<hex>`.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as z from 'zod';
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

// ---- console sessions (issue #18) -----------------------------------------------------------------
// A browser signs in once with its token and then carries an HttpOnly, SameSite=Strict cookie. The cookie
// is a signed, self-contained record (name, role, expiry, nonce): any replica, and a restarted bridge,
// accepts it without a session table. The signing key is derived from the configured tokens (or
// `auth.session_secret`), so removing or rotating a token ends its sessions. Writes made with a cookie
// also need the session's CSRF token in `X-CSRF-Token` (a header a cross-site form cannot send).

export const SESSION_COOKIE = 'vancore_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session extends Caller {
  /** Epoch milliseconds. */
  expires: number;
  nonce: string;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class SessionAuth {
  readonly #key: Buffer;
  readonly #tokens: TokenAuth;
  readonly #known: ReadonlySet<string>;
  /** Signed-out nonces until their expiry (per process: the browser's cookie is cleared as well). */
  readonly #revoked = new Map<string, number>();

  constructor(
    tokens: readonly ApiToken[],
    private readonly opts: { ttlMs: number; now: () => number; secret?: string | undefined },
  ) {
    this.#tokens = new TokenAuth(tokens);
    this.#known = new Set(tokens.map((t) => `${t.role}\u0000${t.name}`));
    const h = createHash('sha256')
      .update('vancore-console-session\u0000')
      .update(opts.secret ?? '');
    for (const t of tokens) h.update(`\u0000${t.name}\u0000${t.role}\u0000`).update(digestOf(t.token));
    this.#key = h.digest();
  }

  /** A new session for a valid token, or undefined. */
  signIn(token: string): { session: Session; cookie: string } | undefined {
    const caller = this.#tokens.identify(`Bearer ${token}`);
    if (!caller) return undefined;
    const session: Session = {
      ...caller,
      expires: this.opts.now() + this.opts.ttlMs,
      nonce: randomBytes(16).toString('base64url'),
    };
    const body = b64(JSON.stringify({ n: session.name, r: session.role, e: session.expires, i: session.nonce }));
    return { session, cookie: `${body}.${this.#mac(body)}` };
  }

  /** The session a cookie value proves, or undefined (forged, expired, signed out, token removed). */
  verify(cookie: string | undefined): Session | undefined {
    if (!cookie) return undefined;
    const [body, mac] = cookie.split('.');
    if (!body || !mac) return undefined;
    const want = Buffer.from(this.#mac(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const r = raw as { n?: unknown; r?: unknown; e?: unknown; i?: unknown };
    if (typeof r.n !== 'string' || (r.r !== 'ops' && r.r !== 'support') || typeof r.e !== 'number') return undefined;
    if (typeof r.i !== 'string' || r.e <= this.opts.now() || this.#revoked.has(r.i)) return undefined;
    if (!this.#known.has(`${r.r}\u0000${r.n}`)) return undefined;
    return { name: r.n, role: r.r, expires: r.e, nonce: r.i };
  }

  csrfToken(s: Session): string {
    return this.#mac(`csrf\u0000${s.nonce}`);
  }

  checkCsrf(s: Session, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const want = Buffer.from(this.csrfToken(s));
    const got = Buffer.from(header);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  signOut(s: Session): void {
    const now = this.opts.now();
    for (const [n, exp] of this.#revoked) if (exp <= now) this.#revoked.delete(n);
    this.#revoked.set(s.nonce, s.expires);
  }

  #mac(text: string): string {
    return createHmac('sha256', this.#key).update(text).digest('base64url');
  }
}

function digestOf(token: string): Buffer {
  return token.startsWith('sha256:') ? Buffer.from(token.slice(7), 'hex') : digest(token);
}

/** One cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie line for a session (or, without a value, the line that deletes it). */
export function sessionCookie(value: string | undefined, opts: { maxAgeSeconds: number; secure: boolean }): string {
  return [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${value === undefined ? 0 : Math.max(0, Math.floor(opts.maxAgeSeconds))}`,
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

export type Authentication =
  { ok: true; caller: Caller; session?: Session | undefined } | { ok: false; status: 401 | 403; error: string };

/**
 * Who makes a request to /api/v1: a bearer token (CLI, scripts) or a console session cookie. Writes need
 * the ops role; a cookie write also needs the session's CSRF token. `open` paths (sign-in) pass without.
 */
export function authenticate(
  tokens: TokenAuth,
  sessions: SessionAuth,
  req: { method: string; headers: Record<string, string | string[] | undefined> },
  opts: { anyRoleMayWrite?: boolean } = {},
): Authentication {
  const write = req.method !== 'GET' && req.method !== 'HEAD';
  const authz = req.headers.authorization;
  let caller: Caller | undefined;
  let session: Session | undefined;
  if (typeof authz === 'string' && authz !== '') {
    caller = tokens.identify(authz);
    if (!caller) return { ok: false, status: 401, error: 'missing or unknown bearer token' };
  } else {
    const cookie = typeof req.headers.cookie === 'string' ? req.headers.cookie : undefined;
    session = sessions.verify(readCookie(cookie, SESSION_COOKIE));
    if (!session) return { ok: false, status: 401, error: 'missing or unknown bearer token, or the session ended' };
    if (write && !sessions.checkCsrf(session, req.headers[CSRF_HEADER]))
      return { ok: false, status: 403, error: 'missing or wrong CSRF token for this session' };
    caller = { name: session.name, role: session.role };
  }
  if (write && !opts.anyRoleMayWrite && !mayWrite(caller.role))
    return { ok: false, status: 403, error: `role ${caller.role} may only read` };
  return { ok: true, caller, session };
}

const SessionBody = z.object({
  name: z.string(),
  role: z.enum(['support', 'ops']),
  /** False when the bridge runs without tokens (loopback only): everyone is ops. */
  auth: z.boolean(),
  expires_at: z.string().nullable(),
  /** Send as `X-CSRF-Token` with every write made with the session cookie. */
  csrf: z.string().nullable(),
  /** Mender's web UI, for links to deployments and devices. */
  mender_ui_url: z.string(),
});
const ErrorBody = z.object({ error: z.string(), code: z.string(), request_id: z.string() });

export interface SessionRoutesDeps {
  sessions: SessionAuth;
  /** False: no tokens configured, the API is open (loopback only). */
  enabled: boolean;
  menderUiUrl: string;
  ttlMs: number;
}

/**
 * `/session` in the /api/v1 scope: POST signs in with a token (sets the cookie), GET says who is signed
 * in (and the CSRF token), DELETE signs out. The scope's auth hook lets POST through unauthenticated.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const sessionRoutes: FastifyPluginAsync<SessionRoutesDeps> = async (app, deps) => {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody };
  const view = (s: Session | undefined, caller: Caller | undefined) => ({
    name: caller?.name ?? 'local',
    role: caller?.role ?? ('ops' as const),
    auth: deps.enabled,
    expires_at: s ? new Date(s.expires).toISOString() : null,
    csrf: s ? deps.sessions.csrfToken(s) : null,
    mender_ui_url: deps.menderUiUrl,
  });
  typed.post(
    '/session',
    {
      schema: {
        summary: 'Sign in to the console with an API token (sets an HttpOnly session cookie)',
        tags: ['session'],
        body: z.strictObject({ token: z.string().min(1).max(512) }),
        response: { 200: SessionBody, ...errors },
      },
    },
    (req, reply) => {
      if (!deps.enabled) return view(undefined, undefined);
      const hit = deps.sessions.signIn(req.body.token.trim());
      if (!hit) {
        req.log.warn({ ip: req.ip }, 'console sign-in with an unknown token');
        void reply.status(401);
        return { error: 'that token is not valid for this bridge', code: 'UNAUTHORIZED', request_id: req.id };
      }
      void reply.header(
        'set-cookie',
        sessionCookie(hit.cookie, { maxAgeSeconds: deps.ttlMs / 1000, secure: req.protocol === 'https' }),
      );
      return view(hit.session, hit.session);
    },
  );
  typed.get(
    '/session',
    { schema: { summary: 'The signed-in caller', tags: ['session'], response: { 200: SessionBody, ...errors } } },
    (req) => view(req.session, req.caller),
  );
  typed.delete(
    '/session',
    { schema: { summary: 'Sign out', tags: ['session'], response: { 204: z.null(), ...errors } } },
    (req, reply) => {
      if (req.session) deps.sessions.signOut(req.session);
      void reply.header('set-cookie', sessionCookie(undefined, { maxAgeSeconds: 0, secure: req.protocol === 'https' }));
      void reply.status(204);
      return null;
    },
  );
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session behind the request, when it came with the session cookie. */
    session?: Session;
  }
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
