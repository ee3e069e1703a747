// Staged rollouts end to end: the simulator, a virtual fleet over real HTTP, the real sync and the
// controller on a ManualClock (time moves only for soaks and wave intervals, never under a deployment).
// Against both server lines the simulator answers as (4.1: v2 lists, meta-data as `metadata` + a
// top-level Key/Value list; 3.7: v1 lists, meta-data as a Key/Value list all the way down). The release's
// artifacts come from the real `artifact build` (mender-artifacts/build.ts, real mender-artifact 3.9).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RolloutController, type RolloutMender } from '../../../bridge/rollout/controller.js';
import type { RolloutControllerStep as RolloutStep } from '../../../bridge/rollout/controller.js';
import { resolveRelease } from '../../../bridge/rollout/release.js';
import { rolloutStatus } from '../../../bridge/rollout/status.js';
import * as R from '../../../bridge/rollout/store.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { RolloutSettings } from '../../../core/config/bridge-config.js';
import { ManualClock } from '../../../core/clock.js';
import { MenderApiError } from '../../../core/mender/errors.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { type VirtualFleet, startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { type MenderProfile, type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { MENDER_PROFILES } from '../../../mender-sim/profile.js';
import { Mgmt } from '../../../mender-sim/testkit.js';
import { buildArtifact as buildVanCoreArtifact } from '../../../mender-artifacts/build.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import { type CommandRunner, execaRunner } from '../../../mender-artifacts/runner.js';
import { type Backend, type TestStore, openTestStore } from '../../helpers/fleet-db.js';

const HOUR = 3_600_000;
let dir: string;
const artifacts: Buffer[] = [];
/**
 * `artifact build` has no flag for an artifact-level depends; the app artifact gets one the way
 * `mender-artifact write … -d key:value` writes it (a string value in artifact_depends), appended to the
 * real build's mender-artifact command line.
 */
const withStringDepends: CommandRunner = {
  run: (file, args, opts) =>
    execaRunner.run(file, args[0] === 'write' ? [...args, '--depends', 'vancore.hw:gen2'] : args, opts),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-rollout-it-'));
  for (const a of [
    { component: 'platform', version: '1.0.0', requires: [] as string[], runner: execaRunner },
    { component: 'app', version: '1.4.0', requires: ['platform=^1.0.0'], runner: withStringDepends },
  ]) {
    const bundle = join(dir, `${a.component}-bundle`);
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
      out,
    });
    const r = await buildVanCoreArtifact(options, {
      runner: a.runner,
      now: () => new Date(),
      defaultScriptsDir: dir,
      progress: silentProgress,
    });
    artifacts.push(await readFile(r.artifactPath));
  }
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const settings = RolloutSettings.parse({
  wave_percent: 10,
  wave_interval_hours: 6,
  soak_hours: { internal: 2, pilot: 3 },
  max_retries_per_van: 1,
});

interface Bed {
  sim: MenderSim;
  fleet: VirtualFleet;
  mender: MenderManagementClient;
  t: TestStore;
  clock: ManualClock;
  sync(kind?: 'full' | 'incremental'): Promise<void>;
}

async function bed(opts: {
  count: number;
  failure?: number;
  /** Share of vans whose gate says "not now" a few times first (nothing reported: Mender keeps them pending). */
  deferral?: number;
  backend?: Backend;
  profile: MenderProfile;
}): Promise<Bed> {
  const sim = await startMenderSim({ autoAccept: true, profile: opts.profile });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const a of artifacts) expect((await mg.upload(a)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: opts.count,
    seed: 'rollout-it',
    // The app artifact depends on `vancore.hw: gen2` (below): these vans are gen2 hubs.
    provides: { 'vancore.hw': 'gen2' },
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    script: {
      ...(opts.failure ? { failure: opts.failure } : {}),
      ...(opts.deferral ? { deferral: opts.deferral } : {}),
    },
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === opts.count, { timeoutMs: 60_000 });
  const t = await openTestStore(opts.backend ?? 'sqlite');
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
  return { sim, fleet, mender, t, clock, sync };
}

/** Stages: internal and pilot vans picked among the devices the script lets succeed. */
async function stage(b: Bed, internal: number, pilot: number): Promise<void> {
  const ok = b.fleet
    .devices()
    .filter((d) => d.behaviour.outcome === 'success')
    .map((d) => d.deviceId!);
  await R.setVanFlags(b.t.store.db, ok.slice(0, internal), { stage: 'internal' }, b.clock.now().toISOString());
  await R.setVanFlags(
    b.t.store.db,
    ok.slice(internal, internal + pilot),
    { stage: 'pilot' },
    b.clock.now().toISOString(),
  );
}

