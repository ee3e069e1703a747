// Issue #8 benchmark: a 10,000-van rollout of a two-component release through every stage (internal,
// pilot, 10 fleet waves of 10 %) on an accelerated clock: the simulator in a child process, the virtual
// fleet, the real sync and the rollout controller in this one. The controller's clock is a ManualClock
// moved an hour at a time only while the plan waits on time (soak, wave interval), so the wall time is
// what Mender deliveries, syncs and the controller cost. Reports wall time, Mender calls made by the
// controller, deployments, and peak RSS of this process.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RolloutController } from '../bridge/rollout/controller.js';
import { resolveRelease } from '../bridge/rollout/release.js';
import * as R from '../bridge/rollout/store.js';
import { openFleetDb } from '../bridge/store/db.js';
import { FleetStore } from '../bridge/store/fleet-store.js';
import { runSync } from '../bridge/sync/sync.js';
import { ManualClock } from '../core/clock.js';
import { RolloutSettings } from '../core/config/bridge-config.js';
import { MenderManagementClient } from '../core/mender/management.js';
import { spawnChildServer, serveUntilSignalled } from '../mender-sim/fleet/child-server.js';
import { startVirtualFleet } from '../mender-sim/fleet/index.js';
import { startMenderSim } from '../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../mender-sim/testkit.js';
import type { Benchmark, BenchResult } from './registry.js';

const HOUR = 3_600_000;

async function serve(): Promise<void> {
  const sim = await startMenderSim({ autoAccept: true, requestLogSize: 1_000 });
  serveUntilSignalled(sim.url, () => sim.close());
}

export const rolloutBench: Benchmark = {
  name: 'rollout',
  async run(): Promise<BenchResult> {
    // A smaller fleet for a quick check: VANCORE_BENCH_ROLLOUT_VANS=500 (the run of record uses 10,000).
    const VANS = Number(process.env.VANCORE_BENCH_ROLLOUT_VANS ?? 10_000);
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-rollout-'));
    const server = await spawnChildServer(import.meta.filename, ['--serve']);
    try {
      const mender = MenderManagementClient.create({
        baseUrl: server.url,
        auth: { kind: 'login', user: 'admin@vancore.local', password: 'vancore-sim' },
        pageSize: 500,
        timeoutMs: 30_000,
      });
      const token = await (
        await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
          method: 'POST',
          headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}` },
        })
      ).text();
      const mg = new Mgmt(server.url, token);
      for (const a of [
        { component: 'platform', version: '1.0.0', requires: {} },
        { component: 'app', version: '1.4.0', requires: { platform: '^1.0.0' } },
      ]) {
        const file = await buildArtifact(dir, {
          name: `vancore-${a.component}-${a.version}`,
          provides: { [`vancore.${a.component}.version`]: a.version },
          metaData: { vancore: { component: a.component, version: a.version, requires: a.requires } },
        });
        const up = await mg.upload(await readFile(file));
        if (up.status !== 201) throw new Error(`upload: HTTP ${up.status} ${up.text}`);
      }
      const fleet = await startVirtualFleet({
        serverUrl: server.url,
        count: VANS,
        seed: 'bench-rollout',
        concurrency: 128,
        pollIntervalMs: 2_000,
        inventoryIntervalMs: 3_600_000,
      });
      try {
        await fleet.until((s) => s.booted === VANS, { timeoutMs: 600_000 });
        const store = new FleetStore(await openFleetDb(`sqlite:${join(dir, 'fleet.db')}`));
        await store.migrate();
        const clock = new ManualClock('2026-11-22T00:00:00Z');
        const sync = (kind: 'full' | 'incremental') => runSync({ mender, store, now: () => clock.now() }, kind);
        await sync('full');
        const ids = fleet.devices().map((d) => d.deviceId!);
        const internal = Math.ceil(VANS * 0.01);
        const pilot = Math.ceil(VANS * 0.04);
        const now = clock.now().toISOString();
        await R.setVanFlags(store.db, ids.slice(0, internal), { stage: 'internal' }, now);
        await R.setVanFlags(store.db, ids.slice(internal, internal + pilot), { stage: 'pilot' }, now);
        const v = resolveRelease({ platform: '1.0.0', app: '1.4.0' }, await R.knownArtifacts(store.db));
        if (!v.ok) throw new Error(v.reason);
        await R.insertRelease(store.db, {
          name: 'bench',
          components: v.components,
          created_at: now,
          created_by: 'bench',
        });
        const settings = RolloutSettings.parse({ wave_percent: 10, wave_interval_hours: 24 });
        const controller = new RolloutController({ store, mender, clock, settings });

        let peakRss = process.memoryUsage().rss;
        const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
        const t0 = performance.now();
        const r = await controller.create('bench', 'bench', 'benchmark');
        let ticks = 0;
        let status = 'active';
        try {
          for (;;) {
            await sync('incremental');
            await controller.tick();
            ticks++;
            status = (await R.getRollout(store.db, r.id))!.status;
            if (status !== 'active') break;
            const next = await controller.plan(r.id);
            // Only time is missing (soak, next wave): jump the clock there.
            const until = next.map((s) =>
              s.kind === 'wait' ? /(?:soaking until|due at) (\S+)$/.exec(s.reason)?.[1] : undefined,
            );
            if (until.length && until.every((u) => u !== undefined))
              clock.set(until.map((u) => new Date(u)).reduce((a, b) => (a < b ? a : b)));
            else await new Promise((res) => setTimeout(res, 250));
          }
        } finally {
          clearInterval(sampler);
        }
        const wallS = (performance.now() - t0) / 1000;
        const deployments = (await R.loadDeployments(store.db, r.id)).length;
        const waves = (await R.loadWaves(store.db, r.id)).length;
        const simDays = (clock.now().getTime() - Date.parse('2026-11-22T00:00:00Z')) / (24 * HOUR);
        await store.close();
        const met = status === 'completed';
        return {
          summary: `${VANS.toLocaleString('en')}-van rollout (internal → pilot → ${waves - 2} fleet waves, 2 components): ${wallS.toFixed(1)} s wall for ${simDays.toFixed(1)} simulated days, ${controller.menderCalls} controller Mender calls, ${deployments} deployments, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`,
          target: 'completes through every stage',
          met,
          figures: {
            vans: VANS,
            status,
            wall_s: Number(wallS.toFixed(2)),
            simulated_days: Number(simDays.toFixed(2)),
            controller_ticks: ticks,
            controller_mender_calls: controller.menderCalls,
            deployments,
            waves,
            peak_rss_mb: Math.round(peakRss / 2 ** 20),
            load_1m: Number(loadavg()[0]!.toFixed(2)),
          },
        };
      } finally {
        await fleet.stop();
      }
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

if (process.argv[2] === '--serve' && process.argv[1] === import.meta.filename) await serve();
