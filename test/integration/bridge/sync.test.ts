// The sync against the Mender simulator over HTTP (not an in-memory fake), on SQLite and PostgreSQL.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSync } from '../../../bridge/sync/sync.js';
import { SyncRunner } from '../../../bridge/sync/runner.js';
import { ManualClock } from '../../../core/clock.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { Mgmt, SimDevice, buildArtifact } from '../../mender-sim/testkit.js';
import { startChaosProxy } from '../../helpers/chaos-proxy.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const now = () => new Date();

function vanInventory(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'vancore.van_id': `van-${String(i).padStart(3, '0')}`,
    'vancore.platform.version': '0.9.2',
    'vancore.health.battery_soc': String(50 + (i % 40)),
    'vancore.gate.state': i % 5 === 0 ? 'deferred' : 'open',
    'vancore.gate.reason': i % 5 === 0 ? 'moving' : '',
    ...over,
  };
}

async function fleet(sim: MenderSim, n: number, clock: ManualClock): Promise<SimDevice[]> {
  const devices: SimDevice[] = [];
  for (let i = 0; i < n; i++) {
    const d = new SimDevice(sim.url, {
      mac: `02:00:00:00:${String(Math.floor(i / 256)).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`,
    });
    expect((await d.authenticate()).status).toBe(200);
    // Every seventh van reports garbage next to good values.
    expect(
      (
        await d.putInventory(
          vanInventory(
            i,
            i % 7 === 3 ? { 'vancore.health.battery_soc': 'full-ish', 'vancore.app.version': 'latest' } : {},
          ),
        )
      ).status,
    ).toBe(200);
    devices.push(d);
    clock.advance(10_000);
  }
  return devices;
}

function client(url: string, sim: MenderSim, pageSize = 7): MenderManagementClient {
  return MenderManagementClient.create({
    baseUrl: url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    pageSize,
    timeoutMs: 1500,
    retry: { retries: 8, baseDelayMs: 20, maxDelayMs: 200 },
  });
}

async function snapshotOf(t: TestStore) {
  const vans = await t.store.db
    .selectFrom('vans')
    .select(['device_id', 'van_id', 'battery_soc', 'gate_state', 'gate_reason', 'auth_status', 'artifact_name'])
    .orderBy('device_id')
    .execute();
  const comps = await t.store.db
    .selectFrom('van_components')
    .select(['device_id', 'component', 'version'])
    .orderBy('device_id')
    .orderBy('component')
    .execute();
  const q = await t.store.db
    .selectFrom('quarantine')
    .select(['device_id', 'name', 'reason'])
    .orderBy('device_id')
    .orderBy('name')
    .execute();
  const deps = await t.store.db
    .selectFrom('deployment_devices')
    .select(['deployment_id', 'device_id', 'status'])
    .orderBy('device_id')
    .execute();
  return { vans, comps, q, deps };
}

