// Issue #8 benchmark: a 10,000-van rollout of a two-component release through every stage (internal,
// pilot, 10 fleet waves of 10 %) on an accelerated clock. The simulator and the virtual fleet run in a
// child process (this file with `--serve`), the bridge (the real sync, the rollout controller and the
// SQLite store) in this one, so the wall time, the Mender calls and the peak RSS are the bridge's alone
// (issue #19; before, the fleet shared this event loop). The controller's clock is a ManualClock moved
// an hour at a time only while the plan waits on time (soak, wave interval), so the wall time is what
// Mender deliveries, syncs and the controller cost. Reports wall time, Mender calls made by the
// controller, deployments, the bridge's peak RSS per phase (target ≤ 200 MB at 10 k) and the child's.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
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
import { startVirtualFleet, type VirtualFleet } from '../mender-sim/fleet/index.js';
import { startMenderSim } from '../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../mender-sim/testkit.js';
import { MemoryPhases, memoryBreakdown } from './memory.js';
import type { Benchmark, BenchResult } from './registry.js';

const HOUR = 3_600_000;
const TARGET_RSS_MB = 200;
const log = (line: string) => process.stderr.write(`  rollout: ${line}\n`);

/**
 * In the child: the simulator and, on `POST /fleet?count=N` (after the bench uploaded the artifacts), the
 * virtual fleet. `GET /fleet` answers its stats and, once every van booted, the Mender device IDs in fleet
 * order. Prints `LISTENING <sim> <control>`.
 */
async function serve(): Promise<void> {
  const sim = await startMenderSim({ autoAccept: true, requestLogSize: 1_000 });
  let fleet: VirtualFleet | undefined;
  let failed: string | undefined;
  const control = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && url.pathname === '/fleet') {
      if (fleet) return json(409, { error: 'fleet already started' });
      const count = Number(url.searchParams.get('count'));
      void startVirtualFleet({
        serverUrl: sim.url,
        count,
        seed: 'bench-rollout',
        concurrency: 128,
        pollIntervalMs: 2_000,
        inventoryIntervalMs: 3_600_000,
      }).then(
        (f) => (fleet = f),
        (e: unknown) => (failed = String(e)),
      );
      return json(202, { count });
    }
    if (url.pathname === '/fleet') {
      if (failed) return json(500, { error: failed });
      if (!fleet) return json(200, { booted: 0 });
      const stats = fleet.stats();
      const done = stats.booted === fleet.size;
      return json(200, { ...stats, ids: done ? fleet.devices().map((d) => d.deviceId) : undefined });
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  const addr = control.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveUntilSignalled(`${sim.url} http://127.0.0.1:${port}`, async () => {
    control.close();
    await fleet?.stop();
    await sim.close();
  });
}

