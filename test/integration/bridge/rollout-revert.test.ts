// The automatic revert of a rollout (issue #20 item 1) end to end: the simulator, a 60-van virtual fleet
// over real HTTP, the real sync and the controller on a ManualClock, on SQLite and PostgreSQL. A release
// (app 1.5.0) fails on a fifth of the vans; the rollout's `revert` policy is crossed; within the tick that
// first sees the crossing the rollout pauses, its open deployment is aborted, and the signed revert artifact
// built by the real `artifact build --revert-of` (vancore-app-1.4.0-revert-1.5.0) goes to every van that
// took 1.5.0. The virtual vans refuse a plain downgrade as the install gate does (agent-hooks/lib/downgrade.ts),
// so only the revert artifact can take them back.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RolloutController, type RolloutControllerStep } from '../../../bridge/rollout/controller.js';
import { MIN_SAMPLE } from '../../../bridge/rollout/planner.js';
import { MAX_REVERT_ROUNDS } from '../../../bridge/rollout/revert.js';
import { resolveRelease } from '../../../bridge/rollout/release.js';
import { rolloutStatus } from '../../../bridge/rollout/status.js';
import * as R from '../../../bridge/rollout/store.js';
import { attentionReport } from '../../../bridge/store/reports.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { RolloutSettings } from '../../../core/config/bridge-config.js';
import { ManualClock } from '../../../core/clock.js';
import { VanError } from '../../../core/errors.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { type VirtualFleet, startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt } from '../../../mender-sim/testkit.js';
import type { ScenarioInput } from '../../../mender-sim/fleet/scenario.js';
import { buildArtifact as buildVanCoreArtifact } from '../../../mender-artifacts/build.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import { execaRunner } from '../../../mender-artifacts/runner.js';
import { type Backend, type TestStore, openTestStore } from '../../helpers/fleet-db.js';
import { keyPair } from '../../unit/mender-artifacts/fixtures.js';

const VANS = 60;
const FAILING = 0.2;
let dir: string;
const built = new Map<string, Buffer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-revert-it-'));
  const key = await keyPair(dir, 'ec-pkcs8');
  for (const a of [
    { component: 'platform', version: '1.0.0', requires: [] as string[] },
    { component: 'app', version: '1.4.0', requires: ['platform=^1.0.0'] },
    { component: 'app', version: '1.5.0', requires: ['platform=^1.0.0'] },
    { component: 'app', version: '1.4.0', requires: ['platform=^1.0.0'], revertOf: '1.5.0' },
  ]) {
    const bundle = join(dir, `${a.component}-${a.version}-bundle`);
    await mkdir(bundle, { recursive: true });
    await writeFile(
      join(bundle, 'compose.yaml'),
      `services:\n  ${a.component}:\n    image: vancore/${a.component}:${a.version}\n`,
    );
    const out = await mkdtemp(join(dir, `${a.component}-`));
    const options = parseBuildOptions({
      type: 'compose',
      component: a.component,
      version: a.version,
      bundle,
      'device-type': ['vanpc'],
      requires: a.requires,
      'no-gate-scripts': true,
      ...(a.revertOf ? { 'revert-of': a.revertOf, 'sign-key': key.priv } : {}),
      out,
    });
    const r = await buildVanCoreArtifact(options, {
      runner: execaRunner,
      now: () => new Date(),
      defaultScriptsDir: dir,
      progress: silentProgress,
    });
    built.set(
      a.revertOf ? `${a.component}-${a.version}-revert-${a.revertOf}` : `${a.component}-${a.version}`,
      await readFile(r.artifactPath),
    );
  }
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Only the revert policy stops this rollout: the wave's own failure gate is wide open. */
const settings = RolloutSettings.parse({
  wave_percent: 10,
  wave_interval_hours: 6,
  max_failure_percent: 100,
  max_failures_per_wave: 100,
  advance_success_percent: 50,
  max_retries_per_van: 0,
  revert: { failed_count: 4, failed_pct: 30, window_hours: 48 },
});

interface Bed {
  sim: MenderSim;
  fleet: VirtualFleet;
  mender: MenderManagementClient;
  mg: Mgmt;
  t: TestStore;
  clock: ManualClock;
  sync(kind?: 'full' | 'incremental'): Promise<void>;
}

