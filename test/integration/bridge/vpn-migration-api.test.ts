// The VPN migration routes over Fastify inject (roles, one-line errors, audit) and the CLI over HTTP, with
// the simulator and a small virtual fleet behind them, on SQLite and PostgreSQL.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBridgeApp } from '../../../bridge/api/app.js';
import { vpnMigrationCommand } from '../../../bridge/vpn/cli.js';
import { VpnMigrationController } from '../../../bridge/vpn/controller.js';
import type { MigrationView } from '../../../bridge/vpn/status.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { runCommand } from '../../../cli/command.js';
import type { Io } from '../../../core/command.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { buildArtifact as buildVanCoreArtifact } from '../../../mender-artifacts/build.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import { execaRunner } from '../../../mender-artifacts/runner.js';
import { type VirtualFleet, startVirtualFleet } from '../../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../../mender-sim/index.js';
import { Mgmt } from '../../../mender-sim/testkit.js';
import { backends, openTestStore } from '../../helpers/fleet-db.js';

const OPS = 'ops-token-0123456789';
const SUPPORT = 'support-token-0123456789';
const STEPS = ['add', 'verify', 'cutover', 'retire'] as const;
const ARTIFACTS = {
  add: 'vancore-vpn-1.0.0',
  verify: 'vancore-vpn-1.1.0',
  cutover: 'vancore-vpn-1.2.0',
  retire: 'vancore-vpn-1.3.0',
};

const HS = 'https://headscale.example.com';
const OLD_ADD = 'vancore-vpn-0.9.0';

let dir: string;
const files: Buffer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-vpn-api-'));
  await writeFile(join(dir, 'authkey'), 'hskey-0123456789\n', { mode: 0o600 });
  for (const step of STEPS) {
    const out = await mkdtemp(join(dir, `${step}-`));
    const r = await buildVanCoreArtifact(
      parseBuildOptions({
        type: 'vpn',
        component: 'vpn',
        version: ARTIFACTS[step].slice('vancore-vpn-'.length),
        'device-type': ['vanpc'],
        'vpn-step': step,
        'login-server': 'https://headscale.example.com',
        ...(step === 'add' ? { 'authkey-file': join(dir, 'authkey') } : {}),
        'no-gate-scripts': true,
        out,
      }),
      { runner: execaRunner, now: () => new Date(), defaultScriptsDir: dir, progress: silentProgress },
    );
    files.push(await readFile(r.artifactPath));
  }
  // An add artifact as builds before `vancore.vpn` wrote it: the step only in the payload index.
  const old = await mkdtemp(join(dir, 'old-'));
  const index = { format: 1, type: 'vancore-vpn', component: 'vpn', version: '0.9.0', step: 'add' };
  await writeFile(join(old, 'vancore-index.json'), JSON.stringify({ ...index, login_server: HS, authkey: null }));
  await writeFile(join(old, 'meta.json'), JSON.stringify({ vancore: { component: 'vpn', version: '0.9.0' } }));
  execFileSync('mender-artifact', [
    'write', 'module-image', '--type', 'vancore-vpn', '--artifact-name', OLD_ADD, '--device-type', 'vanpc',
    '--software-filesystem', 'vancore', '--software-name', 'vpn', '--software-version', '0.9.0',
    '--meta-data', join(old, 'meta.json'), '--file', join(old, 'vancore-index.json'),
    '--output-path', join(old, 'a.mender'),
  ]); // prettier-ignore
  files.push(await readFile(join(old, 'a.mender')));
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/**
 * The simulator with `count` virtual vans (all at tailscale/none), the step artifacts uploaded, `before`
 * run on the devices before the first sync (e.g. Mender tags), a synced store, the app and the CLI over HTTP.
 */
/**
 * Both Mender server lines without doubling the run: SQLite against the 3.7 profile, PostgreSQL against
 * 4.1 (mender-sim/profile.ts); sync.test.ts, waiting.test.ts and rollout.test.ts run the full matrix.
 */
const PROFILE_OF = { sqlite: '3.7', postgres: '4.1' } as const;

