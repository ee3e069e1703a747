// Issue #3 benchmark: a 10,000-device virtual fleet through one full deployment against the Mender
// simulator — every device authenticates, sends inventory and polls; then a deployment to all devices is
// created and every device downloads the artifact and reports downloading → installing → rebooting →
// (re-auth) → installing → success, then inventory. Wall time from the fleet's start to the last success,
// requests/s, and the peak RSS of both processes. Target: under 20 s on the 2-core machine.
//
// The simulator runs in a child process (this file with `--serve`), the fleet in this one: one core each,
// as a server and its devices would be. The fleet keeps the client's real request sequence (v2 → 404 → v1
// on every check, re-auth before the commit), so ~14 requests per device.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnChildServer, serveUntilSignalled } from '../mender-sim/fleet/child-server.js';
import { startVirtualFleet, type FleetStats } from '../mender-sim/fleet/index.js';
import { startMenderSim } from '../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../mender-sim/testkit.js';
import type { Benchmark, BenchResult } from './registry.js';

const DEVICES = 10_000;
const TARGET_S = 20;
const CONCURRENCY = 128;
const POLL_MS = 5_000;
const ARTIFACT = 'vancore-app-1.4.0';

async function serve(): Promise<void> {
  const sim = await startMenderSim({ autoAccept: true, requestLogSize: 1_000 });
  serveUntilSignalled(sim.url, () => sim.close());
}

async function login(url: string): Promise<Mgmt> {
  const res = await fetch(`${url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}` },
  });
  if (res.status !== 200) throw new Error(`login: HTTP ${res.status}`);
  return new Mgmt(url, await res.text());
}

export const simFleetBench: Benchmark = {
  name: 'sim-fleet',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-fleet-'));
    const server = await spawnChildServer(import.meta.filename, ['--serve']);
    try {
      const mg = await login(server.url);
      const file = await buildArtifact(dir, {
        name: ARTIFACT,
        provides: { 'vancore.app.version': '1.4.0' },
        metaData: { vancore: { component: 'app', version: '1.4.0' } },
        files: { 'docker-compose.yml': 'services:\n  app:\n    image: registry.vancore.local/app:1.4.0\n' },
      });
      const bytes = await readFile(file);
      const up = await mg.upload(bytes);
      if (up.status !== 201) throw new Error(`upload: HTTP ${up.status} ${up.text}`);

      const baseRss = process.memoryUsage().rss;
      let peakRss = baseRss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
      const serverCpu0 = (await server.cpuSeconds()) ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const fleet = await startVirtualFleet({
        serverUrl: server.url,
        count: DEVICES,
        seed: 'bench',
        concurrency: CONCURRENCY,
        pollIntervalMs: POLL_MS,
        inventoryIntervalMs: 3_600_000,
      });
      let booted: FleetStats;
      let done: FleetStats;
      let tBooted: number;
      let tCreated: number;
      let tDone: number;
      let serverCpuBoot: number;
      let fleetCpuBoot: number;
      let serverCpu: number;
      let fleetCpu: number;
      try {
        booted = await fleet.until((s) => s.booted === DEVICES, { timeoutMs: 300_000 });
        tBooted = performance.now();
        serverCpuBoot = ((await server.cpuSeconds()) ?? 0) - serverCpu0;
        fleetCpuBoot = cpuSeconds(process.cpuUsage(cpu0));
        const dep = await mg.call('POST', '/v1/deployments/deployments', {
          name: 'bench fleet',
          artifact_name: ARTIFACT,
          all_devices: true,
        });
        if (dep.status !== 201) throw new Error(`create deployment: HTTP ${dep.status} ${dep.text}`);
        tCreated = performance.now();
        done = await fleet.until((s) => s.events.success + s.events.failure >= DEVICES, { timeoutMs: 600_000 });
        tDone = performance.now();
        serverCpu = ((await server.cpuSeconds()) ?? 0) - serverCpu0;
        fleetCpu = cpuSeconds(process.cpuUsage(cpu0));
      } finally {
        await fleet.stop();
        clearInterval(sampler);
      }
      const wallS = (tDone - t0) / 1000;
      const depId = (await mg.get('/v1/deployments/deployments?per_page=1')).json as { id: string }[];
      const stats = (await mg.get(`/v1/deployments/deployments/${depId[0]?.id ?? ''}/statistics`)).json as Record<
        string,
        number
      >;
      const serverPeak = await server.peakRssMb();
      const rps = done.requests.total / wallS;
      const met = wallS < TARGET_S && stats.success === DEVICES;
      const figures: Record<string, number | string> = {
        devices: DEVICES,
        wall_s: round(wallS, 2),
        boot_s: round((tBooted - t0) / 1000, 2),
        deployment_s: round((tDone - tCreated) / 1000, 2),
        requests: done.requests.total,
        requests_per_s: Math.round(rps),
        fleet_peak_rss_mb: Math.round(peakRss / 2 ** 20),
        fleet_rss_growth_mb: Math.round((peakRss - baseRss) / 2 ** 20),
        server_cpu_s: round(serverCpu, 1),
        server_cpu_boot_s: round(serverCpuBoot, 1),
        server_cpu_us_per_request: Math.round((serverCpu / done.requests.total) * 1e6),
        fleet_cpu_s: round(fleetCpu, 1),
        fleet_cpu_boot_s: round(fleetCpuBoot, 1),
        load_average_1m: round(loadavg()[0] ?? 0, 1),
        server_peak_rss_mb: Math.round(serverPeak ?? 0),
        success: stats.success ?? 0,
        failure: stats.failure ?? 0,
        errors_network: done.errors.network,
        errors_http: done.errors.http,
        artifact_bytes: bytes.length,
        concurrency: CONCURRENCY,
        poll_interval_ms: POLL_MS,
        requests_at_boot: booted.requests.total,
      };
      return {
        summary:
          `${DEVICES} devices, one deployment: ${figures.wall_s} s wall (boot ${figures.boot_s} s + deployment ` +
          `${figures.deployment_s} s), ${figures.requests} requests, ${figures.requests_per_s} req/s, server CPU ` +
          `${figures.server_cpu_s} s (${figures.server_cpu_us_per_request} µs/request), fleet CPU ${figures.fleet_cpu_s} s, ` +
          `peak RSS fleet ${figures.fleet_peak_rss_mb} MB / server ${figures.server_peak_rss_mb} MB, ${stats.success} ` +
          `success (target < ${TARGET_S} s: ${met ? 'met' : 'MISSED'})`,
        target: `${DEVICES} devices through one full deployment in < ${TARGET_S} s`,
        met,
        figures,
      };
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}

if (process.argv[2] === '--serve' && process.argv[1] === import.meta.filename) await serve();