async function bed(
  backend: Backend,
  withRevertArtifact: boolean,
  fleetOpts: { script?: ScenarioInput; reportSoak?: boolean } = { script: { failure: FAILING } },
): Promise<Bed> {
  const sim = await startMenderSim({ autoAccept: true, profile: '4.1' });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const [name, a] of built)
    if (withRevertArtifact || !name.includes('revert')) expect((await mg.upload(a)).status).toBe(201);
  // Every van runs the previous release (rel-1: platform 1.0.0, app 1.4.0).
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: VANS,
    seed: 'revert-it',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    artifactName: 'vancore-app-1.4.0',
    versions: { platform: '1.0.0', app: '1.4.0' },
    refuseDowngrades: true,
    ...fleetOpts,
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === VANS, { timeoutMs: 60_000 });
  const t = await openTestStore(backend);
  cleanup.push(() => t.dispose());
  const mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    pageSize: 500,
    timeoutMs: 5000,
    retry: { retries: 3, baseDelayMs: 20, maxDelayMs: 200 },
  });
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const sync = async (kind: 'full' | 'incremental' = 'full') =>
    void (await runSync({ mender, store: t.store, now: () => clock.now() }, kind));
  await sync();
  // rel-1 went out completely last month (the release a revert goes back to); rel-2 is the new one.
  const db = t.store.db;
  for (const [name, app] of [
    ['rel-1', '1.4.0'],
    ['rel-2', '1.5.0'],
  ] as const) {
    const v = resolveRelease({ platform: '1.0.0', app }, await R.knownArtifacts(db));
    if (!v.ok) throw new Error(v.reason);
    await R.insertRelease(db, {
      name,
      components: v.components,
      created_at: '2026-10-01T00:00:00Z',
      created_by: 'test',
    });
  }
  await R.insertRollout(db, {
    id: 'r-rel1',
    release: 'rel-1',
    status: 'completed',
    pause_reason: null,
    settings,
    created_at: '2026-10-01T00:00:00.000Z',
    created_by: 'test',
    updated_at: '2026-10-08T00:00:00.000Z',
  });
  return { sim, fleet, mender, mg, t, clock, sync };
}

/** When the plan only waits on time (next wave), jump the clock there; true when it did. */
function skipTime(clock: ManualClock, next: RolloutControllerStep[]): boolean {
  const until = next.map((s) =>
    s.kind === 'wait' ? /(?:soaking until|due at) (\S+)$/.exec(s.reason)?.[1] : undefined,
  );
  if (until.length === 0 || until.some((u) => u === undefined)) return false;
  clock.set(until.map((u) => new Date(u!)).reduce((a, b) => (a < b ? a : b)));
  return true;
}

/** Mender's own per-device statuses of the rollout's deployments (the ground truth the controller senses). */
async function menderTruth(b: Bed, rolloutId: string): Promise<{ failed: number; finished: number; targets: number }> {
  const deps = (await b.mender.collect((page, perPage) => b.mender.listDeployments({ page, perPage }))).filter((d) =>
    d.name.startsWith(`vancore rel-2 ${rolloutId} `),
  );
  let failed = 0;
  let finished = 0;
  const targets = new Set<string>();
  for (const d of deps)
    for (const x of await b.mender.collect((page, perPage) => b.mender.deploymentDevices(d.id, { page, perPage }))) {
      targets.add(x.id);
      if (x.status === 'failure') failed++;
      if (x.status === 'failure' || x.status === 'success') finished++;
    }
  return { failed, finished, targets: targets.size };
}

/** The policy as the issue states it, judged on Mender's statuses (not on the bridge's records). */
const crossed = (m: { failed: number; finished: number; targets: number }) =>
  m.failed >= settings.revert.failed_count! ||
  (m.finished > 0 &&
    m.finished >= Math.min(MIN_SAMPLE, m.targets) &&
    (100 * m.failed) / m.finished > settings.revert.failed_pct!);

