// Bridge benchmarks (issue #7), all against the simulator over HTTP in one run:
// * full sync of 10,000 devices into SQLite and PostgreSQL vs merely paging through the same API calls
//   (target ≤ 2×);
// * incremental sync with 1 % of the devices changed;
// * a reconcile sync (issue #14) after ops changed the tags of 1 % and the group of another 1 % (changes
//   that do not move inventory `updated_ts`): time and Mender requests;
// * `/api/v1/reports/fleet` throughput vs a bare Fastify route returning the same body, in the same
//   autocannon run (target ≥ 0.5×, p99 reported).
// The simulator and its seeded devices run in a child process (this file with `--serve N`), the bridge
// (sync, stores, report API) in this one, so the ratios and the peak RSS measure the bridge alone (issue
// #19). The bridge's peak RSS (VmHWM, reset before each phase) is reported apart from the simulator's, for
// the 10,000-device full sync (target ≤ 200 MB) and, with BENCH_SYNC_SCALE=1, a 100,000-device full sync
// into SQLite (target ≤ 1 GB), with where the memory goes: the process's RSS before any bridge work (Node,
// the tsx loader, the modules), after the paging baseline and after opening the stores (each after a GC),
// then the sync's own growth and the V8 heap it leaves.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { buildBridgeApp } from '../bridge/api/app.js';
import { runSync } from '../bridge/sync/sync.js';
import { systemClock } from '../core/clock.js';
import { BridgeConfig } from '../core/config/bridge-config.js';
import { MenderManagementClient } from '../core/mender/management.js';
import { openTestStore } from '../test/helpers/fleet-db.js';
import { serveUntilSignalled, spawnChildServer } from '../mender-sim/fleet/child-server.js';
import { startMenderSim } from '../mender-sim/index.js';
import { SimDevice } from '../mender-sim/testkit.js';
import { MemoryPhases, memoryBreakdown } from './memory.js';
import type { Benchmark, BenchResult } from './registry.js';
import type { SyncProcessResult } from './sync-process.js';

const N = Number(process.env.BENCH_BRIDGE_DEVICES ?? 10_000);
const log = (line: string) => process.stderr.write(`  bridge-sync: ${line}\n`);

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function inventory(i: number, battery = 50 + (i % 50)): Record<string, string> {
  return {
    'vancore.van_id': `van-${String(i).padStart(5, '0')}`,
    'vancore.platform.version': i % 3 ? '0.9.2' : '0.9.1',
    'vancore.app.version': '1.4.0',
    'vancore.health.battery_soc': String(battery),
    'vancore.health.disk_ok': 'true',
    'vancore.gate.state': i % 10 ? 'open' : 'deferred',
    'vancore.gate.reason': i % 10 ? '' : 'moving',
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function cannon(url: string, headers: Record<string, string> = {}): Promise<{ rps: number; p99: number }> {
  const r = await autocannon({ url, connections: 10, duration: 5, headers });
  return { rps: Math.round(r.requests.average), p99: r.latency.p99 };
}

const mac = (i: number) =>
  `02:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;

/** In the child: the simulator, `n` devices authenticated with their inventory, and a control route
 * (`POST /change`: 1 % of the devices report a new battery level). Prints `LISTENING <sim> <control>`. */
async function serve(n: number): Promise<void> {
  const sim = await startMenderSim({ autoAccept: true, requestLogSize: 100 });
  const devices = Array.from({ length: n }, (_, i) => new SimDevice(sim.url, { mac: mac(i) }));
  const t0 = performance.now();
  await pool([...devices.entries()], 32, async ([i, d]) => {
    await d.authenticate();
    await d.putInventory(inventory(i));
  });
  const seedMs = performance.now() - t0;
  const control = createServer((req, res) => {
    if (req.url === '/seed') return void res.end(String(Math.round(seedMs)));
    const changed = [...devices.entries()].filter(([i]) => i % 100 === 7);
    void pool(changed, 16, async ([i, d]) => void (await d.putInventory(inventory(i, 12)))).then(
      () => res.end(String(changed.length)),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  const addr = control.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveUntilSignalled(`${sim.url} http://127.0.0.1:${port}`, async () => {
    control.close();
    await sim.close();
  });
}

async function startSimChild(n: number) {
  const child = await spawnChildServer(import.meta.filename, ['--serve', String(n)], { timeoutMs: 1_800_000 });
  const [simUrl, controlUrl] = child.url.split(' ') as [string, string];
  const seedMs = Number(await (await fetch(`${controlUrl}/seed`)).text());
  return { child, simUrl, controlUrl, seedMs };
}

