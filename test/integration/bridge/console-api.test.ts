// What the console adds to the bridge (issue #18), over Fastify inject on SQLite and PostgreSQL: token
// sign-in to an HttpOnly SameSite=Strict session cookie, CSRF on cookie writes, sign-out; van search,
// sorting and CSV; deferrals grouped by the gate's reason code; the console's files served at `/`.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BridgeApp, buildBridgeApp } from '../../../bridge/api/app.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';
import { registerSecret } from '../../helpers/output-capture.js';

const NOW = '2026-11-22T10:00:00.000Z';
const OPS = registerSecret('console ops token', 'ops-token-0123456789');
const SUPPORT = registerSecret('console support token', 'support-token-0123456789');
const TOKENS = [
  { name: 'ops-olga', role: 'ops' as const, token: OPS },
  { name: 'support-sam', role: 'support' as const, token: SUPPORT },
];

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(
  backend: (typeof backends)[number],
  opts: { tokens?: typeof TOKENS; assetsDir?: string; store?: TestStore } = {},
) {
  const t = opts.store ?? (await openTestStore(backend));
  if (!opts.store) cleanup.push(() => t.dispose());
  const vans = [
    ['d1', 'van-001', 'open', undefined, '2026-11-22T09:00:00Z'],
    ['d2', 'van-002', 'deferred', 'moving: stationary 0 of 3 min', '2026-11-21T09:00:00Z'],
    [
      'd3',
      'van-381',
      'deferred',
      'signal_low, battery_low: signal 0.2 < 0.6; battery 12 % < 30 %',
      '2026-11-20T09:00:00Z',
    ],
    ['d4', 'VAN-3810', 'deferred', 'hand-set text', '2026-11-22T08:00:00Z'],
    ['d5', 'van_5', 'open', undefined, '2026-11-19T09:00:00Z'],
  ] as const;
  if (!opts.store)
    await t.store.applyInventory(
      vans.map(([id, van, state, reason, checkIn]) => ({
        deviceId: id,
        authStatus: 'accepted',
        checkInTime: checkIn,
        inventory: parseInventory(
          attrs({
            'vancore.van_id': van,
            'vancore.platform.version': '1.0.0',
            'vancore.gate.state': state,
            ...(reason ? { 'vancore.gate.reason': reason } : {}),
            'vancore.gate.since': checkIn,
          }),
        ),
      })),
      NOW,
    );
  const app: BridgeApp = await buildBridgeApp({
    store: t.store,
    sync: {
      running: false,
      metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [], lastDurationMs: 0 },
      syncNow: () => Promise.resolve({ kind: 'incremental' } as never),
    },
    menderReady: () => Promise.resolve(),
    config: BridgeConfig.parse({
      auth: { tokens: opts.tokens ?? TOKENS },
      console: { mender_ui_url: 'https://mender.example.com/' },
    }),
    clock: new ManualClock(NOW),
    artifacts: {
      downloadLink: () => Promise.reject(new Error('none')),
      sha256: () => Promise.reject(new Error('none')),
    },
    ...(opts.assetsDir ? { console: { assetsDir: opts.assetsDir } } : {}),
  });
  cleanup.push(() => app.close());
  return { app, t };
}

async function signIn(app: BridgeApp, token: string) {
  const r = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token } });
  expect(r.statusCode).toBe(200);
  const setCookie = String(r.headers['set-cookie']);
  const cookie = setCookie.split(';')[0]!;
  return { cookie, setCookie, csrf: r.json<{ csrf: string }>().csrf };
}