async function setup(
  backend: (typeof backends)[number],
  count: number,
  before?: (mender: MenderManagementClient, fleet: VirtualFleet) => Promise<void>,
) {
  const sim = await startMenderSim({ autoAccept: true, profile: PROFILE_OF[backend] });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const f of files) expect((await mg.upload(f)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count,
    seed: 'vpn-api',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    vpn: { state: 'tailscale', step: 'none' },
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === count);
  const t = await openTestStore(backend);
  cleanup.push(() => t.dispose());
  const mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    timeoutMs: 5000,
  });
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const sync = () => runSync({ mender, store: t.store, now: () => clock.now() }, 'full');
  await before?.(mender, fleet);
  await sync();
  const config = BridgeConfig.parse({
    auth: {
      tokens: [
        { name: 'ops-alice', role: 'ops', token: OPS },
        { name: 'desk', role: 'support', token: SUPPORT },
      ],
    },
    http: { rate_limit_per_minute: 0 },
    vpn: { daily_batch_limit: 2, headscale_url: 'https://headscale.example.com' },
  });
  const controller = new VpnMigrationController({ store: t.store, mender, clock, settings: config.vpn });
  const app = await buildBridgeApp({
    store: t.store,
    sync: {
      running: false,
      metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] },
      syncNow: () => Promise.reject(new Error('no')),
    },
    menderReady: () => Promise.resolve(),
    config,
    clock,
    artifacts: { downloadLink: () => Promise.reject(new Error('no')), sha256: () => Promise.reject(new Error('no')) },
    vpnMigrations: { store: t.store, controller, clock },
  });
  cleanup.push(() => app.close());
  const call = (method: 'GET' | 'POST', url: string, body?: unknown, tok = OPS) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tok}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
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
    const code = await runCommand(vpnMigrationCommand, [...argv, '--bridge', url], io, new AbortController().signal);
    return { code, stdout, stderr };
  };
  return { sim, fleet, t, mender, clock, sync, controller, app, call, cli };
}

