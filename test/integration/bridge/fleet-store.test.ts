import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseInventory } from '../../../core/schemas/inventory.js';
import type { DeviceSnapshot } from '../../../bridge/store/fleet-store.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';
import { attrs } from '../../helpers/builders.js';

const T1 = '2026-11-22T10:00:00.000Z';
const T2 = '2026-11-22T11:00:00.000Z';

function snap(
  deviceId: string,
  inventory: Record<string, unknown>,
  extra: { tags?: Record<string, string>; group?: string } = {},
): DeviceSnapshot {
  return {
    deviceId,
    authStatus: 'accepted',
    checkInTime: T1,
    inventoryUpdatedTs: T1,
    inventory: parseInventory([
      ...attrs(inventory),
      ...attrs(extra.tags ?? {}, 'tags'),
      ...(extra.group ? attrs({ group: extra.group }, 'system') : []),
    ]),
  };
}

const van = (id: string, over: Record<string, unknown> = {}) => ({
  'vancore.van_id': id,
  'vancore.platform.version': '0.9.2',
  'vancore.health.disk_ok': 'true',
  'vancore.health.battery_soc': '80',
  'vancore.gate.state': 'open',
  'vancore.gate.phase': 'none',
  device_type: 'vanpc',
  artifact_name: 'vancore-platform-0.9.2',
  ...over,
});

