// Issue #19: the bridge as it ships — `node dist/cli.js bridge`, one process, with the heap settings of
// deploy/bridge/Dockerfile (its `ENV NODE_OPTIONS` line, read from the file) — through a 10,000-van
// rollout against the simulator and virtual fleet in their own process (bench/rollout.ts `--serve`).
// Unlike `rollout` (the controller inside the bench process, which carries tsx and every benchmark's
// modules: ~180 MB before any bridge work), this measures the bridge's own RSS: sampled from
// /proc/<pid>/status every 200 ms, and VmHWM (the kernel's peak) at the end. Target ≤ 200 MB at 10 k.
// The bridge runs on its accelerated clock (clock.speed) with its own sync and controller loops; all
// vans are fleet stage: 10 waves of 10 %, a day apart on the bridge clock.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnChildServer } from '../mender-sim/fleet/child-server.js';
import type { Benchmark, BenchResult } from './registry.js';
import { startFleet, uploadBenchRelease } from './rollout.js';

const TOKEN = 'bench-bridge-process-token-0123456789';
const SPEED = 1440; // a bridge day in 60 s
const root = join(import.meta.dirname, '..');
const log = (line: string) => process.stderr.write(`  bridge-process: ${line}\n`);

/** The NODE_OPTIONS the container image sets (`ENV NODE_OPTIONS="…"` in deploy/bridge/Dockerfile). */
export async function shippedNodeOptions(): Promise<string> {
  const text = await readFile(join(root, 'deploy/bridge/Dockerfile'), 'utf8');
  const m = /^\s+NODE_OPTIONS="([^"]*)"/m.exec(text);
  if (!m) throw new Error('deploy/bridge/Dockerfile sets no NODE_OPTIONS');
  return m[1]!;
}

async function status(pid: number): Promise<{ rssKb: number; hwmKb: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return {
    rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(s)?.[1] ?? 0),
    hwmKb: Number(/^VmHWM:\s+(\d+)/m.exec(s)?.[1] ?? 0),
  };
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await r.text();
  return { status: r.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown>, headers: r.headers };
}

/**
 * `bridge-process`: a 10 k-van rollout with the image's NODE_OPTIONS. `bridge-process-100k`: the first
 * full sync of 100,000 vans with the old space docs/deploy.md gives for 100 k (512 MB), no rollout
 * (a 100 k rollout would take hours of virtual-fleet deliveries here); target ≤ 1 GB.
 */
function bridgeProcess(o: {
  name: string;
  vans: number;
  rollout: boolean;
  targetMb: number;
  nodeOptions?: (shipped: string) => string;
}): Benchmark {
  return {
    name: o.name,
    run: () => runBridgeProcess(o),
  };
}