describe.each(backends)('sync from the simulator into %s', (backend) => {
  let sim: MenderSim;
  let devices: SimDevice[];
  let t: TestStore;
  let dir: string;
  // The simulator's clock stamps updated_ts: move it like real time between syncs.
  const simClock = new ManualClock('2026-11-22T08:00:00Z');

  beforeAll(async () => {
    sim = await startMenderSim({ autoAccept: true, clock: simClock });
    devices = await fleet(sim, 30, simClock);
    dir = await mkdtemp(join(tmpdir(), 'vc-sync-'));
    // One finished deployment: two vans succeed, one fails with a log.
    const mgmt = new Mgmt(sim.url, await sim.managementToken());
    const art = await buildArtifact(dir, {
      name: 'vancore-platform-0.9.3',
      softwareName: 'platform',
      softwareVersion: '0.9.3',
      metaData: { vancore: { component: 'platform', version: '0.9.3', requires: {} } },
    });
    expect((await mgmt.upload(await readFile(art), 'p.mender')).status).toBe(201);
    const ids = (await mgmt.get('/v2/devauth/devices?per_page=500')).json as {
      id: string;
      identity_data: { mac: string };
    }[];
    const idOf = (d: SimDevice) => ids.find((x) => x.identity_data.mac === d.identity.mac)!.id;
    const target = [devices[0]!, devices[1]!, devices[2]!];
    const created = await mgmt.call('POST', '/v1/deployments/deployments', {
      name: 'platform 0.9.3 pilot',
      artifact_name: 'vancore-platform-0.9.3',
      devices: target.map(idOf),
    });
    expect(created.status).toBe(201);
    for (const [i, d] of target.entries()) {
      const next = await d.next();
      const depId = (next.json as { id: string }).id;
      for (const s of ['downloading', 'installing', 'rebooting']) expect((await d.status(depId, s)).status).toBe(204);
      if (i === 2) {
        await d.log(depId, [
          { timestamp: new Date().toISOString(), level: 'error', message: 'ArtifactCommit_Enter: validation failed' },
        ]);
        await d.status(depId, 'failure');
      } else await d.status(depId, 'success');
    }
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('a full sync brings every van, version, gate state and deployment outcome, and quarantines garbage', async () => {
    const r = await runSync({ mender: client(sim.url, sim), store: t.store, now }, 'full');
    expect(r).toMatchObject({
      kind: 'full',
      devices_seen: 30,
      vans_applied: 30,
      vans_created: 30,
      deployments_seen: 1,
      deployment_devices: 3,
    });
    // 5 vans (i % 7 === 3) each report two bad attributes.
    expect(r.attributes_quarantined).toBe(8);
    const s = await snapshotOf(t);
    expect(s.vans).toHaveLength(30);
    expect(s.vans.every((v) => v.auth_status === 'accepted')).toBe(true);
    expect(s.vans.find((v) => v.van_id === 'van-003')).toMatchObject({ battery_soc: null, gate_state: 'open' });
    expect(s.vans.filter((v) => v.gate_state === 'deferred')).toHaveLength(6);
    expect(s.comps.filter((c) => c.component === 'app')).toEqual([]);
    expect(s.deps.map((d) => d.status).sort()).toEqual(['failure', 'success', 'success']);
    const art = await t.store.db.selectFrom('artifacts').selectAll().executeTakeFirstOrThrow();
    expect([art.name, art.component, art.version]).toEqual(['vancore-platform-0.9.3', 'platform', '0.9.3']);
  });

  it('an incremental sync reads only what changed (newest first) and keeps the rest', async () => {
    const mender = client(sim.url, sim);
    await runSync({ mender, store: t.store, now }, 'full');
    simClock.advance(60_000);
    expect(
      (
        await devices[9]!.putInventory(
          vanInventory(9, {
            'vancore.health.battery_soc': '11',
            'vancore.gate.state': 'deferred',
            'vancore.gate.reason': 'battery_low',
          }),
        )
      ).status,
    ).toBe(200);
    sim.clearRequests();
    const r = await runSync({ mender, store: t.store, now }, 'incremental');
    // Newest first: van-009 (changed) and van-029 (updated within the cursor's 5 s overlap) are read; the
    // first page already reaches past the cursor, so no further page is asked for.
    expect(r.vans_applied).toBe(2);
    expect(sim.requests().filter((q) => q.path.endsWith('/filters/search'))).toHaveLength(1);
    const v = await t.store.db.selectFrom('vans').selectAll().where('van_id', '=', 'van-009').executeTakeFirstOrThrow();
    expect([v.battery_soc, v.gate_state, v.gate_reason]).toEqual([11, 'deferred', 'battery_low']);
    expect(await t.store.db.selectFrom('vans').select('device_id').execute()).toHaveLength(30);
    // Finished deployments already read are not read again.
    expect(sim.requests().filter((q) => q.path.includes('/devices/list'))).toHaveLength(0);
  });

  it('converges to the same records through a proxy failing 20 % of calls', async () => {
    await runSync({ mender: client(sim.url, sim), store: t.store, now }, 'full');
    const clean = await snapshotOf(t);
    const chaosStore = await openTestStore(backend);
    const proxy = await startChaosProxy(sim.url, { failShare: 0.2, seed: 42, stallMs: 3_000 });
    try {
      const runner = new SyncRunner(
        { mender: client(proxy.url, sim, 3), store: chaosStore.store, now },
        { intervalMs: 60_000, fullEveryMs: 0 },
      );
      // A sync may still give up after its retries; the scheduled next one picks up: emulate a few ticks.
      let done = false;
      for (let tick = 0; tick < 5 && !done; tick++)
        done = await runner.syncNow('full').then(
          () => true,
          () => false,
        );
      expect(done).toBe(true);
      expect(await snapshotOf(chaosStore)).toEqual(clean);
      expect(Object.values(proxy.stats.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    } finally {
      await proxy.close();
      await chaosStore.dispose();
    }
  });

  it('a "sync now" while one runs joins it', async () => {
    const runner = new SyncRunner(
      { mender: client(sim.url, sim), store: t.store, now },
      { intervalMs: 60_000, fullEveryMs: 3_600_000 },
    );
    const a = runner.syncNow('incremental');
    const b = runner.syncNow('incremental');
    expect(b).toBe(a);
    expect(runner.running).toBe(true);
    await a;
    expect(runner.running).toBe(false);
    expect(runner.metrics.runs.incremental).toBe(1);
  });
});
