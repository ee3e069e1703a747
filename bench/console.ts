// Console benchmark (issue #18): 10,000 vans in the store, the bridge serving the built console, Debian's
// Chromium driving it (playwright-core, test/e2e/console-kit.ts):
// * fleet page first meaningful paint: navigation start → the fleet charts painted (the page's
//   `vc:fleet-ready` mark, set after paint), target ≤ 1 s;
// * vans page next page: click on "Next" → the next page's rows painted (`vc:vans-ready:<n>`), ≤ 300 ms;
// * shipped assets (dist/console, gzipped as the bridge sends them), ≤ 300 KB.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startBridge } from '../bridge/server.js';
import { openFleetDb } from '../bridge/store/db.js';
import { FleetStore } from '../bridge/store/fleet-store.js';
import { BridgeConfig } from '../core/config/bridge-config.js';
import { createLogger } from '../core/logger.js';
import { parseInventory } from '../core/schemas/inventory.js';
import { launchChromium } from '../test/e2e/console-kit.js';
import { startMenderSim } from '../mender-sim/index.js';
import type { Benchmark, BenchResult } from './registry.js';

const N = Number(process.env.BENCH_CONSOLE_VANS ?? 10_000);
const RUNS = 7;
const TOKEN = 'bench-console-ops-token-0123456789';
const log = (line: string) => process.stderr.write(`  console: ${line}\n`);
const REASONS = [
  'moving: stationary 0 of 3 min',
  'signal_low: signal quality 0.31 < 0.6',
  'battery_low: battery 22 % < 30 %',
  'outside_window: next window Sat 02:00',
  'signal_low, battery_low: signal quality 0.2 < 0.6; battery 18 % < 30 %',
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (n: number) => Math.round(n);

/** 10,000 vans as the sync writes them (FleetStore.applyInventory), and 30 days of update outcomes. */
async function seed(store: FleetStore, now: Date) {
  const iso = now.toISOString();
  const ids: string[] = [];
  for (let start = 0; start < N; start += 1000) {
    const snaps = [];
    for (let i = start; i < Math.min(N, start + 1000); i++) {
      const deviceId = `dev-${String(i).padStart(6, '0')}`;
      ids.push(deviceId);
      const deferred = i % 9 === 0;
      const attrs: Record<string, string | number | boolean> = {
        'vancore.van_id': `van-${String(i).padStart(5, '0')}`,
        'vancore.platform.version': ['1.0.0', '0.9.3', '0.9.2'][i % 7 === 0 ? 2 : i % 3 === 0 ? 1 : 0]!,
        'vancore.app.version': i % 4 ? '1.4.0' : '1.3.2',
        'vancore.config.version': `2026.11.${(i % 3) + 1}`,
        'vancore.health.battery_soc': 20 + (i % 80),
        'vancore.health.signal_quality': ((i * 37) % 100) / 100,
        'vancore.health.disk_ok': i % 211 !== 0,
        'vancore.gate.state': deferred ? 'deferred' : 'open',
        'vancore.gate.phase': 'Download_Enter',
        'vancore.gate.since': new Date(now.getTime() - (i % 50) * 3_600_000).toISOString(),
        'vancore.vpn.state': i % 5 ? 'tailscale' : 'dual',
        ...(deferred ? { 'vancore.gate.reason': REASONS[i % REASONS.length]! } : {}),
      };
      snaps.push({
        deviceId,
        authStatus: 'accepted',
        checkInTime: new Date(now.getTime() - (i % 72) * 3_600_000).toISOString(),
        inventory: parseInventory(
          Object.entries({ ...attrs, device_type: 'vanpc', artifact_name: 'vancore-platform-1.0.0' }).map(
            ([name, value]) => ({ scope: 'inventory', name, value }),
          ),
        ),
      });
    }
    await store.applyInventory(snaps, iso);
  }
  // Stages as a real fleet has them: a few internal vans, a pilot group, the rest.
  await store.db.updateTable('vans').set({ stage: 'internal' }).where('device_id', 'in', ids.slice(0, 100)).execute();
  await store.db.updateTable('vans').set({ stage: 'pilot' }).where('device_id', 'in', ids.slice(100, 500)).execute();
  for (let d = 0; d < 20; d++) {
    const id = `dep-${d}`;
    const size = 120 + ((d * 53) % 380);
    const day = new Date(now.getTime() - (29 - d) * 86_400_000).toISOString();
    await store.upsertDeployments([
      {
        id,
        name: `rollout-wave-${d}`,
        artifact_name: 'vancore-platform-1.0.0',
        status: 'finished',
        created: day,
        finished: day,
        device_count: size,
        max_devices: null,
        stats_json: null,
        synced_at: iso,
      },
    ]);
    await store.upsertDeploymentDevices(
      ids.slice(d * 500, d * 500 + size).map((device_id, k) => ({
        deployment_id: id,
        device_id,
        status:
          k % (9 + (d % 5) * 6) === 0
            ? 'failure'
            : k % 41 === 0
              ? 'aborted'
              : k % 37 === 0
                ? 'already-installed'
                : 'success',
        started: day,
        finished: day,
        log_available: 0,
        updated_at: iso,
      })),
    );
  }
}

async function gzippedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir, { recursive: true, encoding: 'utf8' }))
    if (f.endsWith('.gz')) total += (await stat(join(dir, f))).size;
  return total;
}