/** Start the child's fleet and wait until every van has booted; the device IDs in fleet order. */
export async function startFleet(controlUrl: string, count: number, timeoutMs: number): Promise<string[]> {
  const started = await fetch(`${controlUrl}/fleet?count=${count}`, { method: 'POST' });
  if (started.status !== 202) throw new Error(`fleet: HTTP ${started.status} ${await started.text()}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${controlUrl}/fleet`);
    const body = (await r.json()) as { booted: number; ids?: string[]; error?: string };
    if (r.status !== 200) throw new Error(`fleet: ${body.error}`);
    if (body.ids) return body.ids;
    if (Date.now() > deadline) throw new Error(`fleet: ${body.booted} of ${count} booted in ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** The bench release's two artifacts (platform 1.0.0, app 1.4.0 requiring it), uploaded to the simulator. */
export async function uploadBenchRelease(simUrl: string, dir: string): Promise<void> {
  const token = await (
    await fetch(`${simUrl}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}` },
    })
  ).text();
  const mg = new Mgmt(simUrl, token);
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
}

export const rolloutBench: Benchmark = {
  name: 'rollout',
  async run(): Promise<BenchResult> {
    // A smaller fleet for a quick check: VANCORE_BENCH_ROLLOUT_VANS=500 (the run of record uses 10,000).
    const VANS = Number(process.env.VANCORE_BENCH_ROLLOUT_VANS ?? 10_000);
    const memory = new MemoryPhases();
    memory.baseline('idle');
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-rollout-'));
    const child = await spawnChildServer(import.meta.filename, ['--serve']);
    const [simUrl, controlUrl] = child.url.split(' ') as [string, string];
    try {
      const mender = MenderManagementClient.create({
        baseUrl: simUrl,
        auth: { kind: 'login', user: 'admin@vancore.local', password: 'vancore-sim' },
        pageSize: 500,
        timeoutMs: 30_000,
      });
      await uploadBenchRelease(simUrl, dir);
      const tBoot = performance.now();
      const ids = await startFleet(controlUrl, VANS, 600_000);
      const bootS = (performance.now() - tBoot) / 1000;
      log(`${VANS} vans booted in the child process in ${bootS.toFixed(1)} s`);
      memory.baseline('before_sync');

      const store = new FleetStore(await openFleetDb(`sqlite:${join(dir, 'fleet.db')}`));
      await store.migrate();
      const clock = new ManualClock('2026-11-22T00:00:00Z');
      const sync = (kind: 'full' | 'incremental') => runSync({ mender, store, now: () => clock.now() }, kind);
      const tSync = performance.now();
      await memory.phase('full_sync', () => sync('full'));
      const fullSyncS = (performance.now() - tSync) / 1000;
      log(`full sync ${fullSyncS.toFixed(1)} s; ${memory.describe()}`);
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

      const childCpu0 = (await child.cpuSeconds()) ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let ticks = 0;
      let status = 'active';
      const r = await memory.phase('rollout', async () => {
        const r = await controller.create('bench', 'bench', 'benchmark');
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
        return r;
      });
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const bridgeCpuS = (cpu.user + cpu.system) / 1e6;
      const childCpuS = ((await child.cpuSeconds()) ?? 0) - childCpu0;
      const afterRollout = memoryBreakdown('bridge_after_rollout_');
      const deployments = (await R.loadDeployments(store.db, r.id)).length;
      const waves = (await R.loadWaves(store.db, r.id)).length;
      const simDays = (clock.now().getTime() - Date.parse('2026-11-22T00:00:00Z')) / (24 * HOUR);
      await store.close();
      const bridgeRss = Math.round(memory.peakMb);
      const childRss = Math.round((await child.peakRssMb()) ?? 0);
      log(`rollout ${wallS.toFixed(1)} s (${status}); ${memory.describe()}; simulator + fleet ${childRss} MB`);
      const rssMet = bridgeRss <= TARGET_RSS_MB || VANS < 10_000;
      const met = status === 'completed' && rssMet;
      const where =
        bridgeRss > TARGET_RSS_MB
          ? ` (where it goes: ${memory.describe()}; after the rollout V8 heap ${afterRollout.bridge_after_rollout_heap_used_mb} MB used of ${afterRollout.bridge_after_rollout_heap_total_mb}, native ${afterRollout.bridge_after_rollout_other_native_mb} MB)`
          : '';
      return {
        summary: `${VANS.toLocaleString('en')}-van rollout (internal → pilot → ${waves - 2} fleet waves, 2 components), simulator and fleet in their own process: ${wallS.toFixed(1)} s wall for ${simDays.toFixed(1)} simulated days (bridge CPU ${bridgeCpuS.toFixed(1)} s, simulator + fleet ${childCpuS.toFixed(1)} s), ${controller.menderCalls} controller Mender calls, ${deployments} deployments; bridge peak RSS ${bridgeRss} MB (target ≤ ${TARGET_RSS_MB} MB${process.env.NODE_OPTIONS ? `; bridge NODE_OPTIONS="${process.env.NODE_OPTIONS}"` : '; default heap'})${where}, simulator + fleet ${childRss} MB`,
        target: `completes through every stage; bridge RSS ≤ ${TARGET_RSS_MB} MB at 10 k`,
        met,
        figures: {
          vans: VANS,
          bridge_node_options: process.env.NODE_OPTIONS ?? '',
          status,
          wall_s: Number(wallS.toFixed(2)),
          simulated_days: Number(simDays.toFixed(2)),
          fleet_boot_s: Number(bootS.toFixed(1)),
          full_sync_s: Number(fullSyncS.toFixed(2)),
          controller_ticks: ticks,
          controller_mender_calls: controller.menderCalls,
          deployments,
          waves,
          bridge_cpu_s: Number(bridgeCpuS.toFixed(1)),
          simulator_fleet_cpu_s: Number(childCpuS.toFixed(1)),
          bridge_peak_rss_mb: bridgeRss,
          simulator_fleet_peak_rss_mb: childRss,
          ...memory.figures,
          ...afterRollout,
          load_1m: Number(loadavg()[0]!.toFixed(2)),
        },
      };
    } finally {
      await child.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

if (process.argv[2] === '--serve' && process.argv[1] === import.meta.filename) await serve();
