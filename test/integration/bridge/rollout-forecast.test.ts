// `rollout create --dry-run` (issue #17 item 6) through the API and the real CLI (dist/cli.js) against the
// simulator and a virtual fleet: the dry run changes no table and creates no Mender deployment; then the
// rollout runs for real and the virtual fleet's downloaded bytes — per wave and in total — match the
// forecast (the issue asks for 1 %), with the same waves.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BridgeApp, buildBridgeApp } from '../../../bridge/api/app.js';
import type { ForecastBody, RolloutBody } from '../../../bridge/api/rollouts.js';
import { RolloutController } from '../../../bridge/rollout/controller.js';
import * as R from '../../../bridge/rollout/store.js';
import type { Database } from '../../../bridge/store/schema.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../../mender-sim/testkit.js';
import { cliPath, repoRoot } from '../../helpers/cli.js';
import { backends, openTestStore } from '../../helpers/fleet-db.js';
import { captureOutput } from '../../helpers/output-capture.js';

const OPS = 'ops-token-forecast-0123456789';
const COUNT = 30;

let dir: string;
const files: Buffer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-rollout-forecast-'));
  // Random payloads (gzip cannot shrink them much) of different sizes, so a wrong component count shows.
  for (const a of [
    { component: 'platform', version: '1.0.0', requires: {}, kb: 96 },
    { component: 'app', version: '1.4.0', requires: { platform: '^1.0.0' }, kb: 40 },
  ])
    files.push(
      await readFile(
        await buildArtifact(dir, {
          name: `vancore-${a.component}-${a.version}`,
          files: { 'docker-compose.yml': 'services: {}\n', 'blob.txt': randomBytes(a.kb * 512).toString('hex') },
          provides: { [`vancore.${a.component}.version`]: a.version },
          metaData: { vancore: { component: a.component, version: a.version, requires: a.requires } },
        }),
      ),
    );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const TABLES: (keyof Database)[] = [
  'vans',
  'van_components',
  'health_reports',
  'gate_history',
  'deployments',
  'deployment_devices',
  'quarantine',
  'artifacts',
  'sync_state',
  'releases',
  'rollouts',
  'rollout_waves',
  'vpn_migrations',
  'vpn_migration_vans',
  'tracked_deployments',
  'tracked_outcomes',
  'owner_events',
  'van_takeovers',
];

