// Bridge benchmarks (issue #7), all against the simulator over HTTP in one run:
// * full sync of 10,000 devices into SQLite and PostgreSQL vs merely paging through the same API calls
//   (target ≤ 2×);
// * incremental sync with 1 % of the devices changed;
// * a reconcile sync (issue #14) after ops changed the tags of 1 % and the group of another 1 % (changes
//   that do not move inventory `updated_ts`): time and Mender requests;
// * `/api/v1/reports/fleet` throughput vs a bare Fastify route returning the same body, in the same
//   autocannon run (target ≥ 0.5×, p99 reported).
import { mkdtemp, rm } from 'node:fs/promises';
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
import { startMenderSim } from '../test/mender-sim/index.js';
import { SimDevice } from '../test/mender-sim/testkit.js';
import type { Benchmark, BenchResult } from './registry.js';

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

export const bridgeSyncBench: Benchmark = {
  name: 'bridge-sync',
  async run(): Promise<BenchResult> {
    const sim = await startMenderSim({ autoAccept: true, requestLogSize: 100 });
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-bridge-'));
    try {
      log(`seeding ${N} devices through the device API`);
      const devices = Array.from(
        { length: N },
        (_, i) =>
          new SimDevice(sim.url, {
            mac: `02:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`,
          }),
      );
      const [, seedMs] = await timed(() =>
        pool([...devices.entries()], 32, async ([i, d]) => {
          await d.authenticate();
          await d.putInventory(inventory(i));
        }),
      );
      log(`seeded in ${(seedMs / 1000).toFixed(1)} s`);
      const mender = MenderManagementClient.create({
        baseUrl: sim.url,
        auth: { kind: 'login', user: sim.user, password: sim.password },
        pageSize: 500,
      });

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

      const sqlite = await openTestStore('sqlite');
      const pg = await openTestStore('postgres');
      try {
        const [fullSqlite, sqliteMs] = await timed(() =>
          runSync({ mender, store: sqlite.store, now: () => new Date() }, 'full'),
        );
        log(`full sync, SQLite: ${sqliteMs.toFixed(0)} ms (${fullSqlite.vans_applied} vans)`);
        const [fullPg, pgMs] = await timed(() => runSync({ mender, store: pg.store, now: () => new Date() }, 'full'));
        log(`full sync, PostgreSQL: ${pgMs.toFixed(0)} ms (${fullPg.vans_applied} vans)`);

        const changed = devices.filter((_, i) => i % 100 === 7);
        await pool(changed, 16, async (d) => void (await d.putInventory(inventory(devices.indexOf(d), 12))));
        const [inc, incMs] = await timed(() =>
          runSync({ mender, store: sqlite.store, now: () => new Date() }, 'incremental'),
        );
        log(
          `incremental sync (${changed.length} changed), SQLite: ${incMs.toFixed(0)} ms (${inc.vans_applied} vans applied)`,
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

        const ratioSqlite = sqliteMs / pageMs;
        const ratioPg = pgMs / pageMs;
        const rpsRatio = report.rps / baseline.rps;
        const met = ratioSqlite <= 2 && ratioPg <= 2 && rpsRatio >= 0.5;
        return {
          summary: `full sync of ${N}: SQLite ${(sqliteMs / 1000).toFixed(2)} s (${ratioSqlite.toFixed(2)}× paging), PostgreSQL ${(pgMs / 1000).toFixed(2)} s (${ratioPg.toFixed(2)}×); incremental 1 %: ${(incMs / 1000).toFixed(2)} s; reconcile ${(recMs / 1000).toFixed(2)} s, ${recCalls} requests, ${rec.tags_or_group_changed} ops changes caught; /reports/fleet ${report.rps} req/s = ${rpsRatio.toFixed(2)}× bare (p99 ${report.p99} ms)`,
          target: 'full sync ≤ 2× paging; /reports/fleet ≥ 0.5× bare Fastify',
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
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
