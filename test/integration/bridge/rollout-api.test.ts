// The releases, van-stage and rollout routes over Fastify inject, with the simulator behind them (stage
// tags and groups are real Mender calls), on SQLite and PostgreSQL.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BridgeApp, buildBridgeApp } from '../../../bridge/api/app.js';
import type { RolloutBody } from '../../../bridge/api/rollouts.js';
import { RolloutController } from '../../../bridge/rollout/controller.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { runCommand } from '../../../cli/command.js';
import type { Io } from '../../../core/command.js';
import { revertPolicyOf, rolloutCommand } from '../../../bridge/cli.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../../mender-sim/testkit.js';
import { backends, openTestStore } from '../../helpers/fleet-db.js';

const OPS = 'ops-token-0123456789';
const SUPPORT = 'support-token-0123456789';

let dir: string;
const files: Buffer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-rollout-api-'));
  for (const a of [
    { component: 'platform', version: '1.0.0', requires: {} },
    { component: 'app', version: '1.4.0', requires: { platform: '^1.0.0' } },
  ])
    files.push(
      await readFile(
        await buildArtifact(dir, {
          name: `vancore-${a.component}-${a.version}`,
          provides: { [`vancore.${a.component}.version`]: a.version },
          metaData: { vancore: { component: a.component, version: a.version, requires: a.requires } },
        }),
      ),
    );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/**
 * Both Mender server lines without doubling the run: SQLite against the 3.7 profile, PostgreSQL against
 * 4.1 (mender-sim/profile.ts); sync.test.ts, waiting.test.ts and rollout.test.ts run the full matrix.
 */
const PROFILE_OF = { sqlite: '3.7', postgres: '4.1' } as const;

async function setup(backend: (typeof backends)[number]) {
  const sim = await startMenderSim({ autoAccept: true, profile: PROFILE_OF[backend] });
  cleanup.push(() => sim.close());
  const token = await sim.managementToken();
  const mg = new Mgmt(sim.url, token);
  for (const f of files) expect((await mg.upload(f)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: 12,
    seed: 'rollout-api',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    stages: { pilot: 0.25 },
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === 12);
  await fleet.applyStages(token);
  const t = await openTestStore(backend);
  cleanup.push(() => t.dispose());
  const mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    timeoutMs: 5000,
  });
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  await runSync({ mender, store: t.store, now: () => clock.now() }, 'full');
  const config = BridgeConfig.parse({
    auth: {
      tokens: [
        { name: 'ops-alice', role: 'ops', token: OPS },
        { name: 'desk', role: 'support', token: SUPPORT },
      ],
    },
    http: { rate_limit_per_minute: 0 },
  });
  const controller = new RolloutController({ store: t.store, mender, clock, settings: config.rollout });
  const app: BridgeApp = await buildBridgeApp({
    store: t.store,
    sync: {
      running: false,
      metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] },
      syncNow: () => Promise.reject(new Error('no')),
    },
    menderReady: () => Promise.resolve(),
    config,
    clock,
    artifacts: {
      downloadLink: (id) => Promise.resolve(`https://mender.example/artifacts/${id}/download`),
      sha256: () => Promise.resolve('ab'.repeat(32)),
    },
    rollouts: { store: t.store, controller, mender, clock },
  });
  cleanup.push(() => app.close());
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, tok = OPS) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tok}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
  return { sim, fleet, mender, t, app, call, clock };
}