export const consoleBench: Benchmark = {
  name: 'console',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-console-'));
    const sim = await startMenderSim({ autoAccept: true });
    const silent = createLogger({
      name: 'bench',
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    try {
      const dbUrl = `sqlite:${join(dir, 'fleet.db')}`;
      const store = new FleetStore(await openFleetDb(dbUrl));
      await store.migrate();
      const t0 = performance.now();
      await seed(store, new Date());
      await store.close();
      log(`seeded ${N} vans in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const config = BridgeConfig.parse({
        mender: { url: sim.url, user: sim.user, password: sim.password },
        database: { url: dbUrl },
        http: { port: 0, rate_limit_per_minute: 0 },
        auth: { tokens: [{ name: 'bench-ops', role: 'ops', token: TOKEN }] },
      });
      // No sync: the store is the fleet (the simulator only answers readiness).
      const bridge = await startBridge(config, { logger: silent, env: {}, startSync: false });
      const browser = await launchChromium({ width: 1280, height: 900 });
      try {
        const page = await browser.context.newPage();
        await page.goto(bridge.url);
        await page.getByLabel('API token').fill(TOKEN);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForSelector('#versions');

        // Fleet page: a fresh navigation each run; the first one also pays for the cold fleet report.
        const fmp: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          await page.goto('about:blank');
          await page.goto(`${bridge.url}/#/fleet`);
          await page.waitForFunction(() => performance.getEntriesByName('vc:fleet-ready').length > 0);
          fmp.push(await page.evaluate(() => performance.getEntriesByName('vc:fleet-ready')[0]!.startTime));
        }
        log(`fleet first meaningful paint: ${fmp.map(round).join(', ')} ms`);
        // The README's picture of the fleet page (docs/img/console-fleet.png), on request.
        const shot = process.env.BENCH_CONSOLE_SCREENSHOT;
        if (shot) {
          await page.setViewportSize({ width: 1280, height: 1000 });
          await page.hover('#deferrals .bar-row');
          const chart = await page.locator('#outcomes .u-over').boundingBox();
          if (chart) await page.mouse.move(chart.x + chart.width * 0.62, chart.y + chart.height / 2);
          await page.screenshot({ path: shot, fullPage: true });
          log(`screenshot: ${shot}`);
        }

        // Vans page: page 1, then "Next" RUNS times, each timed from the click to the next page painted.
        await page.goto(`${bridge.url}/#/vans`);
        await page.waitForFunction(() => performance.getEntriesByName('vc:vans-ready:1').length > 0);
        const next: number[] = [];
        for (let p = 1; p <= RUNS; p++) {
          const ms = await page.evaluate(async (n) => {
            const t = performance.now();
            // (The page's DOM; this file is type-checked without the DOM library.)
            const doc = (globalThis as unknown as { document: { querySelector(s: string): { click(): void } } })
              .document;
            doc.querySelector('[data-next]').click();
            for (;;) {
              const m = performance.getEntriesByName(`vc:vans-ready:${n + 1}`)[0];
              if (m) return m.startTime - t;
              await new Promise((r) => setTimeout(r, 5));
            }
          }, p);
          next.push(ms);
        }
        log(`vans next page: ${next.map(round).join(', ')} ms`);
        const assets = await gzippedBytes(join(import.meta.dirname, '../dist/console'));
        const fmpMedian = median(fmp);
        const nextMedian = median(next);
        const met = fmpMedian <= 1000 && nextMedian <= 300 && assets <= 300 * 1024;
        return {
          summary: `${N.toLocaleString('en')} vans: fleet page first meaningful paint ${round(fmpMedian)} ms (median of ${RUNS}, max ${round(Math.max(...fmp))} ms), vans next page ${round(nextMedian)} ms (max ${round(Math.max(...next))} ms), assets ${(assets / 1024).toFixed(1)} KB gzipped`,
          target: 'fleet paint ≤ 1 s, next page ≤ 300 ms, assets ≤ 300 KB gzipped',
          met,
          figures: {
            vans: N,
            fleet_fmp_ms_median: round(fmpMedian),
            fleet_fmp_ms_first: round(fmp[0]!),
            fleet_fmp_ms_max: round(Math.max(...fmp)),
            vans_next_page_ms_median: round(nextMedian),
            vans_next_page_ms_max: round(Math.max(...next)),
            assets_gzip_bytes: assets,
          },
        };
      } finally {
        await browser.close();
        await bridge.stop();
      }
    } finally {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
