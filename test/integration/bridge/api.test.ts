import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toCsv } from '../../../bridge/api/app.js';
import type { BridgeConfigInput } from '../../../core/config/bridge-config.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { formatReasonLine } from '../../../core/reason-codes.js';
import type * as z from 'zod';
import type * as S from '../../../bridge/api/schemas.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';
import {
  OPS_TOKEN as OPS,
  SUPPORT_TOKEN as SUPPORT,
  TEST_NOW as NOW,
  type TestBridge,
  buildTestBridge,
} from '../../helpers/test-bridge.js';

async function seed(t: TestStore): Promise<void> {
  const dev = (id: string, van: string, extra: Record<string, unknown>, tags: Record<string, string> = {}) => ({
    deviceId: id,
    authStatus: 'accepted',
    checkInTime: '2026-11-22T09:50:00.000Z',
    inventory: parseInventory([
      ...attrs({
        'vancore.van_id': van,
        'vancore.platform.version': '0.9.2',
        device_type: 'vanpc',
        artifact_name: 'vancore-platform-0.9.2',
        'vancore.gate.state': 'open',
        ...extra,
      }),
      ...attrs(tags, 'tags'),
    ]),
  });
  await t.store.applyInventory(
    [
      dev('d1', 'van-001', { 'vancore.app.version': '1.4.0' }, { vancore_stage: 'internal' }),
      dev('d2', 'van-002', {
        'vancore.gate.state': 'deferred',
        'vancore.gate.phase': 'Download_Enter',
        'vancore.gate.reason': formatReasonLine([{ code: 'moving', message: 'stationary 0 of 3 min' }]),
        'vancore.gate.codes': 'moving',
        'vancore.gate.since': '2026-11-17T10:00:00Z',
      }),
      dev(
        'd3',
        'van-381',
        {
          'vancore.platform.version': '0.9.1',
          'vancore.health.disk_ok': 'false',
          'vancore.health.battery_soc': 'plenty',
        },
        { vancore_stage: 'pilot' },
      ),
    ],
    NOW,
  );
  await t.store.upsertDeployments([
    {
      id: 'dep-1',
      name: 'platform 0.9.2 wave 1',
      artifact_name: 'vancore-platform-0.9.2',
      status: 'finished',
      created: '2026-11-20T10:00:00Z',
      finished: '2026-11-21T10:00:00Z',
      device_count: 2,
      max_devices: 2,
      stats_json: null,
      synced_at: NOW,
    },
    {
      id: 'dep-2',
      name: 'platform 0.9.2 retry',
      artifact_name: 'vancore-platform-0.9.2',
      status: 'finished',
      created: '2026-11-21T11:00:00Z',
      finished: '2026-11-21T12:00:00Z',
      device_count: 1,
      max_devices: 1,
      stats_json: null,
      synced_at: NOW,
    },
  ]);
  await t.store.upsertDeploymentDevices([
    {
      deployment_id: 'dep-1',
      device_id: 'd1',
      status: 'success',
      started: '2026-11-20T11:00:00Z',
      finished: '2026-11-20T11:05:00Z',
      log_available: 0,
      updated_at: NOW,
    },
    {
      deployment_id: 'dep-1',
      device_id: 'd3',
      status: 'failure',
      started: '2026-11-20T11:00:00Z',
      finished: '2026-11-20T11:09:00Z',
      log_available: 1,
      updated_at: NOW,
    },
    {
      deployment_id: 'dep-2',
      device_id: 'd3',
      status: 'failure',
      started: '2026-11-21T11:10:00Z',
      finished: '2026-11-21T11:20:00Z',
      log_available: 1,
      updated_at: NOW,
    },
  ]);
  await t.store.upsertArtifacts([
    {
      id: 'a-app',
      name: 'vancore-app-1.4.0',
      component: 'app',
      version: '1.4.0',
      requires_json: JSON.stringify({ platform: '>=0.9.2' }),
      constraints_json: null,
      payload_type: 'vancore-compose',
      sha256: null,
      device_types_json: '["vanpc"]',
      size: 1,
      signed: 1,
      modified: NOW,
      synced_at: NOW,
    },
  ]);
}

