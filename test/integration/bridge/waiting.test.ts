// Issue #13, bridge side: a van its gate holds is shown waiting, never downloading, and is never a failure.
// The C++ client (mender-update ≥ 5) PUTs `downloading` before Download_Enter runs, and a 5.x van that
// defers at Sync_Leave reports nothing (Mender keeps it `pending`) — shared/mender-client/RECIPE-current.md.
// Its inventory arrives as strings (the C++ client PUTs every value as a string), `vancore.client`
// included. Real sync from the simulator (both server lines) into SQLite and PostgreSQL.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionReport, fleetReport, getVan } from '../../../bridge/store/reports.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { MENDER_PROFILES } from '../../../mender-sim/profile.js';
import { Mgmt, SimDevice, buildArtifact } from '../../../mender-sim/testkit.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const matrix = backends.flatMap((b) => MENDER_PROFILES.map((p) => [b, p] as const));

/** Inventory as the C++ client PUTs it: every value a string. */
function inventory(van: string, gate: 'open' | 'deferred', reason: string): Record<string, string> {
  return {
    'vancore.van_id': van,
    'vancore.platform.version': '0.9.2',
    'vancore.health.battery_soc': '64',
    'vancore.health.signal_quality': '0.41',
    'vancore.health.shore_power': 'false',
    'vancore.health.disk_ok': 'true',
    'vancore.gate.state': gate,
    'vancore.gate.phase': 'Download_Enter',
    'vancore.gate.reason': reason,
    'vancore.gate.since': '2026-11-22T08:00:00Z',
    'vancore.client': van === 'van-b' ? 'mender/3.4.0' : 'mender-update/5.1.0',
  };
}

describe.each(matrix)('waiting vans on %s, Mender %s', (backend, profile) => {
  let sim: MenderSim;
  let dir: string;
  let t: TestStore;

  beforeAll(async () => {
    sim = await startMenderSim({ autoAccept: true, profile });
    dir = await mkdtemp(join(tmpdir(), 'vc-waiting-'));
    const mgmt = new Mgmt(sim.url, await sim.managementToken());
    const art = await buildArtifact(dir, {
      name: 'vancore-platform-0.9.3',
      softwareName: 'platform',
      softwareVersion: '0.9.3',
      metaData: { vancore: { component: 'platform', version: '0.9.3' } },
    });
    expect((await mgmt.upload(await readFile(art), 'p.mender')).status).toBe(201);
    const vans = { 'van-a': 'deferred', 'van-b': 'open', 'van-c': 'deferred' } as const;
    const devices = new Map<string, SimDevice>();
    for (const [i, [van, gate]] of Object.entries(vans).entries()) {
      const d = new SimDevice(sim.url, { mac: `02:00:00:00:01:0${i}` });
      expect((await d.authenticate()).status).toBe(200);
      expect((await d.putInventory(inventory(van, gate, gate === 'deferred' ? 'moving' : ''))).status).toBe(200);
      devices.set(van, d);
    }
    const ids = (await mgmt.get('/v2/devauth/devices?per_page=500')).json as { id: string }[];
    expect(
      (
        await mgmt.call('POST', '/v1/deployments/deployments', {
          name: 'platform 0.9.3',
          artifact_name: 'vancore-platform-0.9.3',
          devices: ids.map((x) => x.id),
        })
      ).status,
    ).toBe(201);
    for (const van of ['van-a', 'van-b']) {
      const d = devices.get(van)!;
      const dep = (await d.next()).json as { id: string };
      // van-a: the C++ client's `downloading` before Download_Enter, then its gate defers.
      expect((await d.status(dep.id, 'downloading')).status).toBe(204);
    }
    // van-c: a 5.x van asks for its deployment in Sync, then its gate fails Sync_Leave: it reports nothing
    // and Mender keeps it pending (the ask is what creates its device deployment).
    expect((await devices.get('van-c')!.next()).status).toBe(200);
    t = await openTestStore(backend);
    const mender = MenderManagementClient.create({
      baseUrl: sim.url,
      auth: { kind: 'login', user: sim.user, password: sim.password },
    });
    await runSync({ mender, store: t.store, now: () => new Date() }, 'full');
  });
  afterAll(async () => {
    await t.dispose();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the van report shows a held van waiting with its reason, Mender’s status beside it', async () => {
    const a = (await getVan(t.store.db, 'van-a', []))!;
    expect(a.updates).toEqual([
      expect.objectContaining({
        status: 'waiting',
        mender_status: 'downloading',
        waiting: { gate_state: 'deferred', reason: 'moving' },
      }),
    ]);
    const b = (await getVan(t.store.db, 'van-b', []))!;
    expect(b.updates.map((u) => [u.status, u.mender_status, u.waiting])).toEqual([
      ['downloading', 'downloading', undefined],
    ]);
    const c = (await getVan(t.store.db, 'van-c', []))!;
    expect(c.updates.map((u) => [u.status, u.mender_status])).toEqual([['waiting', 'pending']]);
  });

  it('every string value is read, and the van report names the client', async () => {
    const a = (await getVan(t.store.db, 'van-a', []))!;
    expect(a.health).toMatchObject({ battery_soc: 64, signal_quality: 0.41, shore_power: false, disk_ok: true });
    expect(a.client).toEqual({ flavour: 'mender-update-5', version: '5.1.0', reported: 'mender-update/5.1.0' });
    expect((await getVan(t.store.db, 'van-b', []))!.client).toMatchObject({ flavour: 'mender-3', version: '3.4.0' });
    expect(a.quarantined).toEqual([]);
  });

  it('the fleet report counts held vans as waiting; a held van is never "stuck downloading"', async () => {
    const f = await fleetReport(t.store.db, new Date());
    expect(f.updates_in_progress).toEqual({ waiting: 2, downloading: 1 });
    expect(f.outcomes.every((o) => o.failure === 0)).toBe(true);
    const later = new Date(Date.now() + 7 * 86_400_000);
    const stuck = (
      await attentionReport(
        t.store.db,
        { failed_times: 3, deferred_days: 30, not_seen_days: 30, stuck_downloading_hours: 1 },
        later,
      )
    ).filter((x) => x.code === 'stuck_downloading');
    expect(stuck.map((x) => x.van_id)).toEqual(['van-b']);
  });
});
