// Issue #17 "Done when": a roaming van defers with reason `roaming`; a metered van over its `max_mb` defers
// with its own reason (`metered_over_max`); both show up grouped in the fleet report. The vans are the
// virtual fleet over real HTTP against the Mender simulator, their gate lines made by the gates' own
// formatter (core/reason-codes.ts, mender-sim/fleet/machine.ts); the bridge syncs them from the simulator
// like from Mender and groups by code. (The same codes from the real download gate with recorded
// mmcli / nmcli output: test/integration/state-scripts/network-gate.test.ts.)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { type BridgeApp, buildBridgeApp, type SyncControl } from '../../../bridge/api/app.js';
import type * as S from '../../../bridge/api/schemas.js';
import { runSync, type SyncReport } from '../../../bridge/sync/sync.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { startVirtualFleet, type VirtualFleet } from '../../../mender-sim/fleet/index.js';
import { startMenderSim, type MenderSim } from '../../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../../mender-sim/testkit.js';
import { type TestStore, openTestStore } from '../../helpers/fleet-db.js';

const TARGET = 'vancore-platform-1.0.0';
const NOW = '2026-11-22T10:00:00.000Z';
const never = (reason: 'roaming' | 'metered_over_max') => ({ deferral: { polls: 1_000, reason } });

let dir: string;
let sim: MenderSim;
let fleet: VirtualFleet;
let t: TestStore;
let app: BridgeApp;
let mender: MenderManagementClient;

const sync: SyncControl = {
  running: false,
  metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [], lastDurationMs: 0 },
  syncNow: (kind) => Promise.resolve({ kind } as SyncReport),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-netdefer-'));
  const artifact = await readFile(
    await buildArtifact(dir, {
      name: TARGET,
      provides: { 'vancore.platform.version': '1.0.0' },
      metaData: { vancore: { component: 'platform', version: '1.0.0' } },
    }),
  );
  sim = await startMenderSim({ autoAccept: true });
  const mg = new Mgmt(sim.url, await sim.managementToken());
  expect((await mg.upload(artifact)).status).toBe(201);
  fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: 8,
    seed: 'net-deferrals',
    pollIntervalMs: 150,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    // Vans 0–1 roam with `download.roaming: never`; vans 2–4 are on a metered link with an update over
    // their `download.metered.max_mb`; the rest update.
    script: {
      overrides: {
        '0': never('roaming'),
        '1': never('roaming'),
        '2': never('metered_over_max'),
        '3': never('metered_over_max'),
        '4': never('metered_over_max'),
      },
    },
  });
  await fleet.until((s) => s.booted === 8, { timeoutMs: 30_000 });
  const dep = await mg.call('POST', '/v1/deployments/deployments', {
    name: 'platform 1.0.0',
    artifact_name: TARGET,
    devices: fleet.devices().map((d) => d.deviceId),
  });
  expect(dep.status).toBe(201);

  t = await openTestStore('sqlite');
  mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    pageSize: 500,
    timeoutMs: 5000,
    retry: { retries: 3, baseDelayMs: 20, maxDelayMs: 200 },
  });
  app = await buildBridgeApp({
    store: t.store,
    sync,
    menderReady: () => Promise.resolve(),
    config: BridgeConfig.parse({ http: { rate_limit_per_minute: 0 } }),
    clock: new ManualClock(NOW),
    artifacts: {
      downloadLink: () => Promise.reject(new Error('not used')),
      sha256: () => Promise.reject(new Error('not used')),
    },
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await t?.dispose();
  await fleet?.stop();
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

type FleetReport = z.infer<typeof S.FleetReport>;

describe('network deferrals in the fleet report', () => {
  it('roaming and metered-over-max vans are two buckets, each under its own code', async () => {
    // Five vans say "not now" and tell the server why in their inventory; three update.
    await fleet.until(
      (s) => s.events.success === 3 && fleet.devices().filter((d) => d.gate.state === 'deferred').length === 5,
      { timeoutMs: 60_000 },
    );
    const byVan = new Map(fleet.devices().map((d) => [d.index, d.gate]));
    expect(byVan.get(0)).toEqual({ state: 'deferred', reason: 'roaming: the modem is roaming' });
    expect(byVan.get(2)).toEqual({
      state: 'deferred',
      reason: 'metered_over_max: the update is larger than allowed on a metered link',
    });

    // The bridge syncs from the simulator as from Mender until every deferred van's inventory is in.
    let report: FleetReport | undefined;
    const end = Date.now() + 30_000;
    for (;;) {
      await runSync({ mender, store: t.store, now: () => new Date(NOW) }, 'full');
      const res = await app.inject({ method: 'GET', url: '/api/v1/reports/fleet' });
      expect(res.statusCode).toBe(200);
      report = res.json<FleetReport>();
      const vans = report.deferral_reasons.reduce((n, r) => n + r.vans, 0);
      if (vans === 5 || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(report.deferral_reasons).toEqual([
      {
        reason: 'metered_over_max: the update is larger than allowed on a metered link',
        codes: ['metered_over_max'],
        vans: 3,
      },
      { reason: 'roaming: the modem is roaming', codes: ['roaming'], vans: 2 },
    ]);
    expect(report.deferral_codes).toEqual([
      { code: 'metered_over_max', vans: 3 },
      { code: 'roaming', vans: 2 },
    ]);

    // A roaming van's detail carries its code beside its line.
    const roamer = fleet.devices().find((d) => d.index === 0)!;
    const van = (await app.inject({ method: 'GET', url: `/api/v1/vans/${roamer.vanId}` })).json<
      z.infer<typeof S.VanDetail>
    >();
    expect(van.gate.codes).toEqual(['roaming']);
    expect(van.gate.reason).toBe('roaming: the modem is roaming');
  });
});
