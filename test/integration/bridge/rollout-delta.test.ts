// Delta or full per van (issue #17 items 2 and 5) on the simulator and two virtual fleets: 20 vans on
// platform 0.9.0 (the delta's base) and 10 on 0.8.0. The release has a full platform 1.0.0 artifact and a
// delta from 0.9.0 under its own name — Mender chooses among same-named artifacts by device type only
// (mender-server backend/services/deployments/app/app.go assignArtifact → store/mongo
// ImageByIdsAndDeviceType: "If multiple entries matches, pick the smallest one"), so a same-named delta
// would reach every van. The bridge deploys the delta to the base vans and the full artifact to the rest;
// each van downloads exactly what the forecast said; the ledger per wave and per van adds up to what the
// fleet downloaded; a van over its monthly data budget is listed for attention. A delta sent by hand to a
// van not on its base fails as the 3.4 client fails it (unmet type-info depends) and leaves it as it was.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ForecastBody, RolloutBody } from '../../../bridge/api/rollouts.js';
import type { RolloutData, VanData } from '../../../bridge/api/schemas.js';
import { RolloutController } from '../../../bridge/rollout/controller.js';
import * as R from '../../../bridge/rollout/store.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { ManualClock } from '../../../core/clock.js';
import { RolloutSettings } from '../../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../../mender-sim/testkit.js';
import { cliPath, repoRoot } from '../../helpers/cli.js';
import { backends, openTestStore } from '../../helpers/fleet-db.js';
import { captureOutput } from '../../helpers/output-capture.js';
import { OPS_TOKEN, buildTestBridge } from '../../helpers/test-bridge.js';
import type * as z from 'zod';

const ON_BASE = 20;
const OFF_BASE = 10;
const DELTA = 'vancore-platform-1.0.0-delta-from-0.9.0';

