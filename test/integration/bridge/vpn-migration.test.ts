// The VPN migration end to end: the simulator, a 200-van virtual fleet over real HTTP that runs each
// vancore-vpn step like the module (step order refused out of order, scripted probe failures, deadman
// reverts), artifacts from the real `artifact build --type vpn`, the real sync and the migration
// controller on a ManualClock (time moves only when the plan waits on time and the fleet has settled).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VpnMigrationController, type VpnMigrationMender } from '../../../bridge/vpn/controller.js';
import { type MigrationStep, attemptsByDevice } from '../../../bridge/vpn/planner.js';
import { type MigrationView, migrationStatus } from '../../../bridge/vpn/status.js';
import * as V from '../../../bridge/vpn/store.js';
import { attentionReport } from '../../../bridge/store/reports.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { VpnMigrationSettings } from '../../../core/config/bridge-config.js';
import { ManualClock } from '../../../core/clock.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { buildArtifact as buildVanCoreArtifact } from '../../../mender-artifacts/build.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import { execaRunner } from '../../../mender-artifacts/runner.js';
import { type VirtualFleet, startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt } from '../../../mender-sim/testkit.js';
import { type Backend, backends, openTestStore } from '../../helpers/fleet-db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEPS: MigrationStep[] = ['add', 'verify', 'cutover', 'retire'];
const VERSIONS: Record<MigrationStep, string> = { add: '1.0.0', verify: '1.1.0', cutover: '1.2.0', retire: '1.3.0' };
const artifactName = (s: MigrationStep) => `vancore-vpn-${VERSIONS[s]}`;
const LIMIT = 80;

let dir: string;
const files: Buffer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-vpn-mig-'));
  await writeFile(join(dir, 'authkey'), 'hskey-SECRET-0123456789\n', { mode: 0o600 });
  for (const step of STEPS) {
    const out = await mkdtemp(join(dir, `${step}-`));
    const options = parseBuildOptions({
      type: 'vpn',
      component: 'vpn',
      version: VERSIONS[step],
      'device-type': ['vanpc'],
      'vpn-step': step,
      'login-server': 'https://headscale.example.com',
      ...(step === 'add' ? { 'authkey-file': join(dir, 'authkey') } : {}),
      'no-gate-scripts': true,
      out,
    });
    const r = await buildVanCoreArtifact(options, {
      runner: execaRunner,
      now: () => new Date(),
      defaultScriptsDir: dir,
      progress: silentProgress,
    });
    files.push(await readFile(r.artifactPath));
  }
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const settings = VpnMigrationSettings.parse({
  daily_batch_limit: LIMIT,
  retire_soak_hours: 24,
  max_retries_per_van: 1,
});

/**
 * Both Mender server lines without doubling the run: SQLite against the 3.7 profile, PostgreSQL against
 * 4.1 (mender-sim/profile.ts); sync.test.ts, waiting.test.ts and rollout.test.ts run the full matrix.
 */
const PROFILE_OF = { sqlite: '3.7', postgres: '4.1' } as const;

async function bed(backend: Backend, count: number) {
  const sim: MenderSim = await startMenderSim({ autoAccept: true, profile: PROFILE_OF[backend] });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const f of files) expect((await mg.upload(f)).status).toBe(201);
  const fleet: VirtualFleet = await startVirtualFleet({
    serverUrl: sim.url,
    count,
    seed: 'vpn-migration',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    vpn: { state: 'tailscale', step: 'none' },
    // 2 vans go offline after their first poll; 4 fail verify's probes every time; 3 commit cut-over and
    // then the deadman reverts it.
    script: {
      offline: 0.01,
      vpnFailure: { share: 0.02, step: 'verify' },
      vpnRevert: { share: 0.015, step: 'cutover' },
    },
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === count, { timeoutMs: 60_000 });
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
  const sync = async () => void (await runSync({ mender, store: t.store, now: () => clock.now() }, 'full'));
  await sync();
  return { sim, fleet, mender, t, store: t.store, clock, sync };
}
type Bed = Awaited<ReturnType<typeof bed>>;

/** Every van's inventory VPN state has reached the bridge and nothing is deploying (but to offline vans). */
async function settled(b: Bed, id: string): Promise<boolean> {
  const offline = new Set(
    b.fleet
      .devices()
      .filter((d) => d.activity === 'offline')
      .map((d) => d.deviceId),
  );
  for (const [dev, list] of attemptsByDevice(await V.loadDeployments(b.store.db, id)))
    if (!offline.has(dev) && list.some((a) => a.status === undefined)) return false;
  const rows = await b.store.db.selectFrom('vans').select(['device_id', 'vpn_state', 'vpn_step']).execute();
  const stored = new Map(rows.map((r) => [r.device_id, `${r.vpn_state}/${r.vpn_step}`]));
  return b.fleet.devices().every((d) => stored.get(d.deviceId!) === `${d.vpn.state}/${d.vpn.step}`);
}