describe.each(backends)('console API on %s', (backend) => {
  it('signs in with a token to an HttpOnly, SameSite=Strict session; a bad token is 401 with a clear line', async () => {
    const { app } = await setup(backend);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: 'nope-nope-nope-nope' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toMatchObject({ error: 'that token is not valid for this bridge', code: 'UNAUTHORIZED' });
    expect(bad.headers['set-cookie']).toBeUndefined();

    const { cookie, setCookie, csrf } = await signIn(app, SUPPORT);
    expect(setCookie).toMatch(/^vancore_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const me = await app.inject({ url: '/api/v1/session', headers: { cookie } });
    expect(me.json()).toEqual({
      name: 'support-sam',
      role: 'support',
      auth: true,
      expires_at: expect.stringMatching(/^\d{4}-/) as unknown,
      csrf,
      mender_ui_url: 'https://mender.example.com',
    });
    // The cookie reads the API like the token does; the token itself never sits in the cookie.
    expect(cookie).not.toContain(SUPPORT);
    expect((await app.inject({ url: '/api/v1/vans', headers: { cookie } })).statusCode).toBe(200);
    // Bearer tokens keep working, and nothing at all is still 401.
    expect((await app.inject({ url: '/api/v1/vans', headers: { authorization: `Bearer ${OPS}` } })).statusCode).toBe(
      200,
    );
    expect((await app.inject({ url: '/api/v1/vans' })).statusCode).toBe(401);
  });

  it('needs the CSRF token for cookie writes, and the ops role for any write', async () => {
    const { app } = await setup(backend);
    const ops = await signIn(app, OPS);
    const sync = (headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/api/v1/sync', headers, payload: {} });
    const noCsrf = await sync({ cookie: ops.cookie });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json<{ error: string }>().error).toBe('missing or wrong CSRF token for this session');
    expect((await sync({ cookie: ops.cookie, 'x-csrf-token': `${ops.csrf}x` })).statusCode).toBe(403);
    expect((await sync({ cookie: ops.cookie, 'x-csrf-token': ops.csrf })).statusCode).toBe(202);
    const support = await signIn(app, SUPPORT);
    const forged = await sync({ cookie: support.cookie, 'x-csrf-token': support.csrf });
    expect(forged.statusCode).toBe(403);
    expect(forged.json<{ error: string }>().error).toBe('role support may only read');
    // One session's CSRF token does not fit another's.
    expect((await sync({ cookie: ops.cookie, 'x-csrf-token': support.csrf })).statusCode).toBe(403);
  });

  it('refuses a tampered cookie, a signed-out one, and one whose token was removed', async () => {
    const { app, t } = await setup(backend);
    const s = await signIn(app, OPS);
    const [body, mac] = s.cookie.split('=')[1]!.split('.');
    const forgedBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), n: 'someone-else' }),
    ).toString('base64url');
    expect(
      (await app.inject({ url: '/api/v1/session', headers: { cookie: `vancore_session=${forgedBody}.${mac}` } }))
        .statusCode,
    ).toBe(401);

    // A bridge restarted with the same tokens accepts the session; one without that token does not.
    const same = await setup(backend, { store: t });
    expect((await same.app.inject({ url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode).toBe(200);
    const rotated = await setup(backend, { store: t, tokens: [TOKENS[1]!] });
    expect((await rotated.app.inject({ url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode).toBe(401);

    const out = await app.inject({
      method: 'DELETE',
      url: '/api/v1/session',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^vancore_session=; .*Max-Age=0/);
    expect((await app.inject({ url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode).toBe(401);
    // Support may sign itself out (a write every role may make).
    const sup = await signIn(app, SUPPORT);
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: '/api/v1/session',
          headers: { cookie: sup.cookie, 'x-csrf-token': sup.csrf },
        })
      ).statusCode,
    ).toBe(204);
  });

  it('searches van ids, sorts, and exports every match as CSV', async () => {
    const { app } = await setup(backend);
    const h = { authorization: `Bearer ${SUPPORT}` };
    const ids = async (q: string) =>
      (await app.inject({ url: `/api/v1/vans${q}`, headers: h })).json<{ van_id: string }[]>().map((v) => v.van_id);
    expect(await ids('?q=381')).toEqual(['VAN-3810', 'van-381']);
    expect(await ids('?q=van-38')).toEqual(['VAN-3810', 'van-381']);
    // LIKE wildcards in the search are literal characters.
    expect(await ids('?q=_')).toEqual(['van_5']);
    expect(await ids('?q=%25')).toEqual([]);
    expect(await ids('?sort=-last_check_in')).toEqual(['van-001', 'VAN-3810', 'van-002', 'van-381', 'van_5']);
    expect(await ids('?sort=gate_state&gate_state=deferred&per_page=2&page=2')).toEqual(['van-381']);
    const bad = await app.inject({ url: '/api/v1/vans?sort=battery', headers: h });
    expect(bad.statusCode).toBe(400);
    const csv = await app.inject({ url: '/api/v1/vans?gate_state=deferred&per_page=1&format=csv', headers: h });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['x-total-count']).toBe('3');
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe(
      'van_id,device_id,stage,hold,components,gate_state,gate_reason,gate_since,vpn_state,last_check_in',
    );
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['VAN-3810', 'van-002', 'van-381']);
  });

  it('groups deferrals by reason code in the fleet report', async () => {
    const { app } = await setup(backend);
    const r = await app.inject({ url: '/api/v1/reports/fleet', headers: { authorization: `Bearer ${SUPPORT}` } });
    expect(r.json<{ deferral_codes: unknown }>().deferral_codes).toEqual([
      { code: 'battery_low', vans: 1 },
      { code: 'moving', vans: 1 },
      { code: 'signal_low', vans: 1 },
      { code: 'unknown', vans: 1 },
    ]);
  });

  it('serves the console at / with its assets, gzipped on request and under a strict CSP', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-console-assets-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'assets'));
    const index = '<!doctype html><script type="module" src="/assets/app-X.js"></script>';
    await writeFile(join(dir, 'index.html'), index);
    await writeFile(join(dir, 'assets/app-X.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets/app-X.js.gz'), gzipSync('console.log(1)'));
    const { app } = await setup(backend, { assetsDir: dir });
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toBe(index);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['cache-control']).toBe('no-cache');
    const js = await app.inject({ url: '/assets/app-X.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.rawPayload).toEqual(gzipSync('console.log(1)'));
    expect((await app.inject({ url: '/assets/app-X.js' })).body).toBe('console.log(1)');
    expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);

    const empty = await mkdtemp(join(tmpdir(), 'vc-console-none-'));
    cleanup.push(() => rm(empty, { recursive: true, force: true }));
    const unbuilt = await setup(backend, { assetsDir: empty });
    const r = await unbuilt.app.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('npm run build');
  });
});