let dir: string;
let full: Buffer;
let delta: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-rollout-delta-'));
  full = await readFile(
    await buildArtifact(dir, {
      name: 'vancore-platform-1.0.0',
      files: { 'docker-compose.yml': 'services: {}\n', 'layers.txt': randomBytes(96 * 512).toString('hex') },
      provides: { 'vancore.platform.version': '1.0.0' },
      metaData: { vancore: { component: 'platform', version: '1.0.0' } },
    }),
  );
  delta = await readFile(
    await buildArtifact(dir, {
      name: DELTA,
      files: { 'docker-compose.yml': 'services: {}\n', 'layers.txt': randomBytes(8 * 512).toString('hex') },
      provides: { 'vancore.platform.version': '1.0.0' },
      depends: { 'vancore.platform.version': '0.9.0' },
      metaData: { vancore: { component: 'platform', version: '1.0.0', delta_of: '0.9.0' } },
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The real CLI as a child process, asynchronously (the bridge answering it runs in this process). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: repoRoot, env: { ...process.env, VANCORE_BRIDGE_TOKEN: OPS_TOKEN }, timeout: 30_000 },
      (err, stdout, stderr) => {
        captureOutput(`vancore-ota ${args.join(' ')}`, stdout, stderr);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe.each(backends)('delta or full artifact per van on %s', (backend) => {
  it('sends each van the artifact for its version, counts the bytes per van, wave and rollout, and flags a budget', async () => {
    const sim = await startMenderSim({ autoAccept: true });
    cleanup.push(() => sim.close());
    const mg = new Mgmt(sim.url, await sim.managementToken());
    expect((await mg.upload(full)).status).toBe(201);
    expect((await mg.upload(delta)).status).toBe(201);
    const timing = { pollIntervalMs: 100, retryIntervalMs: 100, inventoryIntervalMs: 60_000 };
    const onBase = await startVirtualFleet({
      serverUrl: sim.url,
      count: ON_BASE,
      seed: 'delta-base',
      versions: { platform: '0.9.0' },
      ...timing,
    });
    cleanup.push(() => onBase.stop());
    const offBase = await startVirtualFleet({
      serverUrl: sim.url,
      count: OFF_BASE,
      seed: 'delta-other',
      versions: { platform: '0.8.0' },
      ...timing,
    });
    cleanup.push(() => offBase.stop());
    await onBase.until((s) => s.booted === ON_BASE, { timeoutMs: 60_000 });
    await offBase.until((s) => s.booted === OFF_BASE, { timeoutMs: 60_000 });

    const t = await openTestStore(backend);
    cleanup.push(() => t.dispose());
    const db = t.store.db;
    const mender = MenderManagementClient.create({
      baseUrl: sim.url,
      auth: { kind: 'login', user: sim.user, password: sim.password },
      pageSize: 500,
      timeoutMs: 5000,
    });
    const clock = new ManualClock('2026-11-22T00:00:00Z');
    const sync = async (kind: 'full' | 'incremental' = 'full') =>
      void (await runSync({ mender, store: t.store, now: () => clock.now() }, kind));

    // ---- by hand: the delta to a van not on its base fails at download, the van stays as it was -------
    const stray = offBase.devices()[0]!.deviceId!;
    const handId = await mender.createDeployment({ name: 'by hand', artifact_name: DELTA, devices: [stray] });
    await offBase.until(() => offBase.devices()[0]!.outcomes.length > 0, { timeoutMs: 30_000 });
    expect(offBase.devices()[0]!.outcomes).toEqual(['failure']);
    expect(await mender.deviceLog(handId, stray)).toMatch(
      /Artifact dependency "vancore.platform.version" not satisfied by currently installed artifact \(0.9.0 != 0.8.0\)/,
    );
    expect(offBase.devices()[0]!.bytesDownloaded).toBe(delta.length);
    await sync();
    const sizes = Object.fromEntries(
      (await db.selectFrom('artifacts').select(['name', 'size', 'delta_of']).execute()).map((a) => [a.name, a]),
    );
    expect(sizes[DELTA]).toMatchObject({ delta_of: '0.9.0', size: delta.length });
    expect(sizes['vancore-platform-1.0.0']).toMatchObject({ delta_of: null, size: full.length });

    const rollout = { wave_percent: 10, wave_interval_hours: 6, soak_hours: { internal: 2, pilot: 3 } };
    const controller = new RolloutController({
      store: t.store,
      mender,
      clock,
      settings: RolloutSettings.parse(rollout),
    });
    const bridge = await buildTestBridge({
      store: t,
      clock,
      config: { rollout, reports: { data_budget_mb_per_month: 1 } },
      deps: { rollouts: { store: t.store, controller, mender, clock } },
    });
    cleanup.push(() => bridge.close());
    const app = bridge.app;
    const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
      method === 'GET' ? bridge.get(url, OPS_TOKEN) : bridge.post(url, body);

    const rel = await call('POST', '/api/v1/releases', { name: 'rel-d', components: { platform: '1.0.0' } });
    expect(rel.statusCode, rel.body).toBe(201);
    const f = (await call('POST', '/api/v1/rollouts', { release: 'rel-d', dry_run: true })).json<ForecastBody>();
    expect(f).toMatchObject({
      vans: ON_BASE + OFF_BASE,
      delta_vans: ON_BASE,
      delta_bytes: ON_BASE * delta.length,
      full_bytes: OFF_BASE * full.length,
    });

    const before = new Map(
      [...onBase.devices(), ...offBase.devices()].map((d) => [d.deviceId!, d.bytesDownloaded] as const),
    );
    const created = await call('POST', '/api/v1/rollouts', { release: 'rel-d', reason: 'delta test' });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<RolloutBody>().id;
    const end = Date.now() + 150_000;
    for (;;) {
      await sync('incremental');
      await controller.tick();
      const r = (await R.getRollout(db, id))!;
      if (r.status !== 'active') break;
      if (Date.now() > end) throw new Error(`rollout stuck: ${JSON.stringify(await controller.plan(id))}`);
      const next = await controller.plan(id);
      const until = next.map((s) =>
        s.kind === 'wait' ? /(?:soaking until|due at) (\S+)$/.exec(s.reason)?.[1] : undefined,
      );
      if (until.length > 0 && until.every((u) => u !== undefined))
        clock.set(until.map((u) => new Date(u)).reduce((a, b) => (a < b ? a : b)));
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect((await R.getRollout(db, id))!.status).toBe('completed');

    // Each van downloaded its own artifact once: the delta on the base, the full one elsewhere.
    const spent = (d: { deviceId?: string; bytesDownloaded: number }) => d.bytesDownloaded - before.get(d.deviceId!)!;
    expect(onBase.devices().map(spent)).toEqual(Array.from({ length: ON_BASE }, () => delta.length));
    expect(offBase.devices().map(spent)).toEqual(Array.from({ length: OFF_BASE }, () => full.length));
    const total = [...onBase.devices(), ...offBase.devices()].reduce((a, d) => a + spent(d), 0);
    expect(total).toBe(f.bytes);
    await sync();
    const versions = await db
      .selectFrom('van_components')
      .select(['version'])
      .where('component', '=', 'platform')
      .execute();
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: ON_BASE + OFF_BASE }, () => '1.0.0'));

    // The ledger: per wave and in total, what the fleet downloaded in this rollout.
    const ledger = await call('GET', `/api/v1/rollouts/${id}/data`);
    expect(ledger.statusCode, ledger.body).toBe(200);
    const data = ledger.json<z.infer<typeof RolloutData>>();
    expect(data.total).toEqual({
      vans: ON_BASE + OFF_BASE,
      delta_vans: ON_BASE,
      full_vans: OFF_BASE,
      delta_bytes: ON_BASE * delta.length,
      full_bytes: OFF_BASE * full.length,
      failed_bytes_at_most: 0,
      size_unknown: 0,
    });
    const fleetBytes = new Map([...onBase.devices(), ...offBase.devices()].map((d) => [d.deviceId!, spent(d)]));
    for (const w of await R.loadWaves(db, id)) {
      const got = data.waves.find((x) => x.wave === w.wave)!;
      expect(got.delta_bytes + got.full_bytes).toBe(w.deviceIds.reduce((a, d) => a + fleetBytes.get(d)!, 0));
    }
    expect((await call('GET', '/api/v1/rollouts/nope/data')).statusCode).toBe(404);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const table = await cli(['rollout', 'data', id, '--bridge', url]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^total +30 +\d+(\.\d+)? kB \(20 vans\) +\d+(\.\d+)? kB \(10 vans\) +0 B +0$/m);
    const asJson = await cli(['rollout', 'data', id, '--json', '--bridge', url]);
    expect(JSON.parse(asJson.stdout)).toEqual(data);
    const missing = await cli(['rollout', 'data', 'nope', '--bridge', url]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    // Per van: the stray van's failed delta (at most its size) and its full install; a base van's delta.
    const vanOf = async (deviceId: string) =>
      (await db.selectFrom('vans').select('van_id').where('device_id', '=', deviceId).executeTakeFirstOrThrow()).van_id;
    const strayData = (await call('GET', `/api/v1/vans/${await vanOf(stray)}/data`)).json<z.infer<typeof VanData>>();
    expect(strayData.deployments.map((d) => [d.kind, d.status, d.count, d.bytes])).toEqual([
      ['full', 'success', 'delivered', full.length],
      ['delta', 'failure', 'at_most', delta.length],
    ]);
    const baseVan = await vanOf(onBase.devices()[0]!.deviceId!);
    const baseData = (await call('GET', `/api/v1/vans/${baseVan}/data`)).json<z.infer<typeof VanData>>();
    expect(baseData).toMatchObject({
      budget_bytes: 1_048_576,
      link_bytes: null,
      over_budget: false,
      totals: { delivered: delta.length, at_most: 0, delta_delivered: delta.length },
    });

    // A van whose modem reported 1.5 MB of cellular data this month is over its 1 MB budget.
    await db
      .updateTable('vans')
      .set({ data_month: clock.now().toISOString().slice(0, 7), data_month_kib: 1536 })
      .where('van_id', '=', baseVan)
      .execute();
    const attention = (await call('GET', '/api/v1/reports/attention')).json<{ van_id: string; code: string }[]>();
    expect(attention.filter((a) => a.code === 'data_over_budget').map((a) => a.van_id)).toEqual([baseVan]);
    expect((await call('GET', `/api/v1/vans/${baseVan}/data`)).json<z.infer<typeof VanData>>()).toMatchObject({
      link_bytes: 1536 * 1024,
      used_bytes: 1536 * 1024,
      over_budget: true,
    });
    const vanTable = await cli(['report', 'data', baseVan, '--bridge', url]);
    expect(vanTable.code, vanTable.stderr).toBe(0);
    expect(vanTable.stdout).toMatch(
      new RegExp(`^${baseVan} in \\d{4}-\\d{2}: cellular 1\\.57 MB, OTA .* budget 1\\.05 MB — OVER BUDGET$`, 'm'),
    );
    expect(vanTable.stdout).toMatch(/ delta +success +9\.22 kB /);
  }, 240_000);
});