/** The same full sync in a fresh process holding only the sync path (bench/sync-process.ts). */
function syncInOwnProcess(simUrl: string, nodeOptions = ''): Promise<SyncProcessResult> {
  const script = join(import.meta.dirname, 'sync-process.ts');
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [...process.execArgv, script, simUrl],
      { maxBuffer: 1 << 20, timeout: 600_000, env: { ...process.env, NODE_OPTIONS: nodeOptions } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`sync-process: ${err.message} ${stderr}`));
        const line = stdout.trim().split('\n').pop() ?? '';
        resolve(JSON.parse(line) as SyncProcessResult);
      },
    ),
  );
}

/** The heap settings docs/deploy.md suggests for a bridge of up to ~10 k vans. */
const HEAP_CAP = '--max-semi-space-size=2 --max-old-space-size=128';

const menderFor = (url: string) =>
  MenderManagementClient.create({
    baseUrl: url,
    auth: { kind: 'login', user: 'admin@vancore.local', password: 'vancore-sim' },
    pageSize: 500,
    timeoutMs: 60_000,
  });

export const bridgeSyncBench: Benchmark = {
  name: 'bridge-sync',
  async run(): Promise<BenchResult> {
    const memory = new MemoryPhases();
    memory.baseline('idle');
    const { child, simUrl, controlUrl, seedMs } = await startSimChild(N);
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-bridge-'));
    try {
      log(`seeded ${N} devices in the simulator's process in ${(seedMs / 1000).toFixed(1)} s`);
      const mender = menderFor(simUrl);

      // Baseline: the same API calls the sync makes, results thrown away.
      const [, pageMs] = await timed(async () => {
        for await (const _ of mender.paginate((p, n) => mender.listAuthDevices({ page: p, perPage: n }))) void _;
        for await (const _ of mender.paginate((p, n) =>
          mender.searchDevices({
            page: p,
            perPage: n,
            sort: [{ scope: 'system', attribute: 'updated_ts', order: 'desc' }],
          }),
        ))
          void _;
        for await (const _ of mender.paginate((p, n) => mender.listArtifacts({ page: p, perPage: n }))) void _;
        for await (const _ of mender.paginate((p, n) => mender.listDeployments({ page: p, perPage: n }))) void _;
      });
      log(`paging alone: ${pageMs.toFixed(0)} ms`);
      memory.baseline('after_paging');

      const sqlite = await openTestStore('sqlite');
      const pg = await openTestStore('postgres');
      try {
        const rssBefore = memory.baseline('before_sync');
        const [fullSqlite, sqliteMs] = await memory.phase('full_sync', () =>
          timed(() => runSync({ mender, store: sqlite.store, now: () => new Date() }, 'full')),
        );
        const bridgeRss = memory.peakMb;
        const simRss = (await child.peakRssMb()) ?? 0;
        log(
          `full sync, SQLite: ${sqliteMs.toFixed(0)} ms (${fullSqlite.vans_applied} vans); bridge peak RSS ${bridgeRss.toFixed(0)} MB, simulator ${simRss.toFixed(0)} MB; ${memory.describe()}`,
        );
        const bridgeBreakdown = memoryBreakdown('bridge_after_full_sync_');
        const own = await syncInOwnProcess(simUrl);
        // The sync's growth is garbage V8 has not collected yet (the live heap after it is a few MB): the same
        // sync with the young generation and the old space capped, as docs/deploy.md suggests for the bridge.
        const capped = await syncInOwnProcess(simUrl, HEAP_CAP);
        log(
          `the same with NODE_OPTIONS="${HEAP_CAP}": ${capped.full_sync_ms} ms, peak RSS ${capped.bridge_peak_rss_mb} MB`,
        );
        log(
          `full sync in a process holding only the sync path: ${own.full_sync_ms} ms (${own.vans_applied} vans), peak RSS ${own.bridge_peak_rss_mb} MB; ${own.describe}`,
        );
        const [fullPg, pgMs] = await timed(() => runSync({ mender, store: pg.store, now: () => new Date() }, 'full'));
        log(`full sync, PostgreSQL: ${pgMs.toFixed(0)} ms (${fullPg.vans_applied} vans)`);

        const changedCount = Number(await (await fetch(`${controlUrl}/change`, { method: 'POST' })).text());
        const [inc, incMs] = await timed(() =>
          runSync({ mender, store: sqlite.store, now: () => new Date() }, 'incremental'),
        );
        log(
          `incremental sync (${changedCount} changed), SQLite: ${incMs.toFixed(0)} ms (${inc.vans_applied} vans applied)`,
        );

        // Ops' changes: tags on 1 %, a group on another 1 %. Requests are counted at the client.
        const ids = (await mender.collect((p, n) => mender.listAuthDevices({ page: p, perPage: n }))).map((d) => d.id);
        const tagged = ids.filter((_, i) => i % 100 === 13);
        const grouped = ids.filter((_, i) => i % 100 === 29);
        await pool(tagged, 16, (id) => mender.setTags(id, [{ name: 'region', value: 'north' }]));
        await pool(grouped, 16, (id) => mender.setGroup(id, 'pilot-north'));
        let calls = 0;
        const http = mender.http as unknown as { request: (r: unknown) => Promise<unknown> };
        const request = http.request.bind(http);
        http.request = (r) => {
          calls++;
          return request(r);
        };
        const [incAfterOps, incOpsMs] = await timed(() =>
          runSync({ mender, store: sqlite.store, now: () => new Date() }, 'incremental'),
        );
        const incCalls = calls;
        calls = 0;
        const [rec, recMs] = await timed(() =>
          runSync({ mender, store: sqlite.store, now: () => new Date() }, 'reconcile'),
        );
        const recCalls = calls;
        http.request = request;
        log(
          `after ops changed ${tagged.length + grouped.length} vans: incremental ${incOpsMs.toFixed(0)} ms, ${incCalls} requests, ${incAfterOps.tags_or_group_changed} caught; reconcile ${recMs.toFixed(0)} ms, ${recCalls} requests, ${rec.tags_or_group_changed} caught`,
        );

        // Report throughput: the bridge app on the synced SQLite store vs a bare route with the same body.
        const config = BridgeConfig.parse({ http: { rate_limit_per_minute: 0 }, log_level: 'silent' });
        const app = await buildBridgeApp({
          store: sqlite.store,
          sync: {
            running: false,
            metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] },
            syncNow: () => Promise.reject(new Error('no')),
          },
          menderReady: () => Promise.resolve(),
          config,
          clock: systemClock,
          artifacts: {
            downloadLink: () => Promise.reject(new Error('no')),
            sha256: () => Promise.reject(new Error('no')),
          },
        });
        const appUrl = await app.listen({ port: 0, host: '127.0.0.1' });
        const body = await (await fetch(`${appUrl}/api/v1/reports/fleet`)).text();
        const bare = Fastify({ logger: false });
        bare.get('/fleet', (_req, reply) => reply.type('application/json').send(body));
        const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
        const baseline = await cannon(`${bareUrl}/fleet`);
        const report = await cannon(`${appUrl}/api/v1/reports/fleet`);
        await app.close();
        await bare.close();
        log(
          `reports/fleet ${report.rps} req/s (p99 ${report.p99} ms) vs bare ${baseline.rps} req/s (p99 ${baseline.p99} ms)`,
        );

        const scale = process.env.BENCH_SYNC_SCALE === '1' ? await bigSync(100_000) : undefined;

        const ratioSqlite = sqliteMs / pageMs;
        const ratioPg = pgMs / pageMs;
        const rpsRatio = report.rps / baseline.rps;
        const rssMet = bridgeRss <= 200 && (scale === undefined || scale.bridge_peak_rss_mb <= 1024);
        const met = ratioSqlite <= 2 && ratioPg <= 2 && rpsRatio >= 0.5 && rssMet;
        const scaleText = scale
          ? `; 100,000-device full sync ${(scale.full_sync_sqlite_ms / 1000).toFixed(1)} s, bridge ${scale.bridge_peak_rss_mb} MB (target ≤ 1 GB; ${scale.bridge_before_sync_gc_rss_mb} MB before the sync + ${scale.bridge_full_sync_growth_mb} MB sync growth), simulator ${scale.simulator_peak_rss_mb} MB`
          : '; 100,000-device sync not run (BENCH_SYNC_SCALE=1)';
        const where =
          bridgeRss > 200
            ? ` (where it goes: ${memory.describe()}; V8 heap after the sync ${memory.figures.bridge_full_sync_heap_used_after_mb} MB used, ${memory.figures.bridge_full_sync_heap_live_after_mb} MB live)`
            : '';
        return {
          summary: `full sync of ${N}: SQLite ${(sqliteMs / 1000).toFixed(2)} s (${ratioSqlite.toFixed(2)}× paging), PostgreSQL ${(pgMs / 1000).toFixed(2)} s (${ratioPg.toFixed(2)}×); incremental 1 %: ${(incMs / 1000).toFixed(2)} s; reconcile ${(recMs / 1000).toFixed(2)} s, ${recCalls} requests, ${rec.tags_or_group_changed} ops changes caught; /reports/fleet ${report.rps} req/s = ${rpsRatio.toFixed(2)}× bare (p99 ${report.p99} ms); bridge peak RSS ${bridgeRss.toFixed(0)} MB during the full sync in the bench process (target ≤ 200 MB)${where}, ${own.bridge_peak_rss_mb} MB in a process holding only the sync path (${own.describe}), ${capped.bridge_peak_rss_mb} MB there with NODE_OPTIONS="${HEAP_CAP}" (${capped.full_sync_ms} ms), simulator ${simRss.toFixed(0)} MB in its own process${scaleText}`,
          target:
            'full sync ≤ 2× paging; /reports/fleet ≥ 0.5× bare Fastify; bridge RSS ≤ 200 MB at 10 k, ≤ 1 GB at 100 k',
          met,
          figures: {
            devices: N,
            full_sync_sqlite_ms: Math.round(sqliteMs),
            full_sync_postgres_ms: Math.round(pgMs),
            incremental_sync_1pct_ms: Math.round(incMs),
            incremental_vans_applied: inc.vans_applied,
            ops_changed_vans: tagged.length + grouped.length,
            incremental_after_ops_ms: Math.round(incOpsMs),
            incremental_after_ops_requests: incCalls,
            reconcile_ms: Math.round(recMs),
            reconcile_requests: recCalls,
            reconcile_caught: rec.tags_or_group_changed,
            reports_fleet_rps: report.rps,
            reports_fleet_p99_ms: report.p99,
            seed_ms: Math.round(seedMs),
            bridge_rss_before_sync_mb: Math.round(rssBefore),
            bridge_peak_rss_mb: Math.round(bridgeRss),
            simulator_peak_rss_mb: Math.round(simRss),
            ...memory.figures,
            ...bridgeBreakdown,
            sync_process_full_sync_ms: own.full_sync_ms,
            sync_process_peak_rss_mb: own.bridge_peak_rss_mb,
            sync_process_heap_capped_full_sync_ms: capped.full_sync_ms,
            sync_process_heap_capped_peak_rss_mb: capped.bridge_peak_rss_mb,
            ...Object.fromEntries(Object.entries(own.figures).map(([k, v]) => [`sync_process_${k}`, v])),
            ...(scale ? Object.fromEntries(Object.entries(scale).map(([k, v]) => [`scale_100k_${k}`, v])) : {}),
          },
          baseline: {
            paging_only_ms: Math.round(pageMs),
            bare_fastify_rps: baseline.rps,
            bare_fastify_p99_ms: baseline.p99,
          },
          ratio: Number(Math.max(ratioSqlite, ratioPg).toFixed(2)),
        };
      } finally {
        await sqlite.dispose();
        await pg.dispose();
      }
    } finally {
      await child.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** A full sync of `n` devices into SQLite, the simulator in its own process; peak RSS of each side. */
async function bigSync(n: number) {
  log(`seeding ${n} devices in a second simulator process`);
  const { child, simUrl, seedMs } = await startSimChild(n);
  const store = await openTestStore('sqlite');
  const memory = new MemoryPhases();
  try {
    const before = memory.baseline('before_sync');
    const [full, ms] = await memory.phase('full_sync', () =>
      timed(() => runSync({ mender: menderFor(simUrl), store: store.store, now: () => new Date() }, 'full')),
    );
    const bridge = Math.round(memory.peakMb);
    const sim = Math.round((await child.peakRssMb()) ?? 0);
    log(
      `full sync of ${n}: ${ms.toFixed(0)} ms (${full.vans_applied} vans); bridge peak RSS ${bridge} MB, simulator ${sim} MB; ${memory.describe()}`,
    );
    return {
      devices: n,
      seed_ms: Math.round(seedMs),
      full_sync_sqlite_ms: Math.round(ms),
      vans_applied: full.vans_applied,
      bridge_peak_rss_mb: bridge,
      simulator_peak_rss_mb: sim,
      bridge_before_sync_gc_rss_mb: before,
      bridge_full_sync_growth_mb: memory.figures.bridge_full_sync_growth_mb!,
      bridge_full_sync_heap_live_after_mb: memory.figures.bridge_full_sync_heap_live_after_mb!,
      ...memoryBreakdown('bridge_after_full_sync_'),
    };
  } finally {
    await store.dispose();
    await child.close();
  }
}

if (process.argv[2] === '--serve' && process.argv[1] === import.meta.filename) await serve(Number(process.argv[3]));