async function release(b: Bed): Promise<void> {
  const v = resolveRelease({ platform: '1.0.0', app: '1.4.0' }, await R.knownArtifacts(b.t.store.db));
  if (!v.ok) throw new Error(v.reason);
  await R.insertRelease(b.t.store.db, {
    name: 'rel-1',
    components: v.components,
    created_at: 'now',
    created_by: 'test',
  });
}

/** When the plan only waits on time (soak, next wave), jump the clock to that time; true when it did. */
function skipTime(clock: ManualClock, next: RolloutStep[]): boolean {
  const until = next.map((s) =>
    s.kind === 'wait' ? /(?:soaking until|due at) (\S+)$/.exec(s.reason)?.[1] : undefined,
  );
  if (until.length === 0 || until.some((u) => u === undefined)) return false;
  clock.set(until.map((u) => new Date(u!)).reduce((a, b) => (a < b ? a : b)));
  return true;
}

/**
 * Drive a rollout: sync and tick; when the plan only waits on time (soak, next wave), move the clock an
 * hour; while Mender deploys, let real time pass instead.
 */
async function drive(b: Bed, c: RolloutController, id: string, until: (s: R.RolloutRecord) => boolean, maxMs = 90_000) {
  const end = Date.now() + maxMs;
  for (;;) {
    await b.sync('incremental');
    await c.tick();
    const r = (await R.getRollout(b.t.store.db, id))!;
    if (until(r)) return r;
    if (Date.now() > end) throw new Error(`rollout stuck: ${JSON.stringify((await c.plan(id)).slice(0, 2))}`);
    const next = await c.plan(id);
    if (!skipTime(b.clock, next)) await new Promise((res) => setTimeout(res, 100));
  }
}

async function menderDeployments(mender: MenderManagementClient) {
  return mender.collect((page, perPage) => mender.listDeployments({ page, perPage }));
}

