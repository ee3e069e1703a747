// Fault suite: Mender API chaos during a rollout. The chaos proxy sits between the bridge's management
// client (sync and rollout controller) and the simulator and fails 20 % of the calls (503, 429 with
// Retry-After, resets, stalls past the client timeout); behind it a second proxy lets Mender act on some
// "create deployment" calls and then drops the answer — the ambiguous failure a retry must not double.
// The rollout must complete with exactly one Mender deployment per (wave, component) and the same
// records as a clean run of the same seeded fleet.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutController } from '../../bridge/rollout/controller.js';
import type { RolloutControllerStep as RolloutStep } from '../../bridge/rollout/controller.js';
import { resolveRelease } from '../../bridge/rollout/release.js';
import * as R from '../../bridge/rollout/store.js';
import { runSync } from '../../bridge/sync/sync.js';
import { ManualClock } from '../../core/clock.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { type ChaosProxy, startChaosProxy } from '../helpers/chaos-proxy.js';
import { type Backend, openTestStore } from '../helpers/fleet-db.js';
import { startVirtualFleet } from '../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../mender-sim/index.js';
import { Mgmt } from '../../mender-sim/testkit.js';
import {
  FAULT_SETTINGS,
  FLEET_SIZE,
  type NormalizedRollout,
  RELEASE,
  SCRIPT,
  STAGES,
  deploymentLedger,
  fleetVersions,
  normalizeRollout,
  releaseArtifacts,
  startCreateProxy,
  vanId,
} from './kit.js';

let dir: string;
let artifacts: Buffer[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fault-chaos-'));
  artifacts = await releaseArtifacts(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** When the plan only waits on time (soak, next wave), jump the clock there; true when it did. */
function skipTime(clock: ManualClock, next: RolloutStep[]): boolean {
  const until = next.map((s) =>
    s.kind === 'wait' ? /(?:soaking until|due at) (\S+)$/.exec(s.reason)?.[1] : undefined,
  );
  if (until.length === 0 || until.some((u) => u === undefined)) return false;
  clock.set(until.map((u) => new Date(u!)).reduce((a, b) => (a < b ? a : b)));
  return true;
}

interface RunResult {
  normalized: NormalizedRollout;
  chaos?: ChaosProxy['stats'];
  lost: number;
  syncFailures: number;
  /** Delays the client was asked to wait (Retry-After 1 s shows as 1000). */
  retryDelays: number[];
  /** Every rollout deployment vs Mender's list, and the synced deployment records vs Mender. */
  checks: () => void;
}

async function runRollout(opts: { backend: Backend; chaos: boolean; seed: number }): Promise<RunResult> {
  const sim = await startMenderSim({ autoAccept: true });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const a of artifacts) expect((await mg.upload(a)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: FLEET_SIZE,
    seed: 'fault-chaos',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    script: SCRIPT,
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === FLEET_SIZE, { timeoutMs: 60_000 });

  let target = sim.url;
  let chaos: ChaosProxy | undefined;
  let lost: Awaited<ReturnType<typeof startCreateProxy>> | undefined;
  if (opts.chaos) {
    const l = (lost = await startCreateProxy(sim.url, { loseShare: 0.3, seed: opts.seed + 1 }));
    cleanup.push(() => l.close());
    const c = (chaos = await startChaosProxy(l.url, { failShare: 0.2, seed: opts.seed, stallMs: 2_000 }));
    cleanup.push(() => c.close());
    target = c.url;
  }
  const retryDelays: number[] = [];
  const mender = MenderManagementClient.create({
    baseUrl: target,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    pageSize: 500,
    timeoutMs: 700,
    retry: { retries: 3, baseDelayMs: 20, maxDelayMs: 200 },
    // The waits asked for are recorded (Retry-After must be honoured) and served 20× faster.
    sleep: (ms) => (retryDelays.push(ms), new Promise((r) => setTimeout(r, ms / 20))),
  });
  // The ground truth is read around the chaos.
  const direct = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
  });

  const t = await openTestStore(opts.backend);
  cleanup.push(() => t.dispose());
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  let syncFailures = 0;
  const sync = async (kind: 'full' | 'incremental') => {
    try {
      await runSync({ mender, store: t.store, now: () => clock.now() }, kind);
      return true;
    } catch {
      syncFailures++;
      return false;
    }
  };
  // The first full sync must land before stages and the release can be set: retry it through the chaos.
  for (let i = 0; !(await sync('full')); i++) if (i > 20) throw new Error('no full sync got through the chaos');
  const devices = await t.store.db.selectFrom('vans').select(['device_id', 'van_id']).execute();
  expect(devices).toHaveLength(FLEET_SIZE);
  const idOf = new Map(devices.map((d) => [d.van_id, d.device_id]));
  const at = clock.now().toISOString();
  for (const stage of ['internal', 'pilot'] as const)
    await R.setVanFlags(
      t.store.db,
      STAGES[stage].map((i) => idOf.get(vanId(i))!),
      { stage },
      at,
    );
  const v = resolveRelease(RELEASE.components, await R.knownArtifacts(t.store.db));
  if (!v.ok) throw new Error(v.reason);
  await R.insertRelease(t.store.db, {
    name: RELEASE.name,
    components: v.components,
    created_at: at,
    created_by: 'test',
  });

  const c = new RolloutController({ store: t.store, mender, clock, settings: FAULT_SETTINGS });
  const r = await c.create(RELEASE.name, 'ops-alice', 'fault suite');
  const end = Date.now() + 150_000;
  for (;;) {
    await sync('incremental');
    await c.tick();
    const cur = (await R.getRollout(t.store.db, r.id))!;
    if (cur.status !== 'active') break;
    if (Date.now() > end) throw new Error(`rollout stuck: ${JSON.stringify((await c.plan(r.id)).slice(0, 2))}`);
    if (!skipTime(clock, await c.plan(r.id))) await new Promise((res) => setTimeout(res, 100));
  }
  // A last full sync through the chaos: the records of every deployment must arrive complete.
  for (let i = 0; !(await sync('full')); i++) if (i > 20) throw new Error('no full sync got through the chaos');

  const normalized = await normalizeRollout(t.store.db, r.id, fleetVersions(fleet));
  const { inMender, ours } = await deploymentLedger(t.store.db, direct);
  const synced = await t.store.db.selectFrom('deployments').select(['id', 'name', 'status']).execute();
  const syncedDevices = await t.store.db
    .selectFrom('deployment_devices')
    .select(['deployment_id', 'device_id', 'status'])
    .execute();
  const menderDevices = new Map<string, string>();
  for (const d of inMender)
    for (const x of await direct.collect((page, perPage) => direct.deploymentDevices(d.id, { page, perPage })))
      menderDevices.set(`${d.id} ${x.id}`, x.status);
  return {
    normalized,
    ...(chaos ? { chaos: chaos.stats } : {}),
    lost: lost?.stats.lost ?? 0,
    syncFailures,
    retryDelays,
    checks() {
      // No duplicates: one Mender deployment per (wave, component) name, and each of ours is one of them.
      expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
      expect(inMender).toHaveLength(ours.length);
      expect(new Set(ours.map((d) => d.mender_id))).toEqual(new Set(inMender.map((d) => d.id)));
      expect(ours.every((d) => d.status === 'finished')).toBe(true);
      // No lost records: the synced deployments and per-device statuses equal Mender's.
      expect(new Map(synced.map((d) => [d.id, `${d.name} ${d.status}`]))).toEqual(
        new Map(inMender.map((d) => [d.id, `${d.name} ${d.status}`])),
      );
      expect(new Map(syncedDevices.map((d) => [`${d.deployment_id} ${d.device_id}`, d.status]))).toEqual(menderDevices);
    },
  };
}

