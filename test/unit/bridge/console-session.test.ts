// Console sessions (bridge/api/auth.ts): signed, self-contained cookies that expire, end at sign-out and
// with their token, and carry a CSRF token bound to the session.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionAuth, TokenAuth, authenticate, readCookie } from '../../../bridge/api/auth.js';

const TOKENS = [
  { name: 'ops-olga', role: 'ops' as const, token: 'ops-token-0123456789' },
  { name: 'support-sam', role: 'support' as const, token: 'support-token-0123456789' },
];

function sessions(now: { t: number }, tokens = TOKENS, secret?: string) {
  return new SessionAuth(tokens, { ttlMs: 60_000, now: () => now.t, secret });
}

describe('SessionAuth', () => {
  it('expires a session after its time to live', () => {
    const now = { t: 1_000_000 };
    const s = sessions(now);
    const { cookie } = s.signIn('ops-token-0123456789')!;
    now.t += 59_999;
    expect(s.verify(cookie)).toMatchObject({ name: 'ops-olga', role: 'ops' });
    now.t += 1;
    expect(s.verify(cookie)).toBeUndefined();
  });

  it('accepts the cookie on another instance with the same tokens and secret only', () => {
    const now = { t: 0 };
    const { cookie } = sessions(now, TOKENS, 'a'.repeat(32)).signIn('support-token-0123456789')!;
    expect(sessions(now, TOKENS, 'a'.repeat(32)).verify(cookie)?.name).toBe('support-sam');
    expect(sessions(now, TOKENS, 'b'.repeat(32)).verify(cookie)).toBeUndefined();
    // Config may hold the token's digest instead of the token: the same key, the same sessions.
    const digest = `sha256:${createHash('sha256').update('support-token-0123456789').digest('hex')}`;
    expect(sessions(now, [TOKENS[0]!, { ...TOKENS[1]!, token: digest }], 'a'.repeat(32)).verify(cookie)?.name).toBe(
      'support-sam',
    );
  });

  it.each([['ops-token-0123456789x'], [''], ['Bearer ops-token-0123456789']])('refuses sign-in with %j', (t) => {
    expect(sessions({ t: 0 }).signIn(t)).toBeUndefined();
  });

  it.each([['garbage'], ['a.b'], ['.'], ['e30.'], ['']])('refuses the cookie %j', (c) => {
    expect(sessions({ t: 0 }).verify(c)).toBeUndefined();
  });

  it('binds the CSRF token to the session and ends the session at sign-out', () => {
    const now = { t: 0 };
    const s = sessions(now);
    const a = s.signIn('ops-token-0123456789')!;
    const b = s.signIn('ops-token-0123456789')!;
    expect(s.checkCsrf(a.session, s.csrfToken(a.session))).toBe(true);
    expect(s.checkCsrf(a.session, s.csrfToken(b.session))).toBe(false);
    expect(s.checkCsrf(a.session, undefined)).toBe(false);
    s.signOut(a.session);
    expect(s.verify(a.cookie)).toBeUndefined();
    expect(s.verify(b.cookie)).toBeDefined();
  });
});

describe('authenticate', () => {
  const now = { t: 0 };
  const s = sessions(now);
  const tokens = new TokenAuth(TOKENS);
  const { cookie, session } = s.signIn('support-token-0123456789')!;
  const req = (method: string, headers: Record<string, string>) => ({ method, headers });

  it.each([
    ['GET with the cookie', req('GET', { cookie: `x=1; vancore_session=${cookie}` }), { ok: true }],
    ['POST without CSRF', req('POST', { cookie: `vancore_session=${cookie}` }), { ok: false, status: 403 }],
    [
      'POST with CSRF but as support',
      req('POST', { cookie: `vancore_session=${cookie}`, 'x-csrf-token': s.csrfToken(session) }),
      { ok: false, status: 403, error: 'role support may only read' },
    ],
    [
      'a bad bearer even with a good cookie',
      req('GET', { authorization: 'Bearer nope', cookie: `vancore_session=${cookie}` }),
      { ok: false, status: 401 },
    ],
    ['nothing', req('GET', {}), { ok: false, status: 401 }],
    ['ops bearer write', req('POST', { authorization: 'Bearer ops-token-0123456789' }), { ok: true }],
  ])('%s', (_name, r, want) => {
    expect(authenticate(tokens, s, r)).toMatchObject(want);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(readCookie('a=1; vancore_session=x.y; b=2', 'vancore_session')).toBe('x.y');
    expect(readCookie('vancore_sessionx=1', 'vancore_session')).toBeUndefined();
    expect(readCookie(undefined, 'vancore_session')).toBeUndefined();
  });
});