/** The real CLI as a child process, asynchronously (the bridge answering it runs in this process). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        captureOutput(`vancore-ota ${args.join(' ')}`, stdout, stderr);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe.each(backends)('rollout forecast (dry run) on %s', (backend) => {
  it('changes nothing, and forecasts the waves and the bytes the virtual fleet then downloads', async () => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'node scripts/build.mjs'`);
    const sim = await startMenderSim({ autoAccept: true });
    cleanup.push(() => sim.close());
    const mg = new Mgmt(sim.url, await sim.managementToken());
    for (const f of files) expect((await mg.upload(f)).status).toBe(201);
    const fleet = await startVirtualFleet({
      serverUrl: sim.url,
      count: COUNT,
      seed: 'rollout-forecast',
      pollIntervalMs: 100,
      retryIntervalMs: 100,
      inventoryIntervalMs: 60_000,
    });
    cleanup.push(() => fleet.stop());
    await fleet.until((s) => s.booted === COUNT, { timeoutMs: 60_000 });
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
    await sync();
    const config = BridgeConfig.parse({
      auth: { tokens: [{ name: 'ops-alice', role: 'ops', token: OPS }] },
      http: { rate_limit_per_minute: 0 },
      rollout: { wave_percent: 10, wave_interval_hours: 6, soak_hours: { internal: 2, pilot: 3 } },
    });
    const controller = new RolloutController({ store: t.store, mender, clock, settings: config.rollout });
    const app: BridgeApp = await buildBridgeApp({
      store: t.store,
      sync: {
        running: false,
        metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] },
        syncNow: () => Promise.reject(new Error('no')),
      },
      menderReady: () => Promise.resolve(),
      config,
      clock,
      artifacts: {
        downloadLink: (id) => Promise.resolve(`https://mender.example/artifacts/${id}/download`),
        sha256: () => Promise.resolve('ab'.repeat(32)),
      },
      rollouts: { store: t.store, controller, mender, clock },
    });
    cleanup.push(() => app.close());
    const call = (url: string, body: unknown) =>
      app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${OPS}` }, payload: body as object });

    // Stages, a release, and two vans whose gate last waited for an unmetered link.
    const ids = (await db.selectFrom('vans').select('device_id').orderBy('van_id').execute()).map((r) => r.device_id);
    expect(ids).toHaveLength(COUNT);
    const now = clock.now().toISOString();
    await R.setVanFlags(db, ids.slice(0, 2), { stage: 'internal' }, now);
    await R.setVanFlags(db, ids.slice(2, 5), { stage: 'pilot' }, now);
    await db.updateTable('vans').set({ gate_codes: 'roaming' }).where('device_id', '=', ids[7]!).execute();
    await db
      .updateTable('vans')
      .set({ gate_codes: 'hotspot_over_max,moving' })
      .where('device_id', '=', ids[9]!)
      .execute();
    await db.updateTable('vans').set({ gate_codes: 'moving' }).where('device_id', '=', ids[11]!).execute();
    expect(
      (await call('/api/v1/releases', { name: 'rel-1', components: { platform: '1.0.0', app: '1.4.0' } })).statusCode,
    ).toBe(201);
    const sizes = await db.selectFrom('artifacts').select(['name', 'size']).orderBy('name').execute();
    const size = Object.fromEntries(sizes.map((a) => [a.name, a.size!]));
    expect(size['vancore-platform-1.0.0']).toBeGreaterThan(size['vancore-app-1.4.0']! + 10_000);

    const snapshot = async () => {
      const out: Record<string, unknown[]> = {};
      for (const name of TABLES) {
        const rows = await db.selectFrom(name).selectAll().execute();
        out[name] = rows.map((r) => JSON.stringify(r)).sort();
      }
      return out;
    };
    const before = await snapshot();
    const deploymentsInMender = async () =>
      (await mender.collect((page, perPage) => mender.listDeployments({ page, perPage }))).length;
    expect(await deploymentsInMender()).toBe(0);

    // ---- the dry run, through the API -------------------------------------------------------------------
    const res = await call('/api/v1/rollouts', { release: 'rel-1', dry_run: true });
    expect(res.statusCode, res.body).toBe(200);
    const f = res.json<ForecastBody>();
    const perVan = size['vancore-platform-1.0.0']! + size['vancore-app-1.4.0']!;
    expect(f).toMatchObject({
      dry_run: true,
      blocked_by: null,
      release: 'rel-1',
      vans: COUNT,
      full_bytes: COUNT * perVan,
      delta_bytes: 0,
      bytes: COUNT * perVan,
      // roaming and hotspot_over_max; `moving` is not a link reason.
      waiting_unmetered: 2,
      waiting_unmetered_bytes: 2 * perVan,
      size_unknown: 0,
      fleet: { total: COUNT, current: 0, held: 0, excluded: 0 },
    });
    // 25 fleet vans in waves of ceil(10 % × 25) = 3.
    expect(f.waves.map((w) => [w.label, w.vans])).toEqual([
      ['internal', 2],
      ['pilot', 3],
      ...Array.from({ length: 8 }, (_, i) => [`fleet-${i + 1}`, 3]),
      ['fleet-9', 1],
    ]);
    expect((await call('/api/v1/rollouts', { release: 'nope', dry_run: true })).statusCode).toBe(404);

    // ---- the same through the real CLI ----------------------------------------------------------------
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const env = { VANCORE_BRIDGE_TOKEN: OPS };
    const json = await cli(['rollout', 'create', 'rel-1', '--dry-run', '--json', '--bridge', url], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(f);
    const table = await cli(['rollout', 'create', 'rel-1', '--dry-run', '--bridge', url], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^Forecast for a rollout of rel-1 \(dry run: nothing stored or deployed\)/);
    expect(table.stdout).toMatch(new RegExp(`^total +${COUNT} .* ${COUNT * perVan} +2 \\(`, 'm'));
    expect(table.stdout).toMatch(/^fleet-9 +1 /m);

    // Nothing was written, here or in Mender.
    expect(await snapshot()).toEqual(before);
    expect(await deploymentsInMender()).toBe(0);

    // ---- the real rollout ------------------------------------------------------------------------------
    const created = await call('/api/v1/rollouts', { release: 'rel-1', reason: 'go' });
    expect(created.statusCode).toBe(201);
    const id = created.json<RolloutBody>().id;
    // A dry run now names the running rollout that would refuse a second create.
    const blocked = (await call('/api/v1/rollouts', { release: 'rel-1', dry_run: true })).json<ForecastBody>();
    expect(blocked.blocked_by).toMatch(new RegExp(`^rollout ${id} \\(rel-1\\) is still active$`));
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
      else await new Promise((res2) => setTimeout(res2, 100));
    }
    expect((await R.getRollout(db, id))!.status).toBe('completed');

    // The same waves, and per wave and in total the bytes the fleet downloaded.
    const waves = await R.loadWaves(db, id);
    expect(waves.map((w) => [w.label, w.deviceIds.length])).toEqual(f.waves.map((w) => [w.label, w.vans]));
    const got = new Map(fleet.devices().map((d) => [d.deviceId!, d.bytesDownloaded]));
    const downloaded = [...got.values()].reduce((a, b) => a + b, 0);
    expect(downloaded).toBe(fleet.stats().bytesDownloaded);
    const perWave = waves.map((w) => w.deviceIds.reduce((a, d) => a + got.get(d)!, 0));
    expect(Math.abs(downloaded - f.bytes) / f.bytes).toBeLessThanOrEqual(0.01);
    // No retries in a clean fleet: exact, wave by wave.
    expect(perWave).toEqual(f.waves.map((w) => w.bytes));
    expect(downloaded).toBe(f.bytes);
  }, 240_000);
});