async function runBridgeProcess(o: {
  name: string;
  vans: number;
  rollout: boolean;
  targetMb: number;
  nodeOptions?: (shipped: string) => string;
}): Promise<BenchResult> {
  {
    const VANS = Number(process.env.VANCORE_BENCH_ROLLOUT_VANS ?? o.vans);
    const TARGET_RSS_MB = o.targetMb;
    const shipped = await shippedNodeOptions();
    const nodeOptions = o.nodeOptions ? o.nodeOptions(shipped) : shipped;
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-bridge-process-'));
    const child = await spawnChildServer(join(import.meta.dirname, 'rollout.ts'), ['--serve']);
    const [simUrl, controlUrl] = child.url.split(' ') as [string, string];
    let bridge: ReturnType<typeof spawn> | undefined;
    try {
      await uploadBenchRelease(simUrl, dir);
      await startFleet(controlUrl, VANS, 1_800_000);
      log(`${VANS} vans booted in the child process`);

      const config = join(dir, 'bridge.yaml');
      await writeFile(
        config,
        stringify({
          http: { host: '127.0.0.1', port: 0, rate_limit_per_minute: 0 },
          mender: { url: simUrl, user: 'admin@vancore.local', password: 'vancore-sim', timeout_ms: 30_000 },
          database: { url: `sqlite:${join(dir, 'fleet.db')}` },
          sync: { interval_seconds: 5 },
          // Waves move on by time alone (as in the failover suite): the bench measures memory through
          // every wave, not the gates; the vans that had not finished when their wave closed are counted.
          rollout: {
            wave_percent: 10,
            wave_interval_hours: 24,
            max_failure_percent: 100,
            max_failures_per_wave: 100_000,
            advance_success_percent: 0,
          },
          auth: { tokens: [{ name: 'bench', role: 'ops', token: TOKEN }] },
          clock: { speed: SPEED },
          log_level: 'warn',
        }),
      );
      const started = performance.now();
      bridge = spawn(process.execPath, [join(root, 'dist/cli.js'), 'bridge', '--config', config], {
        env: { ...process.env, NODE_OPTIONS: nodeOptions, NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      bridge.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
      bridge.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /bridge listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearInterval(timer);
            resolve(m[1]!);
          } else if (bridge!.exitCode !== null) {
            clearInterval(timer);
            reject(new Error(`bridge exited ${bridge!.exitCode}: ${out.slice(-2000)}`));
          }
        }, 50);
      });
      const pid = bridge.pid!;
      let peakKb = 0;
      let phase = 'start';
      const peaks: Record<string, number> = {};
      const sampler = setInterval(() => {
        void status(pid).then((s) => {
          peakKb = Math.max(peakKb, s.rssKb);
          peaks[phase] = Math.max(peaks[phase] ?? 0, s.rssKb);
        });
      }, 200);
      try {
        const idleKb = (await status(pid)).rssKb;
        phase = 'sync';
        for (;;) {
          const r = await api(url, 'GET', '/vans?per_page=1');
          if (r.status === 200 && Number(r.headers.get('x-total-count')) === VANS) break;
          if (bridge.exitCode !== null) throw new Error(`bridge exited: ${out.slice(-2000)}`);
          await new Promise((res) => setTimeout(res, 500));
        }
        const syncedS = (performance.now() - started) / 1000;
        log(`synced ${VANS} vans in ${syncedS.toFixed(1)} s; RSS ${(peakKb / 1024).toFixed(0)} MB so far`);
        if (!o.rollout) {
          const end = await status(pid);
          const hwmMb = Math.round(end.hwmKb / 1024);
          return {
            summary: `\`vancore-ota bridge\` (dist, SQLite, NODE_OPTIONS="${nodeOptions}"), first full sync of ${VANS.toLocaleString('en')} vans in ${syncedS.toFixed(0)} s; bridge RSS: idle ${Math.round(idleKb / 1024)} MB, sync peak ${Math.round((peaks.sync ?? 0) / 1024)} MB, kernel peak (VmHWM) ${hwmMb} MB (target ≤ ${TARGET_RSS_MB} MB); simulator + fleet in their own process`,
            target: `the bridge process ≤ ${TARGET_RSS_MB} MB RSS through a ${VANS.toLocaleString('en')}-van full sync`,
            met: hwmMb <= TARGET_RSS_MB,
            figures: {
              vans: VANS,
              node_options: nodeOptions,
              first_sync_s: Number(syncedS.toFixed(1)),
              bridge_idle_rss_mb: Math.round(idleKb / 1024),
              bridge_sync_peak_rss_mb: Math.round((peaks.sync ?? 0) / 1024),
              bridge_vmhwm_mb: hwmMb,
              simulator_fleet_peak_rss_mb: Math.round((await child.peakRssMb()) ?? 0),
              load_1m: Number(loadavg()[0]!.toFixed(2)),
            },
          };
        }
        phase = 'rollout';
        // The artifacts are synced after the devices: the release is refused until they are known.
        for (let i = 0; ; i++) {
          const rel = await api(url, 'POST', '/releases', {
            name: 'bench',
            components: { platform: '1.0.0', app: '1.4.0' },
          });
          if (rel.status === 201) break;
          if (i > 120) throw new Error(`release: ${JSON.stringify(rel.json)}`);
          await new Promise((res) => setTimeout(res, 500));
        }
        const t0 = performance.now();
        const created = await api(url, 'POST', '/rollouts', { release: 'bench', reason: 'benchmark' });
        if (created.status !== 201) throw new Error(`rollout: ${JSON.stringify(created.json)}`);
        const id = created.json.id as string;
        let state = 'active';
        let waves = 0;
        for (let i = 0; ; i++) {
          const r = await api(url, 'GET', `/rollouts/${id}`);
          state = String(r.json.status);
          waves = (r.json.waves as unknown[]).length;
          if (state !== 'active') break;
          if (performance.now() - t0 > 3_600_000) throw new Error('rollout did not finish in an hour');
          if (i % 30 === 0) log(`rollout ${state}, ${waves} waves, RSS peak ${(peakKb / 1024).toFixed(0)} MB`);
          await new Promise((res) => setTimeout(res, 2_000));
        }
        const rolloutS = (performance.now() - t0) / 1000;
        const vans = (await api(url, 'GET', `/rollouts/${id}`)).json.vans as { done: number } | undefined;
        const succeeded = vans?.done ?? NaN;
        const end = await status(pid);
        const cpu = await readFile(`/proc/${pid}/stat`, 'utf8');
        const fields = cpu.slice(cpu.lastIndexOf(')') + 2).split(' ');
        const cpuS = (Number(fields[11]) + Number(fields[12])) / 100;
        const hwmMb = Math.round(end.hwmKb / 1024);
        const mb = (kb: number) => Math.round(kb / 1024);
        const met = state === 'completed' && (hwmMb <= TARGET_RSS_MB || VANS < 10_000);
        return {
          summary: `\`vancore-ota bridge\` (dist, SQLite, NODE_OPTIONS="${nodeOptions}" as in the image), ${VANS.toLocaleString('en')}-van rollout, 2 components, ${waves} waves (${state}; ${succeeded} vans updated) in ${rolloutS.toFixed(0)} s after a first sync of ${syncedS.toFixed(0)} s; bridge CPU ${cpuS.toFixed(0)} s; bridge RSS: idle ${mb(idleKb)} MB, sync peak ${mb(peaks.sync ?? 0)} MB, rollout peak ${mb(peaks.rollout ?? 0)} MB, kernel peak (VmHWM) ${hwmMb} MB (target ≤ ${TARGET_RSS_MB} MB); simulator + fleet in their own process`,
          target: `the shipped bridge process ≤ ${TARGET_RSS_MB} MB RSS through a 10 k-van rollout`,
          met,
          figures: {
            vans: VANS,
            status: state,
            waves,
            vans_updated: succeeded,
            node_options: nodeOptions,
            first_sync_s: Number(syncedS.toFixed(1)),
            rollout_s: Number(rolloutS.toFixed(1)),
            bridge_cpu_s: Number(cpuS.toFixed(1)),
            bridge_idle_rss_mb: mb(idleKb),
            bridge_sync_peak_rss_mb: mb(peaks.sync ?? 0),
            bridge_rollout_peak_rss_mb: mb(peaks.rollout ?? 0),
            bridge_vmhwm_mb: hwmMb,
            simulator_fleet_peak_rss_mb: Math.round((await child.peakRssMb()) ?? 0),
            load_1m: Number(loadavg()[0]!.toFixed(2)),
          },
        };
      } finally {
        clearInterval(sampler);
      }
    } finally {
      if (bridge && bridge.exitCode === null) {
        bridge.kill('SIGTERM');
        await new Promise((r) => bridge!.once('exit', r));
      }
      await child.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

export const bridgeProcessBench = bridgeProcess({ name: 'bridge-process', vans: 10_000, rollout: true, targetMb: 200 });
export const bridgeProcess100kBench = bridgeProcess({
  name: 'bridge-process-100k',
  vans: 100_000,
  rollout: false,
  targetMb: 1024,
  nodeOptions: (shipped) => shipped.replace(/--max-old-space-size=\d+/, '--max-old-space-size=512'),
});