describe.each(MENDER_PROFILES)('staged rollout against the simulator (Mender %s) and a virtual fleet', (profile) => {
  it('a clean release walks internal → pilot → fleet waves, one deployment per (wave, component)', async () => {
    // A fifth of the vans defer a few polls first: never a failure, the rollout still completes.
    const b = await bed({ count: 60, profile, deferral: 0.2 });
    // The synced artifacts carry what the planner needs, whatever shape this server sends meta-data in;
    // the app's string depends value (`-d vancore.hw:gen2`) does not fail the artifact sync.
    const known = await b.t.store.db
      .selectFrom('artifacts')
      .select(['name', 'component', 'version', 'requires_json'])
      .orderBy('name')
      .execute();
    expect(known).toEqual([
      { name: 'vancore-app-1.4.0', component: 'app', version: '1.4.0', requires_json: '{"platform":"^1.0.0"}' },
      { name: 'vancore-platform-1.0.0', component: 'platform', version: '1.0.0', requires_json: '{}' },
    ]);
    const app = (await b.mender.findArtifactsByName('vancore-app-1.4.0'))[0]!;
    expect(app.artifact_depends?.['vancore.hw']).toEqual(['gen2']);
    await stage(b, 3, 6);
    await release(b);
    const c = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const r = await c.create('rel-1', 'ops-alice', 'weekly release');
    const done = await drive(b, c, r.id, (x) => x.status !== 'active');
    expect(done.status).toBe('completed');

    const view = await rolloutStatus(b.t.store.db, r.id, b.clock.now());
    // 51 fleet vans in waves of ceil(10 % × 51) = 6.
    expect(view.waves.map((w) => w.label)).toEqual([
      'internal',
      'pilot',
      ...Array.from({ length: 9 }, (_, i) => `fleet-${i + 1}`),
    ]);
    expect(view.waves.map((w) => w.vans)).toEqual([3, 6, 6, 6, 6, 6, 6, 6, 6, 6, 3]);
    expect(view.vans).toMatchObject({ eligible: 60, done: 60, failed: 0 });
    // Platform before app on every wave, and every van ends on both versions.
    for (const w of view.waves) expect(w.deployments.map((d) => d.component)).toEqual(['platform', 'app']);
    expect(b.fleet.devices().every((d) => d.versions.platform === '1.0.0' && d.versions.app === '1.4.0')).toBe(true);

    const inMender = await menderDeployments(b.mender);
    expect(inMender).toHaveLength(view.waves.length * 2);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
    // Soak: pilot opened no earlier than 2 h after internal's last success.
    const opened = view.waves.map((w) => Date.parse(w.opened_at));
    expect(opened[1]! - opened[0]!).toBeGreaterThanOrEqual(2 * HOUR);
    expect(opened[3]! - opened[2]!).toBeGreaterThanOrEqual(6 * HOUR);
    expect(view.events[0]).toMatchObject({ actor: 'ops-alice', action: 'create', reason: 'weekly release' });
    expect(view.events.at(-1)).toMatchObject({ actor: 'controller', action: 'complete' });
  }, 120_000);

  it('a component failing on 15 % of vans pauses the rollout in the first fleet wave with the reason', async () => {
    const b = await bed({ count: 300, failure: 0.15, profile });
    await stage(b, 3, 6);
    await release(b);
    const c = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const r = await c.create('rel-1', 'ops-alice', 'release with a bad platform');
    const paused = await drive(b, c, r.id, (x) => x.status !== 'active');
    expect(paused.status).toBe('paused');
    expect(paused.pause_reason).toMatch(
      /^wave fleet-1: \d+ of \d+ finished updates failed \(\d+\.\d %\): (over 10 %|at least 3 failures in one wave)$/,
    );
    // The reason counts exactly the wave's vans that the script makes fail.
    const failing = new Set(
      b.fleet
        .devices()
        .filter((d) => d.behaviour.outcome !== 'success')
        .map((d) => d.deviceId),
    );
    const w1 = (await R.loadWaves(b.t.store.db, r.id))[2]!;
    const failedInWave = (await R.loadDeployments(b.t.store.db, r.id))
      .filter((d) => d.wave === w1.wave)
      .flatMap((d) => Object.entries(d.outcomes).filter(([, o]) => o.status === 'failure'))
      .map(([id]) => id);
    expect(failedInWave.every((id) => failing.has(id))).toBe(true);
    expect(paused.pause_reason).toContain(`: ${failedInWave.length} of `);
    const view = await rolloutStatus(b.t.store.db, r.id, b.clock.now());
    expect(view.waves.map((w) => w.label)).toEqual(['internal', 'pilot', 'fleet-1']);
    expect(view.events.at(-1)).toMatchObject({ actor: 'controller', action: 'pause', reason: paused.pause_reason });
    // Paused means paused: time passes, nothing new is deployed.
    const before = (await menderDeployments(b.mender)).length;
    b.clock.advance(48 * HOUR);
    await c.tick();
    expect(await menderDeployments(b.mender)).toHaveLength(before);

    // Ops abort: audited, and every open Mender deployment of the rollout is aborted. How many are
    // still open depends on how far the wave's vans got before the gate fired (machine speed), so
    // the test checks the invariant: only open ones are aborted, and none stays open.
    const openBefore = new Set(
      (await menderDeployments(b.mender)).filter((d) => d.status !== 'finished').map((d) => d.id),
    );
    // One that Mender finishes behind the controller's back (here: aborted in Mender's UI) answers
    // 422 to the controller's abort; it is recorded as finished, not reported as aborted.
    const [finishedBehind] = [...openBefore];
    if (finishedBehind) {
      // The fleet keeps running: the deployment may finish on its own between the list and this abort
      // (Mender then answers 422, deployments' abort handler). Finished either way, which is the point.
      await b.mender.abortDeployment(finishedBehind).catch((e: unknown) => {
        if (!(e instanceof MenderApiError && e.status === 422)) throw e;
      });
      openBefore.delete(finishedBehind);
    }
    const { aborted } = await c.abort(r.id, 'ops-bob', 'platform 1.0.0 bricks the modem');
    for (const id of aborted) expect(openBefore.has(id)).toBe(true);
    if (finishedBehind) {
      expect(aborted).not.toContain(finishedBehind);
      const rec = (await R.loadDeployments(b.t.store.db, r.id)).find((d) => d.menderId === finishedBehind);
      expect(rec?.status).toBe('finished');
    }
    expect((await menderDeployments(b.mender)).filter((d) => d.status !== 'finished')).toEqual([]);
    const after = await rolloutStatus(b.t.store.db, r.id, b.clock.now());
    expect(after.status).toBe('aborted');
    expect(after.events.at(-1)).toMatchObject({
      actor: 'ops-bob',
      action: 'abort',
      reason: 'platform 1.0.0 bricks the modem',
    });
    for (const id of aborted) expect((await b.mender.getDeployment(id)).status).toBe('finished');
  }, 120_000);

  it('a crash between creating a Mender deployment and recording it leaves exactly one deployment per (wave, component)', async () => {
    const b = await bed({ count: 40, profile });
    await stage(b, 2, 4);
    await release(b);
    let crashed = false;
    // Mender creates the deployment, then the bridge "dies" before it records the id.
    const crashing: RolloutMender = {
      createDeployment: async (d) => {
        const id = await b.mender.createDeployment(d);
        if (!crashed && / w3 platform$/.test(d.name)) {
          crashed = true;
          throw new Error('killed');
        }
        return id;
      },
      listDeployments: (q) => b.mender.listDeployments(q),
      deploymentDevices: (id, q) => b.mender.deploymentDevices(id, q),
      abortDeployment: (id) => b.mender.abortDeployment(id),
      setTags: (id, tags) => b.mender.setTags(id, tags),
      collect: (f, n) => b.mender.collect(f, n),
    };
    const first = new RolloutController({ store: b.t.store, mender: crashing, clock: b.clock, settings });
    const r = await first.create('rel-1', 'ops-alice', 'crash test');
    await drive(b, first, r.id, () => crashed);
    const intent = await b.t.store.db
      .selectFrom('tracked_deployments')
      .selectAll()
      .where('mender_id', 'is', null)
      .execute();
    expect(intent.map((d) => [d.name, d.status])).toEqual([[`vancore rel-1 ${r.id} w3 platform`, 'intent']]);

    // A new process on the same database finds the deployment by its name instead of creating another.
    const second = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const done = await drive(b, second, r.id, (x) => x.status !== 'active');
    expect(done.status).toBe('completed');
    const inMender = await menderDeployments(b.mender);
    const ours = await b.t.store.db.selectFrom('tracked_deployments').select(['name', 'mender_id']).execute();
    expect(inMender).toHaveLength(ours.length);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
    expect(new Set(ours.map((d) => d.mender_id))).toEqual(new Set(inMender.map((d) => d.id)));
  }, 120_000);
});