describe.each(['sqlite', 'postgres'] as const)('automatic revert (%s)', (backend) => {
  it('a release failing on 20 % of vans: reverted within one tick of the threshold, every van that took it back on 1.4.0', async () => {
    const b = await bed(backend, true);
    const db = b.t.store.db;
    // The revert artifact is synced with its meta-data, and is never a release's own artifact.
    const revertRow = await db
      .selectFrom('artifacts')
      .select(['name', 'component', 'version', 'revert_of'])
      .where('revert_of', 'is not', null)
      .execute();
    expect(revertRow).toEqual([
      { name: 'vancore-app-1.4.0-revert-1.5.0', component: 'app', version: '1.4.0', revert_of: '1.5.0' },
    ]);
    const c = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const r = await c.create('rel-2', 'ops-alice', 'app 1.5.0');

    // Drive tick by tick; before each tick read Mender's truth. The tick after which Mender's statuses
    // (as they were before it) cross the policy must be the tick that starts the revert.
    let ticks = 0;
    let crossedAtTick: number | null = null;
    let revertAtTick: number | null = null;
    const end = Date.now() + 120_000;
    while (revertAtTick === null) {
      if (Date.now() > end) throw new Error(`no revert: ${JSON.stringify(await c.plan(r.id))}`);
      const truth = await menderTruth(b, r.id);
      if (crossedAtTick === null && crossed(truth)) crossedAtTick = ticks + 1;
      await b.sync('incremental');
      await c.tick();
      ticks++;
      if (await R.getRevert(db, r.id)) revertAtTick = ticks;
      else if (!skipTime(b.clock, await c.plan(r.id))) await new Promise((res) => setTimeout(res, 100));
    }
    // Within one controller tick of the threshold: when Mender's statuses had crossed it before a tick, that
    // tick started the revert (else the crossing happened during the revert tick's own reads); and the revert
    // was not premature: Mender's statuses do cross the policy.
    if (crossedAtTick !== null) expect(revertAtTick).toBeLessThanOrEqual(crossedAtTick);
    expect(crossed(await menderTruth(b, r.id))).toBe(true);

    const revert = (await R.getRevert(db, r.id))!;
    expect(revert).toMatchObject({ started_by: 'controller', previous_release: 'rel-1', release: 'rel-2' });
    expect(revert.reason).toMatch(/^revert policy crossed: \d+ of \d+ finished updates failed in the last 48 h/);
    const paused = (await R.getRollout(db, r.id))!;
    expect(paused.status).toBe('paused');
    expect(paused.pause_reason).toMatch(/^reverted to rel-1: revert policy crossed/);
    const wavesAtRevert = await R.loadWaves(db, r.id);
    const atRevert = await R.loadDeployments(db, r.id);
    const failedAtRevert = atRevert.flatMap((d) =>
      Object.values(d.outcomes).filter((o) => o.status === 'failure'),
    ).length;

    // Now let the revert run to its end.
    const end2 = Date.now() + 120_000;
    for (;;) {
      b.fleet.inventoryNow();
      await b.sync('incremental');
      await c.tick();
      if ((await R.getRevert(db, r.id))!.status === 'finished') break;
      if (Date.now() > end2) throw new Error(`revert stuck: ${JSON.stringify(await c.plan(r.id))}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    b.fleet.inventoryNow();
    await new Promise((res) => setTimeout(res, 300));
    await b.sync('full');

    // No wave and no deployment of the bad release after the revert started (the open one was aborted):
    // it reached only vans of the waves opened before, less the ones that failed it. A van already
    // installing when the abort came may still commit (an install cannot be taken back mid-way): the
    // revert's next round takes those back too.
    const waves = await R.loadWaves(db, r.id);
    expect(waves).toEqual(wavesAtRevert);
    expect(waves.every((w) => w.openedAt <= revert.started_at)).toBe(true);
    const devices = b.fleet.devices();
    const ranBad = devices.filter((d) => d.committed.includes('vancore-app-1.5.0')).map((d) => d.deviceId!);
    const inWaves = new Set(waves.flatMap((w) => w.deviceIds));
    expect(ranBad.length).toBeGreaterThan(0);
    expect(ranBad.every((id) => inWaves.has(id))).toBe(true);
    expect((await R.loadDeployments(db, r.id)).map((d) => d.name)).toEqual(atRevert.map((d) => d.name));
    expect(ranBad.length).toBeLessThanOrEqual(inWaves.size - failedAtRevert);
    // The failing vans never ran it.
    expect(
      devices.filter((d) => d.behaviour.outcome === 'failure').every((d) => !d.committed.includes('vancore-app-1.5.0')),
    ).toBe(true);

    // Every van that took the bad release ends on the previous one, or is in the attention report.
    const attention = await attentionReport(
      db,
      { failed_times: 99, deferred_days: 99, not_seen_days: 99, stuck_downloading_hours: 99 },
      b.clock.now(),
    );
    const flagged = new Set(attention.filter((a) => a.code === 'revert_not_landed').map((a) => a.device_id));
    for (const id of ranBad) {
      const d = devices.find((x) => x.deviceId === id)!;
      expect(d.versions.app === '1.4.0' || flagged.has(id), `${d.vanId}: app ${d.versions.app}`).toBe(true);
    }
    // Here every one of them landed: through the revert artifact, the last thing each committed.
    expect(ranBad.map((id) => devices.find((x) => x.deviceId === id)!.committed.at(-1))).toEqual(
      ranBad.map(() => 'vancore-app-1.4.0-revert-1.5.0'),
    );
    expect(flagged.size).toBe(0);

    // Tracked like any deployment (owner kind revert, deterministic name), one Mender deployment.
    const inMender = (await b.mender.collect((page, perPage) => b.mender.listDeployments({ page, perPage }))).filter(
      (d) => d.name.startsWith('vancore-revert '),
    );
    const rounds = inMender.map((_, i) => `vancore-revert ${r.id} r${i + 1} app`);
    expect(inMender.map((d) => [d.name, d.artifact_name]).sort()).toEqual(
      rounds.map((n) => [n, 'vancore-app-1.4.0-revert-1.5.0']),
    );
    expect(rounds.length).toBeGreaterThanOrEqual(1);
    expect(rounds.length).toBeLessThanOrEqual(MAX_REVERT_ROUNDS);
    const tracked = await db
      .selectFrom('tracked_deployments')
      .select(['name', 'owner_kind', 'purpose', 'device_ids_json'])
      .where('owner_kind', '=', 'revert')
      .orderBy('name')
      .execute();
    expect(tracked.map((t) => t.name)).toEqual(rounds);
    expect(tracked.every((t) => t.purpose === 'revert')).toBe(true);
    // Each van that took 1.5.0 got the revert exactly once.
    const revertTargets = tracked.flatMap((t) => JSON.parse(t.device_ids_json) as string[]);
    expect(revertTargets.sort()).toEqual([...ranBad].sort());

    // The audit trail: revert (with the aborted deployment), revert_deploy, revert_finished; and the view.
    const events = await R.listEvents(db, r.id);
    const actions = events.map((e) => e.action);
    expect(actions).toContain('revert');
    expect(actions.indexOf('revert')).toBeLessThan(actions.indexOf('revert_deploy'));
    expect(actions.at(-1)).toBe('revert_finished');
    const fin = events.at(-1)!;
    expect(fin.reason).toBe(`${ranBad.length} of ${ranBad.length} vans back on rel-1`);
    const view = await rolloutStatus(db, r.id, b.clock.now());
    expect(view.revert).toMatchObject({
      status: 'finished',
      previous_release: 'rel-1',
      targets: ranBad.length,
      landed: ranBad.length,
    });
    // A reverted rollout is not resumed.
    await expect(c.resume(r.id, 'ops-alice', 'try again')).rejects.toThrow(/was reverted to rel-1/);

    console.log(
      `[revert ${backend}] ${VANS} vans, ${Math.round(FAILING * VANS)} failing; crossed before tick ${crossedAtTick ?? revertAtTick + ' (during it)'}, revert at tick ${revertAtTick}; ` +
        `${waves.length} waves (${inWaves.size} vans, ${failedAtRevert} failed); ${ranBad.length} ran 1.5.0, all back on 1.4.0 in ${rounds.length} revert round(s); reason: ${revert.reason}`,
    );
  }, 300_000);

  it('no revert artifact yet: paused, the vans are in the attention report; the artifact uploaded, the revert proceeds; rollout revert by hand', async () => {
    const b = await bed(backend, false);
    const db = b.t.store.db;
    const c = new RolloutController({
      store: b.t.store,
      mender: b.mender,
      clock: b.clock,
      settings: { ...settings, revert: { window_hours: 24, soak_regressed_vans: false } },
    });
    const r = await c.create('rel-2', 'ops-alice', 'app 1.5.0');
    // Policy off: two waves go out, then ops revert by hand.
    const end = Date.now() + 120_000;
    while (
      (await R.loadWaves(db, r.id)).length < 2 ||
      (await c.plan(r.id)).some((s) => s.kind === 'wait' && s.reason.includes('deploying'))
    ) {
      if (Date.now() > end) throw new Error(`stuck: ${JSON.stringify(await c.plan(r.id))}`);
      await b.sync('incremental');
      await c.tick();
      if (!skipTime(b.clock, await c.plan(r.id))) await new Promise((res) => setTimeout(res, 100));
    }
    await expect(c.revert(r.id, 'ops-bob', 'customer reports', 'rel-9')).rejects.toThrow('no release rel-9');
    // Two reverts at once (ops on one replica, another op on a second): exactly one lands, the other is
    // a 409-class CONFLICT naming the revert, not a database error.
    const replica2 = new RolloutController({
      store: b.t.store,
      mender: b.mender,
      clock: b.clock,
      settings: { ...settings, revert: { window_hours: 24, soak_regressed_vans: false } },
    });
    const raced = await Promise.allSettled([
      c.revert(r.id, 'ops-bob', 'customer reports'),
      replica2.revert(r.id, 'ops-carol', 'customer reports'),
    ]);
    expect(raced.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = raced.find((x): x is PromiseRejectedResult => x.status === 'rejected')!;
    expect(lost.reason).toBeInstanceOf(VanError);
    expect((lost.reason as VanError).code).toBe('CONFLICT');
    expect((lost.reason as VanError).message).toMatch(/^rollout \S+ was reverted to rel-1 at /);
    await expect(c.revert(r.id, 'ops-bob', 'again')).rejects.toThrow(/already|was reverted/);
    await c.tick();
    const plan = await c.plan(r.id);
    expect(plan).toEqual([
      {
        kind: 'wait',
        reason:
          'revert of app 1.5.0 → 1.4.0: no revert artifact in Mender (build vancore-app-1.4.0-revert-1.5.0: vancore-ota artifact build … --version 1.4.0 --revert-of 1.5.0 --sign-key …, and upload it)',
      },
    ]);
    expect((await R.getRollout(db, r.id))!.status).toBe('paused');
    b.fleet.inventoryNow();
    await new Promise((res) => setTimeout(res, 300));
    await b.sync('full');
    const onBad = b.fleet
      .devices()
      .filter((d) => d.versions.app === '1.5.0')
      .map((d) => d.deviceId!);
    expect(onBad.length).toBeGreaterThan(0);
    const T = { failed_times: 99, deferred_days: 99, not_seen_days: 99, stuck_downloading_hours: 99 };
    const before = (await attentionReport(db, T, b.clock.now())).filter((a) => a.code === 'revert_not_landed');
    expect(before.map((a) => a.device_id).sort()).toEqual([...onBad].sort());
    expect(before[0]!.detail).toMatch(/no revert artifact vancore-app-1\.4\.0-revert-1\.5\.0 in Mender$/);

    // CI uploads it; the next sync finds it and the revert goes on by itself.
    expect((await b.mg.upload(built.get('app-1.4.0-revert-1.5.0')!)).status).toBe(201);
    const end2 = Date.now() + 120_000;
    for (;;) {
      b.fleet.inventoryNow();
      await b.sync('incremental');
      await c.tick();
      if ((await R.getRevert(db, r.id))!.status === 'finished') break;
      if (Date.now() > end2) throw new Error(`revert stuck: ${JSON.stringify(await c.plan(r.id))}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(
      b.fleet
        .devices()
        .filter((d) => onBad.includes(d.deviceId!))
        .every((d) => d.versions.app === '1.4.0'),
    ).toBe(true);
    const revertEvents = (await R.listEvents(db, r.id)).filter((e) => e.action === 'revert');
    expect(revertEvents).toHaveLength(1);
    expect(revertEvents[0]).toMatchObject({ reason: 'customer reports' });
    expect(['ops-bob', 'ops-carol']).toContain(revertEvents[0]!.actor);
  }, 300_000);

  it('soak regressions reported by the vans pause the wave that contains them (issue #20 item 2)', async () => {
    // One van in twenty reports its post-commit soak regressed (vancore.soak.state=regressed for the
    // artifact they committed); the others report it passed. No install fails.
    const b = await bed(backend, true, { script: { soakRegression: 0.05 }, reportSoak: true });
    const db = b.t.store.db;
    // With revert.soak_regressed_vans each regressed van also goes back to rel-1 on its own.
    const plain = RolloutSettings.parse({
      wave_percent: 10,
      wave_interval_hours: 6,
      revert: { soak_regressed_vans: true },
    });
    const c = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings: plain });
    const r = await c.create('rel-2', 'ops-alice', 'app 1.5.0');
    const end = Date.now() + 120_000;
    let held = 0;
    for (;;) {
      b.fleet.inventoryNow();
      await b.sync('incremental');
      await c.tick();
      if ((await R.getRollout(db, r.id))!.status !== 'active') break;
      if (Date.now() > end) throw new Error(`stuck: ${JSON.stringify(await c.plan(r.id))}`);
      const next = await c.plan(r.id);
      if (next.some((x) => x.kind === 'wait' && x.reason.includes('still soaking'))) held++;
      if (!skipTime(b.clock, next)) await new Promise((res) => setTimeout(res, 100));
    }
    const paused = (await R.getRollout(db, r.id))!;
    expect(paused.status).toBe('paused');
    expect(paused.pause_reason).toMatch(
      /^wave fleet-\d+: \d+ of \d+ finished updates failed \([\d.]+ %\), \d+ of them soak regressions: /,
    );
    const regressing = new Set(
      b.fleet
        .devices()
        .filter((d) => d.behaviour.soakRegression)
        .map((d) => d.deviceId!),
    );
    const waves = await R.loadWaves(db, r.id);
    const open = waves.filter((w) => w.closedAt === null);
    // The wave that paused is the open one, and it holds the regressed vans the reason counts; every wave
    // closed before it had none (they would have paused it).
    expect(open).toHaveLength(1);
    const inOpen = open[0]!.deviceIds.filter((id) => regressing.has(id));
    expect(inOpen.length).toBeGreaterThan(0);
    expect(paused.pause_reason).toContain(`${inOpen.length} of them soak regressions`);
    expect(paused.pause_reason).toContain(`wave ${open[0]!.label}:`);
    for (const w of waves.filter((x) => x.closedAt !== null))
      expect(w.deviceIds.filter((id) => regressing.has(id))).toEqual([]);
    // The vans' soak reached the bridge as they reported it, and the attention report lists the regressed.
    const rows = await db
      .selectFrom('vans')
      .select(['device_id', 'soak_state', 'soak_artifact', 'soak_reason'])
      .where('device_id', 'in', inOpen)
      .execute();
    expect(rows.every((x) => x.soak_state === 'regressed' && x.soak_artifact === 'vancore-app-1.5.0')).toBe(true);
    expect(rows[0]!.soak_reason).toBe('soak_container_restarts: 4 container restarts since the commit (app-web-1 4)');
    const attention = await attentionReport(
      db,
      { failed_times: 99, deferred_days: 99, not_seen_days: 99, stuck_downloading_hours: 99 },
      b.clock.now(),
    );
    expect(
      attention
        .filter((a) => a.code === 'soak_regressed')
        .map((a) => a.device_id)
        .sort(),
    ).toEqual(
      b.fleet
        .devices()
        .filter((d) => regressing.has(d.deviceId!) && d.committed.length > 0)
        .map((d) => d.deviceId!)
        .sort(),
    );
    // Each regressed van that took 1.5.0 gets its own revert (the rollout stays paused, no fleet revert).
    const tookBad = () =>
      b.fleet.devices().filter((d) => regressing.has(d.deviceId!) && d.committed.includes('vancore-app-1.5.0'));
    const end2 = Date.now() + 120_000;
    while (!tookBad().every((d) => d.versions.app === '1.4.0')) {
      if (Date.now() > end2) throw new Error(`soak reverts stuck: ${JSON.stringify(await c.plan(r.id))}`);
      b.fleet.inventoryNow();
      await b.sync('incremental');
      await c.tick();
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(tookBad().map((d) => d.committed.at(-1))).toEqual(tookBad().map(() => 'vancore-app-1.4.0-revert-1.5.0'));
    const perVan = await db
      .selectFrom('tracked_deployments')
      .select(['name', 'device_ids_json'])
      .where('owner_kind', '=', 'revert')
      .orderBy('name')
      .execute();
    expect(perVan.map((d) => d.name)).toEqual(
      tookBad()
        .map((d) => `vancore-revert ${r.id} van ${d.deviceId!} app`)
        .sort(),
    );
    expect(await R.getRevert(db, r.id)).toBeUndefined();
    expect((await R.getRollout(db, r.id))!.status).toBe('paused');
    console.log(
      `[soak ${backend}] ${VANS} vans, ${regressing.size} regress after commit; paused in ${open[0]!.label} after ${waves.length - 1} clean waves; ` +
        `${held} ticks held for soak reports; ${perVan.length} regressed vans reverted one by one; reason: ${paused.pause_reason}`,
    );
  }, 300_000);
});