/** The three runs go at once (each has its own simulator, fleet, proxies and store); tests judge them. */
let runs: { clean: RunResult; sqlite: RunResult; postgres: RunResult };
let failures: Partial<Record<keyof typeof runs, unknown>> = {};
function run(name: keyof typeof runs): RunResult {
  if (name in failures) throw failures[name];
  return runs[name];
}

describe('fault: Mender API chaos during a rollout', () => {
  beforeAll(async () => {
    const settled = await Promise.allSettled([
      runRollout({ backend: 'sqlite', chaos: false, seed: 0 }),
      runRollout({ backend: 'sqlite', chaos: true, seed: 1010 }),
      runRollout({ backend: 'postgres', chaos: true, seed: 2020 }),
    ]);
    const names = ['clean', 'sqlite', 'postgres'] as const;
    failures = {};
    runs = {} as typeof runs;
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') runs[names[i]!] = r.value;
      else failures[names[i]!] = r.reason;
    });
    for (const c of cleanup.splice(0).reverse()) await c();
  }, 180_000);

  it('the clean run completes and its records are whole (the reference for the chaos runs)', () => {
    const clean = run('clean');
    clean.checks();
    expect(clean.normalized.status).toBe('completed');
    // 34 fleet vans in waves of ceil(10 % × 34) = 4; the two bad vans are retried once, then excluded.
    expect(clean.normalized.waves[0]).toBe('internal:2');
    expect(clean.normalized.waves[1]).toBe('pilot:4');
    expect(clean.normalized.vans[vanId(17)]).toMatch(/^fleet excluded \| .*=failure .*=failure$/);
    expect(clean.normalized.vans[vanId(29)]).toMatch(/^fleet excluded \| .*=failure .*=failure$/);
    expect(
      Object.values(clean.normalized.vans).filter((v) =>
        v.includes('app@1.4.0,platform@1.0.0 | records app@1.4.0,platform@1.0.0'),
      ),
    ).toHaveLength(FLEET_SIZE - 2);
  });

  it.each(['sqlite', 'postgres'] as const)(
    '%s: a fifth of the management calls fail → completes, no duplicate deployments, same records as the clean run',
    (backend) => {
      const r = run(backend);
      r.checks();
      console.log(
        `rollout-chaos ${backend}: failed ${JSON.stringify(r.chaos!.failed)}, passed ${r.chaos!.passed}, ` +
          `answers lost after Mender acted ${r.lost}, retry waits ${r.retryDelays.length}, ` +
          `failed syncs ${r.syncFailures}`,
      );
      expect(r.normalized).toEqual(run('clean').normalized);
      // The chaos really happened, of every kind, at about the intended share.
      const failed = Object.values(r.chaos!.failed).reduce((a, b) => a + b, 0);
      expect(Object.keys(r.chaos!.failed).sort()).toEqual(['429', '503', 'reset', 'stall']);
      expect(failed / (failed + r.chaos!.passed)).toBeGreaterThan(0.12);
      expect(failed / (failed + r.chaos!.passed)).toBeLessThan(0.28);
      expect(r.lost).toBeGreaterThan(0);
      expect(r.retryDelays).toContain(1000);
    },
  );
});