// The two longest cases run once each, one per server line, to keep the suite's time sane.
describe('staged rollout: one server line each', () => {
  it('two controllers on one PostgreSQL never both deploy (advisory lock) — Mender 3.7', async () => {
    const b = await bed({ count: 30, backend: 'postgres', profile: '3.7' });
    await stage(b, 2, 4);
    await release(b);
    const { openFleetDb } = await import('../../../bridge/store/db.js');
    const { FleetStore } = await import('../../../bridge/store/fleet-store.js');
    const other = new FleetStore(await openFleetDb(b.t.url, { pgSchema: b.t.pgSchema!, poolSize: 2 }));
    cleanup.push(() => other.close());
    const one = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const two = new RolloutController({ store: other, mender: b.mender, clock: b.clock, settings });
    const r = await one.create('rel-1', 'ops-alice', 'two replicas');
    let skipped = 0;
    const end = Date.now() + 90_000;
    for (;;) {
      await b.sync('incremental');
      const [x, y] = await Promise.all([one.tick(), two.tick()]);
      if (!x.ran || !y.ran) skipped++;
      const cur = (await R.getRollout(b.t.store.db, r.id))!;
      if (cur.status !== 'active' || Date.now() > end) break;
      const next = await one.plan(r.id);
      if (!skipTime(b.clock, next)) await new Promise((res) => setTimeout(res, 100));
      else continue;
    }
    expect((await R.getRollout(b.t.store.db, r.id))!.status).toBe('completed');
    expect(skipped).toBeGreaterThan(0);
    const inMender = await menderDeployments(b.mender);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
    const ours = await b.t.store.db.selectFrom('tracked_deployments').select('name').execute();
    expect(inMender).toHaveLength(ours.length);
  }, 120_000);

  it('1,000 vans: a clean release walks through every stage and wave — Mender 4.1', async () => {
    const b = await bed({ count: 1000, profile: '4.1' });
    await stage(b, 10, 40);
    await release(b);
    const c = new RolloutController({ store: b.t.store, mender: b.mender, clock: b.clock, settings });
    const r = await c.create('rel-1', 'ops-alice', 'the whole fleet');
    const done = await drive(b, c, r.id, (x) => x.status !== 'active', 240_000);
    expect(done.status).toBe('completed');
    const view = await rolloutStatus(b.t.store.db, r.id, b.clock.now());
    // 950 fleet vans in waves of ceil(10 % × 950) = 95.
    expect(view.waves.map((w) => w.vans)).toEqual([10, 40, ...Array<number>(10).fill(95)]);
    expect(view.vans).toMatchObject({ eligible: 1000, done: 1000, failed: 0 });
    const inMender = await menderDeployments(b.mender);
    expect(inMender).toHaveLength(24);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(24);
  }, 300_000);
});