/**
 * Sync and tick until `done(view)`; when the plan only waits and the fleet has settled (its inventory
 * reached the bridge, nothing deploying but to offline vans), jump the clock to the time the plan waits
 * for — or, when only offline vans are left deploying, past stuck_hours — else let real time pass.
 */
async function drive(
  b: Bed,
  c: VpnMigrationController,
  id: string,
  done: (v: MigrationView) => boolean | Promise<boolean>,
) {
  const end = Date.now() + 150_000;
  for (;;) {
    await b.sync();
    await c.tick();
    const view = await migrationStatus(b.store.db, id, b.clock.now());
    if (await done(view)) return view;
    if (Date.now() > end)
      throw new Error(`migration stuck: ${JSON.stringify(view.next)} ${JSON.stringify(view.totals)}`);
    const until = view.next.find((n) => n.kind === 'wait' && n.until)?.until;
    const idle = view.next.every((n) => n.kind === 'wait') && (await settled(b, id));
    if (idle && until) b.clock.set(until);
    else if (idle && view.totals.in_flight > view.totals.stuck) b.clock.advance(settings.stuck_hours * HOUR);
    else await new Promise((res) => setTimeout(res, 100));
  }
}

/** Nothing left to do but what needs a human; vans still deploying are stuck (offline). */
const terminal = (v: MigrationView) =>
  v.totals.ready + v.totals.soaking === 0 && v.totals.in_flight + v.totals.awaiting_inventory === v.totals.stuck;

