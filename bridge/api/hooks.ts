// Request hooks that run before any route: JSON-only bodies, NUL in URLs, the per-address limit for
// callers without credentials, and the /api/v1 authentication. app.ts decides where each is added.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawServerDefault,
  onRequestHookHandler,
} from 'fastify';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import {
  type AddressLimiter,
  SESSION_COOKIE,
  type SessionAuth,
  type TokenAuth,
  authenticate,
  readCookie,
} from './auth.js';

/**
 * The API speaks JSON only: a text/plain body is 415 with a clear line, not a confusing "expected object,
 * received string" from the schema. An empty JSON body (`curl -X POST -H 'content-type: application/json'`)
 * means "no body", as a missing one does; anything else goes to Fastify's own parser (prototype-poisoning
 * checks kept).
 */
export function jsonBodiesOnly<L extends FastifyBaseLogger, T extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L, T>,
): void {
  app.removeContentTypeParser('text/plain');
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body.toString().trim() === '') return done(null, undefined);
    void defaultJson(req, body.toString(), done);
  });
}

/**
 * A NUL in a URL names nothing: 404 for a path, 400 for a query, before any database sees it (PostgreSQL
 * refuses NUL in text; SQLite just finds nothing) — issue #16 item 1.
 */
export const rejectNul: onRequestHookHandler = (req, _reply, done) => {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  if (path.includes('%00') || path.includes('\u0000'))
    return done(
      new VanError('NOT_FOUND', `no route ${req.method} ${path.replaceAll('%00', '\\0').replaceAll('\u0000', '\\0')}`),
    );
  if (q >= 0 && req.url.slice(q).includes('%00'))
    return done(new VanError('INPUT_INVALID', 'a query parameter contains a NUL character'));
  done();
};

/** Callers without a valid token or session are limited per address before any route work (#16 item 5). */
export function limitUnauthenticated(o: {
  limiter: AddressLimiter;
  tokens: TokenAuth;
  sessions: SessionAuth;
  clock: Clock;
}): onRequestHookHandler {
  return (req, reply, done) => {
    if (o.tokens.enabled && o.tokens.identify(req.headers.authorization)) return done();
    if (o.tokens.enabled && o.sessions.verify(readCookie(req.headers.cookie, SESSION_COOKIE))) return done();
    const wait = o.limiter.hit(req.ip, o.clock.now().getTime());
    if (wait === undefined) return done();
    void reply.header('retry-after', String(wait));
    done(Object.assign(new Error(`rate limit exceeded, retry in ${wait} s`), { statusCode: 429 }));
  };
}

/**
 * /api/v1 needs a token or a console session (auth.ts decides roles). Sign-in is the one open route;
 * signing out is a write every role may make.
 */
export function requireCaller(tokens: TokenAuth, sessions: SessionAuth): onRequestHookHandler {
  return (req, _reply, done) => {
    if (!tokens.enabled) return done();
    const path = req.url.split('?')[0];
    if (path === '/api/v1/session' && req.method === 'POST') return done();
    const a = authenticate(tokens, sessions, req, { anyRoleMayWrite: path === '/api/v1/session' });
    if (!a.ok) return done(Object.assign(new Error(a.error), { statusCode: a.status }));
    req.caller = a.caller;
    if (a.session) req.session = a.session;
    done();
  };
}