describe.each(backends)('VPN migration API and CLI (%s)', (backend) => {
  it('create, status, report, hold / release / rollback with roles and reasons; the CLI', async () => {
    const { fleet, t, call, cli } = await setup(backend, 6);

    // Bad input: one line each.
    const bad = await call('POST', '/api/v1/vpn-migrations', {
      artifacts: { ...ARTIFACTS, retire: 'vancore-vpn-9.9.9' },
    });
    expect([bad.statusCode, bad.json<{ error: string }>().error]).toEqual([
      400,
      'artifacts.retire: no synced artifact named vancore-vpn-9.9.9',
    ]);
    // The step each artifact's meta-data records must be the step it is given for.
    const swapped = await call('POST', '/api/v1/vpn-migrations', {
      artifacts: { ...ARTIFACTS, add: ARTIFACTS.cutover, cutover: ARTIFACTS.add },
    });
    expect([swapped.statusCode, swapped.json<{ error: string }>().error]).toEqual([
      400,
      'artifacts.add: vancore-vpn-1.2.0 carries step cutover',
    ]);
    const same = await call('POST', '/api/v1/vpn-migrations', { artifacts: { ...ARTIFACTS, retire: ARTIFACTS.add } });
    expect(same.json<{ error: string }>().error).toBe('artifacts: each step needs its own artifact');
    expect((await call('POST', '/api/v1/vpn-migrations', { artifacts: { add: 'x' } })).statusCode).toBe(400);
    const badLimit = await call('POST', '/api/v1/vpn-migrations', {
      artifacts: ARTIFACTS,
      settings: { daily_batch_limit: 0 },
    });
    expect(badLimit.statusCode).toBe(400);
    expect(badLimit.json<{ error: string }>().error).toMatch(/^body\.settings\.daily_batch_limit: /);
    expect((await call('POST', '/api/v1/vpn-migrations', { artifacts: ARTIFACTS }, SUPPORT)).statusCode).toBe(403);

    const created = await call('POST', '/api/v1/vpn-migrations', {
      artifacts: ARTIFACTS,
      settings: { retire_soak_hours: 12 },
      reason: 'Headscale go-live',
    });
    expect(created.statusCode).toBe(201);
    const m = created.json<MigrationView>();
    // The config's limit (2 a day) and the call's soak, frozen; the first batch went out at once.
    expect(m.settings).toMatchObject({ daily_batch_limit: 2, retire_soak_hours: 12, max_retries_per_van: 1 });
    expect(m.batches.map((b) => b.deployments.map((d) => [d.step, d.targets, d.status]))).toEqual([
      [['add', 2, 'open']],
    ]);
    expect(m.per_step).toEqual([{ step: 'none', vans: 6, states: { tailscale: 6 } }]);
    expect([m.scope, m.notes]).toEqual([null, []]);
    expect((await call('POST', '/api/v1/vpn-migrations', { artifacts: ARTIFACTS })).statusCode).toBe(409);

    const got = await call('GET', `/api/v1/vpn-migrations/${m.id}`, undefined, SUPPORT);
    expect(got.statusCode).toBe(200);
    expect(got.json<MigrationView>().totals).toMatchObject({ vans: 6, in_flight: 2, ready: 4 });
    expect((await call('GET', '/api/v1/vpn-migrations/nope')).json<{ error: string }>().error).toBe(
      'no vpn migration nope',
    );

    const act = (a: string, vanId: string, reason?: string, tok = OPS) =>
      call('POST', `/api/v1/vpn-migrations/${m.id}/vans/${vanId}/${a}`, reason === undefined ? {} : { reason }, tok);
    const first = await t.store.db
      .selectFrom('tracked_deployments')
      .select('device_ids_json')
      .executeTakeFirstOrThrow();
    const inBatch = new Set(JSON.parse(first.device_ids_json) as string[]);
    const someFresh = fleet.devices().find((d) => !inBatch.has(d.deviceId!))!;
    expect((await act('hold', someFresh.vanId)).statusCode).toBe(400);
    expect((await act('hold', someFresh.vanId, 'x', SUPPORT)).statusCode).toBe(403);
    expect((await act('hold', 'van-nope', 'x')).json<{ error: string }>().error).toBe('no van van-nope');
    const held = await act('hold', someFresh.vanId, 'customer abroad');
    expect(held.statusCode).toBe(200);
    expect(held.json<MigrationView>().held.map((h) => [h.van_id, h.detail])).toEqual([
      [someFresh.vanId, 'ops-alice: customer abroad'],
    ]);
    const refused = await act('rollback', someFresh.vanId, 'undo');
    expect([refused.statusCode, refused.json<{ error: string }>().error]).toEqual([
      409,
      `van ${someFresh.vanId} has not started the migration: nothing to roll back`,
    ]);
    expect((await act('release', someFresh.vanId, 'back')).json<MigrationView>().held).toEqual([]);

    const status = await cli('status', m.id);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^VPN migration ${m.id}  ACTIVE\nvans 6: done 0, deploying 2, `));
    expect(status.stdout).toMatch(/none +6 +tailscale 6/);
    const hold = await cli('hold', m.id, someFresh.vanId, '--reason', 'again');
    expect(hold.code).toBe(0);
    expect(hold.stdout).toMatch(new RegExp(`Held:[\\s\\S]*${someFresh.vanId} .*ops-alice: again`));
    expect((await cli('rollback', m.id, someFresh.vanId)).stderr).toMatch(/--reason is required/);
    const no = await cli('rollback', m.id, someFresh.vanId, '--reason', 'x');
    expect(no.code).not.toBe(0);
    expect(no.stderr).toMatch(/409 van .* has not started the migration: nothing to roll back/);
    const create = await cli('create', '--add', ARTIFACTS.add);
    expect(create.code).not.toBe(0);
    expect(create.stderr).toMatch(/missing --verify ARTIFACT/);
    const limit = await cli('create', ...STEPS.flatMap((s) => [`--${s}`, ARTIFACTS[s]]), '--daily-limit', 'lots');
    expect(limit.stderr).toMatch(/--daily-limit must be a whole number ≥ 0, got 'lots'/);
    const again = await cli('create', ...STEPS.flatMap((s) => [`--${s}`, ARTIFACTS[s]]));
    expect(again.stderr).toMatch(/409 vpn migration .* is still active/);
    const cancel = await cli('cancel', m.id, '--reason', 'postponed');
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(/CANCELLED/);
    const events = (await call('GET', `/api/v1/vpn-migrations/${m.id}`)).json<MigrationView>().events;
    expect(events.map((e) => [e.actor, e.action, e.reason])).toEqual([
      ['ops-alice', 'create', 'Headscale go-live'],
      ['controller', 'deploy', 'batch 1: add → 2 vans'],
      ['ops-alice', 'hold', 'customer abroad'],
      ['ops-alice', 'release', 'back'],
      ['ops-alice', 'hold', 'again'],
      ['ops-alice', 'cancel', 'postponed'],
    ]);

    // An artifact from an older build records no step: accepted, and the report says it was not checked.
    const older = await call('POST', '/api/v1/vpn-migrations', { artifacts: { ...ARTIFACTS, add: OLD_ADD } });
    expect(older.statusCode).toBe(201);
    const note = `artifacts.add: ${OLD_ADD} does not record its step (an older build): not checked by the bridge, the van's module refuses a wrong step`;
    expect(older.json<MigrationView>().notes).toEqual([note]);
    const id2 = older.json<MigrationView>().id;
    expect((await call('GET', `/api/v1/vpn-migrations/${id2}/report`)).json<MigrationView>().notes).toEqual([note]);
    expect((await cli('status', id2)).stdout).toContain(`Note: ${note}`);
  }, 90_000);

  it('a migration scoped to the internal stage plans, deploys and reports only internal vans', async () => {
    const internal = new Set<string>();
    const { fleet, t, call, cli, sync, controller } = await setup(backend, 20, async (mender, vans) => {
      // Stages reach the bridge as the Mender tag that mirrors them; two other vans get a site tag.
      for (const d of vans.devices().slice(0, 5)) {
        internal.add(d.deviceId!);
        await mender.setTags(d.deviceId!, [{ name: 'vancore_stage', value: 'internal' }]);
      }
      for (const d of vans.devices().slice(5, 7)) await mender.setTags(d.deviceId!, [{ name: 'site', value: 'hh' }]);
    });
    const rows = await t.store.db.selectFrom('vans').select(['device_id', 'stage']).execute();
    expect(rows.filter((r) => r.stage === 'internal').map((r) => r.device_id)).toEqual(
      expect.arrayContaining([...internal]),
    );
    expect(rows.filter((r) => r.stage === 'internal')).toHaveLength(5);

    const create = (scope: unknown) => call('POST', '/api/v1/vpn-migrations', { artifacts: ARTIFACTS, scope });
    const error = async (scope: unknown) => {
      const r = await create(scope);
      return [r.statusCode, r.json<{ error: string }>().error];
    };
    const someVan = fleet.devices()[9]!.vanId;
    expect(await error({ vans: ['van-nope', someVan, 'van-gone'] })).toEqual([
      400,
      'scope.vans: no accepted van van-nope, van-gone',
    ]);
    expect(await error({ stages: ['internal'], tag: { name: 'site', value: 'hh' } })).toEqual([
      400,
      'scope: no accepted van is in it',
    ]);
    expect((await create({ stages: ['lab'] })).statusCode).toBe(400);
    expect((await create({ stages: [] })).statusCode).toBe(400);
    expect((await create({ region: 'north' })).statusCode).toBe(400);
    const flags = STEPS.flatMap((s) => [`--${s}`, ARTIFACTS[s]]);
    expect((await cli('create', ...flags, '--tag', 'site')).stderr).toMatch(/--tag must be NAME=VALUE, got 'site'/);
    expect(await t.store.db.selectFrom('vpn_migrations').select('id').execute()).toEqual([]);

    // The CLI creates it: only the 5 internal vans are counted and get the first step.
    const made = await cli('create', ...flags, '--stage', 'internal', '--daily-limit', '50', '--reason', 'lab first');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^VPN migration \S+ {2}ACTIVE\nscope: stage internal\nvans 5: done 0, deploying 5, /);
    const m = (await t.store.db.selectFrom('vpn_migrations').select('id').executeTakeFirstOrThrow()).id;
    const view = async () => (await call('GET', `/api/v1/vpn-migrations/${m}`)).json<MigrationView>();
    let v = await view();
    expect(v.scope).toEqual({ stages: ['internal'] });
    expect(v.per_step).toEqual([{ step: 'none', vans: 5, states: { tailscale: 5 } }]);
    expect(v.batches.map((b) => b.deployments.map((d) => [d.step, d.targets]))).toEqual([[['add', 5]]]);
    const outside = fleet.devices().find((d) => !internal.has(d.deviceId!))!;
    expect(
      (await call('POST', `/api/v1/vpn-migrations/${m}/vans/${outside.vanId}/hold`, { reason: 'x' })).json<{
        error: string;
      }>().error,
    ).toBe(`van ${outside.vanId} is not in the scope of vpn migration ${m}`);

    // The internal vans take add; as inventory shows it, verify goes out to them alone (in one batch,
    // or in more when some vans report later than others: a loaded machine staggers them).
    const verifyTargets = () =>
      v.batches.flatMap((b) => b.deployments.filter((d) => d.step === 'verify').map((d) => d.targets));
    const end = Date.now() + 60_000;
    while (verifyTargets().reduce((a, n) => a + n, 0) < 5) {
      if (Date.now() > end)
        throw new Error(`verify not sent to all 5: ${JSON.stringify(v.totals)} ${JSON.stringify(v.next)}`);
      await new Promise((res) => setTimeout(res, 200));
      await sync();
      await controller.tick();
      v = await view();
    }
    expect(v.batches[0]!.deployments.map((d) => [d.step, d.targets])).toEqual([['add', 5]]);
    expect(v.batches.slice(1).flatMap((b) => b.deployments.map((d) => d.step))).toEqual(
      verifyTargets().map(() => 'verify'),
    );
    expect(verifyTargets().reduce((a, n) => a + n, 0)).toBe(5);
    expect(v.totals.vans).toBe(5);
    const targeted = await t.store.db.selectFrom('tracked_deployments').select('device_ids_json').execute();
    for (const d of targeted)
      for (const id of JSON.parse(d.device_ids_json) as string[]) expect(internal).toContain(id);
    for (const d of fleet.devices())
      if (!internal.has(d.deviceId!)) expect(d.vpn, d.vanId).toEqual({ state: 'tailscale', step: 'none' });
      else expect(d.vpn.state, d.vanId).toBe('dual');
  }, 120_000);
});