describe.each(backends)('VPN migration with a 200-van virtual fleet (%s)', (backend) => {
  it('migrates in daily batches; failing vans end listed; hold, rollback and a restart behave', async () => {
    const b = await bed(backend, 200);
    const artifacts = Object.fromEntries(STEPS.map((s) => [s, artifactName(s)])) as Record<MigrationStep, string>;
    let crashed = false;
    // The first controller "dies" right after Mender created batch 3's first deployment, before recording it.
    const crashing: VpnMigrationMender = {
      createDeployment: async (d) => {
        const id = await b.mender.createDeployment(d);
        if (!crashed && / b3 /.test(d.name)) {
          crashed = true;
          throw new Error('killed');
        }
        return id;
      },
      listDeployments: (q) => b.mender.listDeployments(q),
      deploymentDevices: (id, q) => b.mender.deploymentDevices(id, q),
      collect: (f, n) => b.mender.collect(f, n),
    };
    const first = new VpnMigrationController({ store: b.store, mender: crashing, clock: b.clock, settings });
    const m = await first.create(artifacts, {}, 'ops-alice', 'move support access to Headscale');
    const db = b.store.db;

    // Batch 1: every van starts at tailscale/none, so 80 vans get `add` on day one.
    const day1 = await drive(b, first, m.id, async (v) => v.batches.length === 1 && (await settled(b, m.id)));
    expect(day1.batches[0]!.deployments.map((d) => [d.step, d.targets])).toEqual([['add', LIMIT]]);
    const behaviour = new Map(b.fleet.devices().map((d) => [d.deviceId!, d]));
    const heldDevice = (await V.loadDeployments(db, m.id))[0]!.deviceIds.find(
      (id) => !behaviour.get(id)!.behaviour.vpn && !behaviour.get(id)!.behaviour.offline,
    )!;
    const held = behaviour.get(heldDevice)!.vanId;
    await first.hold(m.id, held, 'ops-bob', 'customer on a trip abroad');
    const heldAt = b.clock.now().toISOString();

    await drive(b, first, m.id, () => crashed);
    const intents = await db
      .selectFrom('tracked_deployments')
      .select(['name', 'status'])
      .where('mender_id', 'is', null)
      .execute();
    expect(intents).toHaveLength(1);
    expect(intents[0]!.status).toBe('intent');

    // A new process on the same database finds the deployment by name instead of creating another.
    const c = new VpnMigrationController({ store: b.store, mender: b.mender, clock: b.clock, settings });
    let view = await drive(b, c, m.id, terminal);

    const failing = b.fleet.devices().filter((d) => d.behaviour.vpn?.failStep === 'verify');
    const reverting = b.fleet.devices().filter((d) => d.behaviour.vpn?.revertStep === 'cutover');
    expect([failing.length, reverting.length]).toEqual([4, 3]);
    // Verify failed twice (one retry) on each failing van: the client rolled back, the van stays at add.
    for (const d of failing) expect(d.vpn).toEqual({ state: 'dual', step: 'add' });
    for (const d of reverting) expect(d.vpn).toEqual({ state: 'reverted', step: 'verify' });
    const attention = new Map(view.attention.map((a) => [a.van_id, a]));
    for (const d of failing) {
      expect(attention.get(d.vanId)).toMatchObject({ code: 'step_failed' });
      expect(attention.get(d.vanId)!.detail).toMatch(/^verify failed 2 times/);
    }
    for (const d of reverting) expect(attention.get(d.vanId)).toMatchObject({ code: 'reverted' });
    expect(view.reverted.map((r) => r.van_id).sort()).toEqual(reverting.map((d) => d.vanId).sort());
    expect(view.attention).toHaveLength(7);
    expect(view.held.map((h) => h.van_id)).toEqual([held]);
    // Everyone else retired SaaS; the held van stayed at add and got nothing after the hold.
    const offline = b.fleet.devices().filter((d) => d.behaviour.offline);
    expect(offline).toHaveLength(2);
    // Offline vans keep their deployment in progress: listed as stuck, never redeployed.
    for (const d of offline) expect(d.vpn).toEqual({ state: 'tailscale', step: 'none' });
    expect(view.stuck.map((x) => x.van_id).sort()).toEqual(offline.map((d) => d.vanId).sort());
    for (const x of view.stuck) expect(x.detail).toMatch(/^add deployed since \S+, not finished$/);
    const others = b.fleet.devices().filter((d) => !d.behaviour.vpn && !d.behaviour.offline && d.vanId !== held);
    expect(others).toHaveLength(190);
    for (const d of others) expect(d.vpn).toEqual({ state: 'retired', step: 'retire' });
    expect(b.fleet.devices().find((d) => d.vanId === held)!.vpn).toEqual({ state: 'dual', step: 'add' });
    const deps = await V.loadDeployments(db, m.id);
    expect(deps.filter((d) => d.createdAt > heldAt && d.deviceIds.includes(heldDevice))).toEqual([]);

    // Next step only after the previous one was verified: no van ever refused a step as out of order,
    // and the only failures are the scripted verify failures.
    const failures = deps.flatMap((d) =>
      Object.entries(d.outcomes)
        .filter(([, o]) => o.status === 'failure')
        .map(([id]) => `${d.step}:${behaviour.get(id)!.vanId}`),
    );
    expect(failures.sort()).toEqual(failing.flatMap((d) => [`verify:${d.vanId}`, `verify:${d.vanId}`]).sort());

    // Batches under the daily limit: per UTC day and in every rolling 24 h.
    for (const d of view.starts_per_day) expect(d.vans).toBeLessThanOrEqual(LIMIT);
    const forward = deps.filter((d) => d.purpose === 'forward');
    for (const d of forward) {
      const t = Date.parse(d.createdAt);
      const inWindow = forward
        .filter((x) => Date.parse(x.createdAt) > t - DAY && Date.parse(x.createdAt) <= t)
        .reduce((n, x) => n + x.deviceIds.length, 0);
      expect(inWindow).toBeLessThanOrEqual(LIMIT);
    }
    expect(view.starts_per_day.length).toBeGreaterThanOrEqual(10);
    // Retire only after the cut-over held for retire_soak_hours (the device's deadman watch).
    for (const d of forward.filter((x) => x.step === 'retire'))
      for (const id of d.deviceIds) {
        const cut = forward
          .filter((x) => x.step === 'cutover' && x.outcomes[id]?.status === 'success')
          .map((x) => Date.parse(x.outcomes[id]!.finishedAt!));
        expect(Date.parse(d.createdAt) - Math.max(...cut)).toBeGreaterThanOrEqual(DAY);
      }
    // One deployment per (batch, step) to an explicit list; the restart duplicated nothing.
    const inMender = await b.mender.collect((page, perPage) => b.mender.listDeployments({ page, perPage }));
    expect(inMender).toHaveLength(deps.length);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
    expect(new Set(deps.map((d) => d.menderId))).toEqual(new Set(inMender.map((d) => d.id)));
    const keys = deps.map((d) => `${d.batch}/${d.step}/${d.purpose}`);
    expect(new Set(keys).size).toBe(keys.length);

    // Ops roll back the held van (at add): vancore-vpn has no backward step, so it is listed for manual work.
    const manual = await c.rollback(m.id, held, 'ops-bob', 'customer wants SaaS only');
    expect(manual.kind).toBe('manual');
    view = await migrationStatus(db, m.id, b.clock.now());
    expect(view.attention.find((a) => a.van_id === held)).toMatchObject({ code: 'manual_rollback' });
    // Support's fleet-wide attention report lists them too: the deadman reverts (from the vans' own
    // inventory) and the rollback that needs hands on the van.
    const fleetWide = await attentionReport(
      db,
      { failed_times: 2, deferred_days: 3, not_seen_days: 365, stuck_downloading_hours: 24 * 365 },
      b.clock.now(),
    );
    expect(
      fleetWide
        .filter((a) => a.code === 'vpn_reverted')
        .map((a) => a.van_id)
        .sort(),
    ).toEqual(reverting.map((d) => d.vanId).sort());
    expect(fleetWide.filter((a) => a.code === 'vpn_manual_rollback').map((a) => [a.van_id, a.detail])).toEqual([
      [
        held,
        expect.stringMatching(
          /^VPN migration \S+: the rollback needs hands on the van: vancore-vpn has no step that removes a committed add/,
        ),
      ],
    ]);
    // The vans whose verify failed twice show up as failed_repeatedly, like any update.
    for (const d of failing)
      expect(fleetWide.find((a) => a.van_id === d.vanId && a.code === 'failed_repeatedly')).toBeDefined();
    // A reverted van: the step it went back to is deployed again, which the module accepts.
    const r = reverting[0]!;
    expect(await c.rollback(m.id, r.vanId, 'ops-bob', 'keep it on dual until the LTE firmware is fixed')).toMatchObject(
      { kind: 'redeploy' },
    );
    // Released, the held van continues from add to retired.
    await c.release(m.id, held, 'ops-bob', 'back from the trip');
    view = await drive(b, c, m.id, (v) => terminal(v) && v.rolled_back.some((x) => x.van_id === r.vanId));
    expect(b.fleet.devices().find((d) => d.vanId === r.vanId)!.vpn).toEqual({ state: 'dual', step: 'verify' });
    expect(b.fleet.devices().find((d) => d.vanId === held)!.vpn).toEqual({ state: 'retired', step: 'retire' });
    const rb = (await V.loadDeployments(db, m.id)).filter((d) => d.purpose === 'rollback');
    expect(rb.map((d) => [d.step, d.deviceIds])).toEqual([['verify', [r.deviceId!]]]);
    expect(view.totals).toMatchObject({ vans: 200, done: 191, rolled_back: 1, attention: 6, held: 0, stuck: 2 });
    expect(view.per_step.find((s) => s.step === 'retire')).toEqual({
      step: 'retire',
      vans: 191,
      states: { retired: 191 },
    });
    const actions = view.events.map((e) => `${e.actor}:${e.action}`);
    expect(actions).toContain('ops-alice:create');
    expect(actions).toContain('ops-bob:hold');
    expect(actions.filter((a) => a === 'ops-bob:rollback')).toHaveLength(2);
    expect(actions).toContain('controller:deploy_rollback');
  }, 400_000);
});