describe.each(backends)('bridge reports API on %s', (backend) => {
  let t: TestStore;
  let bridge: TestBridge;
  const app = () => bridge.app;
  const build = async (config: BridgeConfigInput = {}) => {
    bridge = await buildTestBridge({ store: t, config });
  };
  const get = (url: string, token = SUPPORT) => bridge.get(url, token);

  beforeEach(async () => {
    t = await openTestStore(backend);
    await seed(t);
    await build();
  });
  afterEach(async () => {
    await bridge.close();
    await t.dispose();
  });

  it('lists vans with filters, pagination and X-Total-Count', async () => {
    const all = await get('/api/v1/vans');
    expect(all.statusCode).toBe(200);
    expect(all.headers['x-total-count']).toBe('3');
    expect(all.json<{ van_id: string }[]>().map((v) => v.van_id)).toEqual(['van-001', 'van-002', 'van-381']);

    const page2 = await get('/api/v1/vans?per_page=2&page=2');
    expect(page2.json<{ van_id: string }[]>().map((v) => v.van_id)).toEqual(['van-381']);
    expect(page2.headers['x-total-count']).toBe('3');

    const cases: [string, string[]][] = [
      ['stage=pilot', ['van-381']],
      ['stage=internal', ['van-001']],
      ['component=app', ['van-001']],
      ['component=platform&version=0.9.1', ['van-381']],
      ['gate_state=deferred', ['van-002']],
      ['needs_attention=true', ['van-002', 'van-381']],
      ['needs_attention=false', ['van-001']],
    ];
    for (const [q, ids] of cases)
      expect(
        (await get(`/api/v1/vans?${q}`)).json<{ van_id: string }[]>().map((v) => v.van_id),
        q,
      ).toEqual(ids);
  });

  it('rejects bad queries in one line with 400', async () => {
    const r = await get('/api/v1/vans?per_page=900');
    expect(r.statusCode).toBe(400);
    expect(r.json<unknown>()).toMatchObject({
      code: 'INPUT_INVALID',
      error: expect.stringMatching(/^querystring\.per_page: /) as unknown,
    });
    expect((await get('/api/v1/vans?version=1.0.0')).json<unknown>()).toMatchObject({
      error: 'querystring.version: version needs component',
    });
    expect((await get('/api/v1/vans?stage=moon')).statusCode).toBe(400);
  });

  it('shows one van: versions, health, gate since when, updates, quarantined input', async () => {
    const r = await get('/api/v1/vans/van-381');
    expect(r.statusCode).toBe(200);
    const v = r.json<z.infer<typeof S.VanDetail>>();
    expect(v).toMatchObject({
      van_id: 'van-381',
      stage: 'pilot',
      components: { platform: '0.9.1' },
      health: { disk_ok: false, battery_soc: null },
    });
    expect(v.updates.map((u) => u.status)).toEqual(['failure', 'failure']);
    expect(v.quarantined).toEqual([expect.objectContaining({ name: 'vancore.health.battery_soc', count: 1 })]);
    expect(v.attention.map((a) => a.code).sort()).toEqual(['failed_repeatedly', 'low_disk', 'rollback_loop']);
    const d = (await get('/api/v1/vans/van-002')).json<z.infer<typeof S.VanDetail>>();
    expect(d.gate).toEqual({
      state: 'deferred',
      phase: 'Download_Enter',
      reason: 'moving: stationary 0 of 3 min',
      codes: ['moving'],
      since: '2026-11-17T10:00:00Z',
    });
    expect((await get('/api/v1/vans/van-999')).json<unknown>()).toMatchObject({
      code: 'NOT_FOUND',
      error: 'no van van-999',
    });
  });

  it('reports the fleet and the attention list (JSON and CSV)', async () => {
    const f = (await get('/api/v1/reports/fleet')).json<z.infer<typeof S.FleetReport>>();
    expect(f).toMatchObject({
      vans_total: 3,
      by_stage: { internal: 1, pilot: 1, fleet: 1 },
      gate_states: { open: 2, deferred: 1 },
      quarantined_attributes: 1,
    });
    expect(f.versions.platform).toEqual([
      { version: '0.9.2', vans: 2 },
      { version: '0.9.1', vans: 1 },
    ]);
    expect(f.deferral_reasons).toEqual([{ reason: 'moving: the van is moving', codes: ['moving'], vans: 1 }]);
    expect(f.outcomes).toEqual([
      { day: '2026-11-20', success: 1, failure: 1, aborted: 0, already_installed: 0 },
      { day: '2026-11-21', success: 0, failure: 1, aborted: 0, already_installed: 0 },
    ]);

    const a = (await get('/api/v1/reports/attention')).json<{ van_id: string; code: string; detail: string }[]>();
    expect(a.map((i) => `${i.van_id}:${i.code}`)).toEqual([
      'van-002:deferred_long',
      'van-381:failed_repeatedly',
      'van-381:low_disk',
      'van-381:rollback_loop',
    ]);
    expect(a[0]?.detail).toBe('deferred 5.0 days: moving: stationary 0 of 3 min');

    const csv = await get('/api/v1/reports/attention?format=csv');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.split('\r\n')[0]).toBe('van_id,device_id,code,detail');
    expect(csv.body).toContain('van-002,d2,deferred_long,deferred 5.0 days: moving');
  });

  it('serves the fleet report from a cache that a write to the records invalidates', async () => {
    const before = (await get('/api/v1/reports/fleet')).json<z.infer<typeof S.FleetReport>>();
    expect(before.vans_total).toBe(3);
    await t.store.applyInventory(
      [{ deviceId: 'd9', inventory: parseInventory(attrs({ 'vancore.van_id': 'van-009' })), checkInTime: NOW }],
      NOW,
    );
    const after = (await get('/api/v1/reports/fleet')).json<z.infer<typeof S.FleetReport>>();
    expect(after.vans_total).toBe(4);
  });

  it('lists vans the rollout controller excluded after repeated failures', async () => {
    await t.store.db.updateTable('vans').set({ excluded: 1 }).where('device_id', '=', 'd1').execute();
    const a = (await get('/api/v1/reports/attention?code=excluded_from_rollouts')).json<
      { van_id: string; detail: string }[]
    >();
    expect(a).toEqual([
      expect.objectContaining({
        van_id: 'van-001',
        detail: expect.stringMatching(/^excluded from rollouts after repeated failures/) as unknown,
      }),
    ]);
  });

  it('flags installed combinations outside the artifacts requires rules', async () => {
    await t.store.applyInventory(
      [
        {
          deviceId: 'd4',
          inventory: parseInventory(
            attrs({ 'vancore.van_id': 'van-004', 'vancore.platform.version': '0.9.1', 'vancore.app.version': '1.4.0' }),
          ),
          checkInTime: NOW,
        },
      ],
      NOW,
    );
    const a = (await get('/api/v1/reports/attention?code=incompatible_components')).json<
      { van_id: string; detail: string }[]
    >();
    expect(a).toEqual([
      expect.objectContaining({ van_id: 'van-004', detail: 'app 1.4.0 requires platform >=0.9.2, has 0.9.1' }),
    ]);
  });

  it('authenticates: 401 without or with a bad token, support reads, only ops writes', async () => {
    expect((await app().inject({ method: 'GET', url: '/api/v1/vans' })).statusCode).toBe(401);
    expect((await get('/api/v1/vans', 'wrong-token-0123456789')).json<unknown>()).toMatchObject({
      code: 'UNAUTHORIZED',
      error: 'missing or unknown bearer token',
    });
    const denied = await app().inject({
      method: 'POST',
      url: '/api/v1/sync',
      headers: { authorization: `Bearer ${SUPPORT}` },
      payload: {},
    });
    expect(denied.statusCode).toBe(403);
    expect(denied.json<unknown>()).toMatchObject({ code: 'FORBIDDEN', error: 'role support may only read' });
    const ok = await app().inject({
      method: 'POST',
      url: '/api/v1/sync',
      headers: { authorization: `Bearer ${OPS}` },
      payload: { kind: 'full' },
    });
    expect(ok.statusCode).toBe(202);
    expect(ok.json<unknown>()).toEqual({ status: 'started', kind: 'full' });
    expect(bridge.sync.calls).toEqual(['full']);
  });

  it('limits request rate and body size', async () => {
    await bridge.close();
    await build({ http: { rate_limit_per_minute: 3, body_limit_bytes: 1024 } });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await get('/api/v1/reports/fleet')).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const big = await app().inject({
      method: 'POST',
      url: '/api/v1/sync',
      headers: { authorization: `Bearer ${OPS}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ kind: 'full', pad: 'x'.repeat(4096) }),
    });
    expect(big.statusCode).toBe(413);
  });

  it('answers every GET without writing to the store (the update plan included)', async () => {
    // A platform artifact makes van-002 (no app installed) need vancore-app-1.4.0, whose checksum is
    // not recorded: the plan must compute it, not store it.
    await t.store.upsertArtifacts([
      {
        id: 'a-platform',
        name: 'vancore-platform-0.9.2',
        component: 'platform',
        version: '0.9.2',
        requires_json: '{}',
        constraints_json: null,
        payload_type: 'vancore-compose',
        sha256: null,
        device_types_json: '["vanpc"]',
        size: 1,
        signed: 1,
        modified: NOW,
        synced_at: NOW,
      },
    ]);
    await bridge.close();
    bridge = await buildTestBridge({
      store: t,
      deps: {
        artifacts: {
          downloadLink: (id) => Promise.resolve(`http://mender.invalid/${id}`),
          sha256: () => Promise.resolve('ab'.repeat(32)),
        },
      },
    });
    const db = t.store.db;
    const snapshot = async () => {
      const tables = (await db.introspection.getTables()).filter((x) => (x.schema ?? undefined) === t.pgSchema);
      const out: Record<string, string[]> = {};
      for (const { name } of tables)
        out[name] = (await sql`select * from ${sql.table(name)}`.execute(db)).rows.map((r) => JSON.stringify(r)).sort();
      return out;
    };
    const before = await snapshot();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['vans', 'artifacts', 'gate_history']));
    const plan = await get('/api/v1/vans/van-002/plan');
    expect(plan.statusCode).toBe(200);
    expect(plan.json<{ artifacts: { name: string; sha256: string }[] }>().artifacts).toEqual([
      expect.objectContaining({ name: 'vancore-app-1.4.0', sha256: 'ab'.repeat(32) }),
    ]);
    const doc = (await app().inject('/docs/json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    const gets = Object.entries(doc.paths)
      .filter(([, ops]) => 'get' in ops)
      .map(([path]) => path.replace('{vanId}', 'van-381').replace(/\{\w+\}/g, 'x'));
    expect(gets.length).toBeGreaterThanOrEqual(6);
    for (const url of [...gets, '/healthz', '/readyz', '/metrics', '/api/v1/vans?format=csv&needs_attention=true'])
      expect((await get(url)).statusCode, url).toBeLessThan(500);
    expect(await snapshot()).toEqual(before);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await app().inject('/healthz')).json<unknown>()).toEqual({ status: 'ok' });
    expect((await app().inject('/readyz')).json<unknown>()).toEqual({ status: 'ready' });
    const m = (await app().inject('/metrics')).body;
    expect(m).toContain('vancore_sync_runs_total{kind="incremental"} 3');
    expect(m).toContain('vancore_vans{gate_state="deferred"} 1');
    expect(m).toContain('vancore_updates_total{status="failure"} 2');
    expect(m).toContain('vancore_quarantined_attributes_total 1');
    const doc = (await app().inject('/docs/json')).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/vans',
        '/api/v1/vans/{vanId}',
        '/api/v1/reports/fleet',
        '/api/v1/reports/attention',
        '/api/v1/sync',
      ]),
    );
    expect((await app().inject('/docs/')).statusCode).toBe(200);
  });

  it('reports not ready with the reason when Mender does not answer', async () => {
    await bridge.close();
    bridge = await buildTestBridge({
      store: t,
      config: { auth: { tokens: [] }, http: {} },
      deps: { menderReady: () => Promise.reject(new Error('Mender GET /x: ECONNREFUSED')) },
    });
    const r = await app().inject('/readyz');
    expect(r.statusCode).toBe(503);
    expect(r.json<unknown>()).toEqual({ status: 'not ready', database: 'ok', mender: 'Mender GET /x: ECONNREFUSED' });
  });
});

describe('toCsv', () => {
  it('quotes and defuses formulas', () => {
    expect(toCsv(['a', 'b'], [['=1+1', 'x,"y"']])).toBe('a,b\r\n\'=1+1,"x,""y"""\r\n');
  });
});