describe.each(backends)('FleetStore on %s', (backend) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('migrations are versioned and idempotent', async () => {
    expect(await t.store.migrate()).toEqual([]);
  });

  it('creates vans from snapshots, with components, health and gate state', async () => {
    const r = await t.store.applyInventory(
      [
        snap('d1', van('van-001')),
        snap('d2', van('van-002', { 'vancore.app.version': '1.4.0' }), {
          tags: { vancore_stage: 'pilot' },
          group: 'pilot',
        }),
      ],
      T1,
    );
    expect(r).toEqual({ vans: 2, created: 2, quarantined: 0 });
    const rows = await t.store.db.selectFrom('vans').selectAll().orderBy('van_id').execute();
    expect(rows.map((v) => [v.van_id, v.stage, v.mender_group, v.gate_state, v.disk_ok, v.battery_soc])).toEqual([
      ['van-001', 'fleet', null, 'open', 1, 80],
      ['van-002', 'pilot', 'pilot', 'open', 1, 80],
    ]);
    const comps = await t.store.db
      .selectFrom('van_components')
      .select(['device_id', 'component', 'version'])
      .orderBy('device_id')
      .orderBy('component')
      .execute();
    expect(comps).toEqual([
      { device_id: 'd1', component: 'platform', version: '0.9.2' },
      { device_id: 'd2', component: 'app', version: '1.4.0' },
      { device_id: 'd2', component: 'platform', version: '0.9.2' },
    ]);
  });

  it('never overwrites good values with garbage, and counts the garbage', async () => {
    await t.store.applyInventory([snap('d1', van('van-001'))], T1);
    const r = await t.store.applyInventory(
      [
        snap(
          'd1',
          van('van-001', {
            'vancore.health.battery_soc': 'lots',
            'vancore.platform.version': 'latest',
            'vancore.gate.state': 'confused',
          }),
        ),
      ],
      T2,
    );
    expect(r.quarantined).toBe(3);
    const v = await t.store.db.selectFrom('vans').selectAll().where('device_id', '=', 'd1').executeTakeFirstOrThrow();
    expect([v.battery_soc, v.gate_state]).toEqual([80, 'open']);
    const c = await t.store.db
      .selectFrom('van_components')
      .select('version')
      .where('device_id', '=', 'd1')
      .executeTakeFirstOrThrow();
    expect(c.version).toBe('0.9.2');
    await t.store.applyInventory([snap('d1', van('van-001', { 'vancore.health.battery_soc': 'lots' }))], T2);
    const q = await t.store.db
      .selectFrom('quarantine')
      .selectAll()
      .where('name', '=', 'vancore.health.battery_soc')
      .executeTakeFirstOrThrow();
    expect([q.count, q.reason]).toEqual([2, 'invalid value for vancore.health.battery_soc']);
    expect(await t.store.quarantineTotal()).toBe(4);
  });

  it('refuses a van id claimed by a second device', async () => {
    await t.store.applyInventory([snap('d1', van('van-001'))], T1);
    const r = await t.store.applyInventory([snap('d2', van('van-001'))], T2);
    expect(r.quarantined).toBe(1);
    const rows = await t.store.db.selectFrom('vans').select(['device_id', 'van_id']).orderBy('device_id').execute();
    expect(rows).toEqual([
      { device_id: 'd1', van_id: 'van-001' },
      { device_id: 'd2', van_id: 'd2' },
    ]);
    const q = await t.store.db
      .selectFrom('quarantine')
      .select('reason')
      .where('device_id', '=', 'd2')
      .executeTakeFirstOrThrow();
    expect(q.reason).toBe('van id van-001 is already used by device d1');
  });

  it('lets van ids swap between devices within one batch', async () => {
    await t.store.applyInventory([snap('d1', van('van-A')), snap('d2', van('van-B'))], T1);
    // Two hubs were swapped between vans: both report the other id in the same sync page.
    const r = await t.store.applyInventory([snap('d1', van('van-B')), snap('d2', van('van-A'))], T2);
    expect(r.quarantined).toBe(0);
    const rows = await t.store.db.selectFrom('vans').select(['device_id', 'van_id']).orderBy('device_id').execute();
    expect(rows).toEqual([
      { device_id: 'd1', van_id: 'van-B' },
      { device_id: 'd2', van_id: 'van-A' },
    ]);
  });

  it('records health and gate history only when they change', async () => {
    await t.store.applyInventory([snap('d1', van('van-001'))], T1);
    await t.store.applyInventory([snap('d1', van('van-001'))], T2);
    await t.store.applyInventory(
      [
        snap(
          'd1',
          van('van-001', {
            'vancore.health.battery_soc': '20',
            'vancore.gate.state': 'deferred',
            'vancore.gate.phase': 'Download_Enter',
            'vancore.gate.reason': 'moving',
            'vancore.gate.since': T2,
          }),
        ),
      ],
      T2,
    );
    const health = await t.store.db.selectFrom('health_reports').select(['battery_soc']).orderBy('id').execute();
    expect(health.map((h) => h.battery_soc)).toEqual([80, 20]);
    const gates = await t.store.db.selectFrom('gate_history').select(['state', 'reason']).orderBy('id').execute();
    expect(gates).toEqual([
      { state: 'open', reason: null },
      { state: 'deferred', reason: 'moving' },
    ]);
  });

  it('applies a 2,000-device page batch in one go', async () => {
    const snaps = Array.from({ length: 2000 }, (_, i) => snap(`dev-${i}`, van(`van-${String(i).padStart(5, '0')}`)));
    const r = await t.store.applyInventory(snaps, T1);
    expect(r.created).toBe(2000);
    const n = await t.store.db
      .selectFrom('vans')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(2000);
  });

  it('marks devices Mender no longer lists as decommissioned, keeping their history', async () => {
    await t.store.applyInventory([snap('d1', van('van-001')), snap('d2', van('van-002'))], T1);
    expect(await t.store.markDecommissioned(new Set(['d1']), T2)).toBe(1);
    const rows = await t.store.db
      .selectFrom('vans')
      .select(['device_id', 'decommissioned'])
      .orderBy('device_id')
      .execute();
    expect(rows).toEqual([
      { device_id: 'd1', decommissioned: 0 },
      { device_id: 'd2', decommissioned: 1 },
    ]);
  });

  it('keeps sync state', async () => {
    expect(await t.store.getSyncState('cursor')).toBeUndefined();
    await t.store.setSyncState('cursor', 'a', T1);
    await t.store.setSyncState('cursor', 'b', T2);
    expect(await t.store.getSyncState('cursor')).toBe('b');
  });

  it('an artifact known before its VPN step was recorded gets the step at the next sync', async () => {
    const row = {
      id: 'a-vpn',
      name: 'vancore-vpn-1.0.0',
      component: 'vpn',
      version: '1.0.0',
      requires_json: '{}',
      constraints_json: null,
      payload_type: 'vancore-vpn',
      sha256: null,
      device_types_json: '["vanpc"]',
      size: 1,
      signed: 1,
      modified: T1,
      synced_at: T1,
    };
    await t.store.upsertArtifacts([{ ...row, vpn_step: null }]);
    await t.store.upsertArtifacts([{ ...row, vpn_step: 'add', synced_at: T2 }]);
    const got = await t.store.db.selectFrom('artifacts').select(['vpn_step', 'synced_at']).execute();
    expect(got).toEqual([{ vpn_step: 'add', synced_at: T2 }]);
  });
});