describe('VPN migration on one PostgreSQL with two controllers', () => {
  it('never deploys twice (advisory lock), and finishes the fleet', async () => {
    const b = await bed('postgres', 30);
    const { openFleetDb } = await import('../../../bridge/store/db.js');
    const { FleetStore } = await import('../../../bridge/store/fleet-store.js');
    const db = b.store.db;
    const other = new FleetStore(await openFleetDb(b.t.url, { pgSchema: b.t.pgSchema!, poolSize: 2 }));
    cleanup.push(() => other.close());
    const s = VpnMigrationSettings.parse({ daily_batch_limit: 12, retire_soak_hours: 1 });
    const one = new VpnMigrationController({ store: b.store, mender: b.mender, clock: b.clock, settings: s });
    const two = new VpnMigrationController({ store: other, mender: b.mender, clock: b.clock, settings: s });
    const artifacts = Object.fromEntries(STEPS.map((x) => [x, artifactName(x)])) as Record<MigrationStep, string>;
    const m = await one.create(artifacts, {}, 'ops-alice', 'two replicas');
    let skipped = 0;
    const end = Date.now() + 150_000;
    let view: MigrationView;
    for (;;) {
      await b.sync();
      const [x, y] = await Promise.all([one.tick(), two.tick()]);
      if (!x.ran || !y.ran) skipped++;
      view = await migrationStatus(db, m.id, b.clock.now());
      if (terminal(view) || Date.now() > end) break;
      const until = view.next.find((n) => n.kind === 'wait' && n.until)?.until;
      if (until && (await settled(b, m.id))) b.clock.set(until);
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(skipped).toBeGreaterThan(0);
    // 30 vans: 1 fails verify (0.02 × 30 rounds to 1), none reverts (0.015 × 30 rounds to 0).
    expect(view.totals).toMatchObject({ vans: 30, done: 29, attention: 1 });
    const inMender = await b.mender.collect((page, perPage) => b.mender.listDeployments({ page, perPage }));
    const ours = await db.selectFrom('tracked_deployments').select('name').execute();
    expect(inMender).toHaveLength(ours.length);
    expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
  }, 200_000);
});