describe.each(backends)('rollout API on %s', (backend) => {
  it('releases: accepted in dependency order, rejected with the reason, immutable, ops only', async () => {
    const { call } = await setup(backend);
    const ok = await call('POST', '/api/v1/releases', {
      name: 'rel-1',
      components: { app: '1.4.0', platform: '1.0.0' },
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json<{ components: { component: string }[] }>().components.map((c) => c.component)).toEqual([
      'platform',
      'app',
    ]);
    expect((await call('GET', '/api/v1/releases', undefined, SUPPORT)).json()).toHaveLength(1);

    const cases: [unknown, number, RegExp][] = [
      [
        { name: 'rel-2', components: { app: '1.4.0' } },
        400,
        /requires platform \^1\.0\.0, which the release does not include/,
      ],
      [{ name: 'rel-3', components: { platform: '2.0.0' } }, 400, /platform 2\.0\.0: no such artifact/],
      [{ name: 'rel-1', components: { platform: '1.0.0' } }, 409, /exists/],
      [{ name: 'bad name!', components: { platform: '1.0.0' } }, 400, /name/],
    ];
    for (const [body, status, msg] of cases) {
      const res = await call('POST', '/api/v1/releases', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json<{ error: string }>().error).toMatch(msg);
    }
    expect(
      (await call('POST', '/api/v1/releases', { name: 'x', components: { platform: '1.0.0' } }, SUPPORT)).statusCode,
    ).toBe(403);
  }, 60_000);

  it("a van's stage and hold, one by one and in bulk from a Mender group, mirrored as the stage tag", async () => {
    const { call, fleet, mender, t } = await setup(backend);
    const dev = fleet.devices()[0]!;
    const res = await call('PATCH', `/api/v1/vans/${dev.vanId}`, { stage: 'internal', hold: true, reason: 'lab van' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ van_id: dev.vanId, stage: 'internal', hold: true, excluded: false });
    const inv = await mender.getInventoryDevice(dev.deviceId!);
    expect(inv.attributes?.find((a) => a.scope === 'tags' && a.name === 'vancore_stage')?.value).toBe('internal');
    expect((await call('PATCH', '/api/v1/vans/van-99999', { hold: true })).statusCode).toBe(404);
    expect((await call('PATCH', `/api/v1/vans/${dev.vanId}`, {})).statusCode).toBe(400);
    // A van the controller excluded after repeated failures is on the attention list until ops re-admit it.
    await t.store.db.updateTable('vans').set({ excluded: 1 }).where('device_id', '=', dev.deviceId!).execute();
    const excludedCodes = async () =>
      (await call('GET', '/api/v1/reports/attention?code=excluded_from_rollouts'))
        .json<{ van_id: string }[]>()
        .map((a) => a.van_id);
    expect(await excludedCodes()).toEqual([dev.vanId]);
    const readmit = await call('PATCH', `/api/v1/vans/${dev.vanId}`, { excluded: false, reason: 'modem replaced' });
    expect(readmit.json()).toMatchObject({ van_id: dev.vanId, excluded: false });
    expect(await excludedCodes()).toEqual([]);

    const pilots = fleet
      .devices()
      .filter((d) => d.stage === 'pilot')
      .map((d) => d.deviceId!);
    expect(pilots.length).toBe(3);
    const bulk = await call('PATCH', '/api/v1/vans', { group: 'pilot', stage: 'pilot' });
    expect(bulk.statusCode).toBe(200);
    expect(bulk.json<{ updated: number }>().updated).toBe(3);
    const rows = await t.store.db.selectFrom('vans').select('device_id').where('stage', '=', 'pilot').execute();
    expect(rows.map((r) => r.device_id).sort()).toEqual([...pilots].sort());
    expect(
      (await call('PATCH', '/api/v1/vans', { group: 'pilot', tag: { name: 'a', value: 'b' }, hold: true })).statusCode,
    ).toBe(400);
  }, 60_000);

  it('rollouts: create, status, pause/resume/advance/abort with who and why, SSE events', async () => {
    const { call, app, t } = await setup(backend);
    const vanIds = await t.store.db.selectFrom('vans').select(['van_id', 'device_id']).execute();
    type Plan = { update_required: boolean; target: { release: string; components: object } | null };
    const plan = async (vanId: string) =>
      (await call('GET', `/api/v1/vans/${vanId}/plan`, undefined, SUPPORT)).json<Plan>();
    // Before any rollout, a van's plan is the newest compatible set.
    expect(await plan(vanIds[0]!.van_id)).toMatchObject({
      update_required: true,
      target: { components: { platform: '1.0.0', app: '1.4.0' } },
    });
    expect(
      (await call('POST', '/api/v1/releases', { name: 'rel-1', components: { platform: '1.0.0' } })).statusCode,
    ).toBe(201);
    expect((await call('POST', '/api/v1/rollouts', { release: 'nope' })).statusCode).toBe(404);
    const created = await call('POST', '/api/v1/rollouts', { release: 'rel-1', reason: 'go' });
    expect(created.statusCode).toBe(201);
    const r = created.json<RolloutBody>();
    // No internal or pilot vans were marked: the first fleet wave opens at once with its deployment.
    expect(r.waves).toEqual([expect.objectContaining({ label: 'fleet-1', vans: 1 })]);
    expect(r.waves[0]!.deployments[0]).toMatchObject({ component: 'platform', status: 'open', targets: 1 });
    expect((await call('POST', '/api/v1/rollouts', { release: 'rel-1' })).statusCode).toBe(409);
    // The plan follows the rollout: the wave's van is told to install the release (platform only, not
    // the newer app no release carries); a van no wave has reached yet is told to wait.
    const waves = await t.store.db.selectFrom('rollout_waves').select('device_ids_json').execute();
    const inWave = new Set(waves.flatMap((w) => JSON.parse(w.device_ids_json) as string[]));
    const reached = vanIds.find((v) => inWave.has(v.device_id))!;
    const notYet = vanIds.find((v) => !inWave.has(v.device_id))!;
    expect(await plan(reached.van_id)).toMatchObject({
      update_required: true,
      target: { release: 'rel-1', components: { platform: '1.0.0' } },
      artifacts: [{ name: 'vancore-platform-1.0.0' }],
    });
    expect(await plan(notYet.van_id)).toMatchObject({ update_required: false, target: null, artifacts: [] });

    const act = (a: string, reason?: string, tok = OPS) =>
      call('POST', `/api/v1/rollouts/${r.id}/${a}`, reason === undefined ? {} : { reason }, tok);
    expect((await act('pause')).statusCode).toBe(400);
    expect((await act('pause', 'x', SUPPORT)).statusCode).toBe(403);
    expect((await act('pause', 'customer event this weekend')).json<RolloutBody>()).toMatchObject({ status: 'paused' });
    expect((await act('pause', 'again')).statusCode).toBe(409);
    expect((await act('resume', 'event over')).json<RolloutBody>().status).toBe('active');
    expect((await act('advance', 'skip the soak')).json<RolloutBody>().waves[0]!.closed_at).not.toBeNull();
    const aborted = (await act('abort', 'wrong build')).json<RolloutBody>();
    expect(aborted.status).toBe('aborted');
    // An aborted rollout's release is nobody's target any more.
    expect(await plan(reached.van_id)).toMatchObject({ update_required: false, target: null });
    expect(aborted.events.map((e) => [e.actor, e.action, e.reason])).toEqual([
      ['ops-alice', 'create', 'go'],
      ['controller', 'open_wave', 'fleet-1: 1 vans'],
      ['controller', 'deploy', 'platform → 1 vans'],
      ['ops-alice', 'pause', 'customer event this weekend'],
      ['ops-alice', 'resume', 'event over'],
      ['ops-alice', 'advance', 'skip the soak'],
      ['ops-alice', 'abort', 'wrong build'],
    ]);
    const got = await call('GET', `/api/v1/rollouts/${r.id}`, undefined, SUPPORT);
    expect(got.json<RolloutBody>().status).toBe('aborted');

    const sse = await call('GET', `/api/v1/rollouts/${r.id}/events`, undefined, SUPPORT);
    expect(sse.headers['content-type']).toBe('text/event-stream');
    const frames = sse.body.split('\n\n').filter(Boolean);
    expect(frames).toHaveLength(7);
    expect(frames[0]).toMatch(/^id: \d+\nevent: create\ndata: \{.*"actor":"ops-alice"/);

    // The CLI against the same app over HTTP.
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const cli = async (...argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (s: string) => ((stdout += s), true) },
        stderr: { write: (s: string) => ((stderr += s), true) },
        env: { VANCORE_BRIDGE_TOKEN: OPS },
        isTTY: false,
      } as unknown as Io;
      const code = await runCommand(rolloutCommand, [...argv, '--bridge', url], io, new AbortController().signal);
      return { code, stdout, stderr };
    };
    const status = await cli('status', r.id);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`^Rollout ${r.id}  release rel-1  ABORTED — aborted by ops-alice: wrong build`),
    );
    expect(status.stdout).toMatch(/fleet-1 .* platform: /);
    const refused = await cli('pause', r.id, '--reason', 'too late');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409 rollout .* is aborted/);
    expect((await cli('pause', r.id)).stderr).toMatch(/--reason is required/);
  }, 60_000);

  it('revert: the policy per rollout (API, CLI flags), rollout revert by hand with who and why, once', async () => {
    const { call, app } = await setup(backend);
    expect(
      (await call('POST', '/api/v1/releases', { name: 'rel-1', components: { platform: '1.0.0' } })).statusCode,
    ).toBe(201);
    // A bad policy is one 400 line; a good one is frozen into the rollout and named in its create event.
    const bad = await call('POST', '/api/v1/rollouts', { release: 'rel-1', revert: { failed_pct: 0 } });
    expect(bad.statusCode).toBe(400);
    const created = await call('POST', '/api/v1/rollouts', {
      release: 'rel-1',
      reason: 'go',
      revert: { failed_count: 5, window_hours: 12 },
    });
    expect(created.statusCode).toBe(201);
    const r = created.json<RolloutBody>();
    expect(r.revert).toBeNull();
    expect(r.events[0]).toMatchObject({
      action: 'create',
      detail: { release: 'rel-1', revert: { failed_count: 5, window_hours: 12 } },
    });

    const revert = (body: object, tok = OPS) => call('POST', `/api/v1/rollouts/${r.id}/revert`, body, tok);
    expect((await revert({})).statusCode).toBe(400);
    expect((await revert({ reason: 'x' }, SUPPORT)).statusCode).toBe(403);
    expect((await revert({ reason: 'x', to: 'nope' })).json<{ error: string }>().error).toBe('no release nope');
    const done = await revert({ reason: 'app crashes on gen2' });
    expect(done.statusCode).toBe(200);
    const view = done.json<RolloutBody>();
    // rel-1 is the first release: nothing to go back to, said in the pause reason and the next step.
    expect(view).toMatchObject({
      status: 'paused',
      pause_reason: 'reverted to (no previous release): app crashes on gen2',
      revert: { status: 'active', started_by: 'ops-alice', previous_release: null, reason: 'app crashes on gen2' },
    });
    expect(view.next[0]!.reason).toMatch(/no previous release to go back to/);
    expect(view.events.find((e) => e.action === 'revert')).toMatchObject({
      actor: 'ops-alice',
      reason: 'app crashes on gen2',
    });
    const again = await revert({ reason: 'again' });
    expect(again.statusCode).toBe(409);
    expect(again.json<{ error: string }>().error).toMatch(
      /^rollout r\w+ was reverted at \S+ with no previous release to go back to: name one with --to RELEASE$/,
    );
    expect((await call('POST', `/api/v1/rollouts/${r.id}/resume`, { reason: 'x' })).statusCode).toBe(409);
    // The waiting revert is not a dead end: --to names the release, once; never the rollout's own.
    expect((await revert({ reason: 'x', to: 'rel-1' })).json<{ error: string }>().error).toMatch(
      /rolls out rel-1: name another release/,
    );
    expect(
      (await call('POST', '/api/v1/releases', { name: 'rel-0', components: { platform: '1.0.0' } })).statusCode,
    ).toBe(201);
    const named = await revert({ reason: 'back to the factory release', to: 'rel-0' });
    expect(named.statusCode).toBe(200);
    expect(named.json<RolloutBody>()).toMatchObject({
      pause_reason: 'reverted to rel-0: app crashes on gen2',
      revert: { previous_release: 'rel-0', reason: 'app crashes on gen2' },
    });
    expect(named.json<RolloutBody>().next[0]?.reason ?? '').not.toMatch(/no previous release/);
    const namedTwice = await revert({ reason: 'again', to: 'rel-0' });
    expect(namedTwice.statusCode).toBe(409);
    expect(namedTwice.json<{ error: string }>().error).toMatch(/was reverted to rel-0 at /);

    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const cli = async (...argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (x: string) => ((stdout += x), true) },
        stderr: { write: (x: string) => ((stderr += x), true) },
        env: { VANCORE_BRIDGE_TOKEN: OPS },
        isTTY: false,
      } as unknown as Io;
      const code = await runCommand(rolloutCommand, [...argv, '--bridge', url], io, new AbortController().signal);
      return { code, stdout, stderr };
    };
    const shown = await cli('status', r.id);
    expect(shown.stdout).toContain('Revert to rel-0  ');
    expect(shown.stdout).toContain('  why: app crashes on gen2');
    const twice = await cli('revert', r.id, '--reason', 'again');
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/409 rollout .* was reverted/);
    expect((await cli('revert', r.id)).stderr).toMatch(/--reason is required/);
    // The create flags: one usage line each for a bad value or combination.
    for (const [argv, line] of [
      [['--revert-failed-pct', '0'], /--revert-failed-pct must be a number above 0 and at most 100, got '0'/],
      [
        ['--dry-run', '--revert-failed-pct', '0'],
        /--revert-failed-pct must be a number above 0 and at most 100, got '0'/,
      ],
      [['--revert-failed-count', 'x'], /--revert-failed-count must be a whole number from 1 to 100000, got 'x'/],
      [['--revert-window-hours', '6'], /--revert-window-hours needs --revert-failed-count or --revert-failed-pct/],
      [
        ['--no-auto-revert', '--revert-failed-count', '3'],
        /--no-auto-revert cannot be combined with the --revert-\* flags/,
      ],
      [
        ['--no-auto-revert', '--revert-soak-regressed-vans'],
        /--no-auto-revert cannot be combined with the --revert-\* flags/,
      ],
      [
        ['--revert-soak-regressed-vans', '--revert-window-hours', '6'],
        /--revert-window-hours needs --revert-failed-count or --revert-failed-pct/,
      ],
    ] as const) {
      const out = await cli('create', 'rel-1', ...argv);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toMatch(line);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
    }
    // Good flags reach the API: the rollout conflicts (one is still paused), so nothing new is created.
    const conflict = await cli('create', 'rel-1', '--revert-failed-count', '3', '--revert-failed-pct', '12.5');
    expect(conflict.stderr).toMatch(/409 rollout .* is still paused/);
    // What each combination asks the API for (the body's `revert`; undefined: the config's policy).
    const policy = (...argv: string[]) => {
      const { values } = parseArgs({
        args: argv,
        options: {
          'revert-failed-count': { type: 'string' },
          'revert-failed-pct': { type: 'string' },
          'revert-window-hours': { type: 'string' },
          'revert-soak-regressed-vans': { type: 'boolean' },
          'no-auto-revert': { type: 'boolean' },
        },
      });
      return revertPolicyOf(values);
    };
    expect(policy()).toBeUndefined();
    expect(policy('--no-auto-revert')).toEqual({});
    expect(policy('--revert-soak-regressed-vans')).toEqual({ soak_regressed_vans: true });
    expect(policy('--revert-failed-count', '4', '--revert-soak-regressed-vans', '--revert-window-hours', '48')).toEqual(
      {
        failed_count: 4,
        window_hours: 48,
        soak_regressed_vans: true,
      },
    );
  }, 60_000);
});
