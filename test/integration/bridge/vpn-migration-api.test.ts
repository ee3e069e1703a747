// The VPN migration routes over Fastify inject (roles, one-line errors, audit) and the CLI over HTTP, with
// the simulator and a small virtual fleet behind them, on SQLite and PostgreSQL.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBridgeApp } from '../../../bridge/api/app.js';
import { vpnMigrationCommand } from '../../../bridge/vpn/cli.js';
import { VpnMigrationController } from '../../../bridge/vpn/controller.js';
import type { MigrationView } from '../../../bridge/vpn/status.js';
import { runSync } from '../../../bridge/sync/sync.js';
import { type Io, runCommand } from '../../../cli/command.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { buildArtifact as buildVanCoreArtifact } from '../../../mender-artifacts/build.js';
import { parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { silentProgress } from '../../../mender-artifacts/progress.js';
import { execaRunner } from '../../../mender-artifacts/runner.js';
import { startVirtualFleet } from '../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../mender-sim/index.js';
import { Mgmt } from '../../mender-sim/testkit.js';
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
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe.each(backends)('VPN migration API and CLI (%s)', (backend) => {
  it('create, status, report, hold / release / rollback with roles and reasons; the CLI', async () => {
    const sim = await startMenderSim({ autoAccept: true });
    cleanup.push(() => sim.close());
    const mg = new Mgmt(sim.url, await sim.managementToken());
    for (const f of files) expect((await mg.upload(f)).status).toBe(201);
    const fleet = await startVirtualFleet({
      serverUrl: sim.url,
      count: 6,
      seed: 'vpn-api',
      pollIntervalMs: 100,
      retryIntervalMs: 100,
      vpn: { state: 'tailscale', step: 'none' },
    });
    cleanup.push(() => fleet.stop());
    await fleet.until((s) => s.booted === 6);
    const t = await openTestStore(backend);
    cleanup.push(() => t.dispose());
    const mender = MenderManagementClient.create({
      baseUrl: sim.url,
      auth: { kind: 'login', user: sim.user, password: sim.password },
      timeoutMs: 5000,
    });
    const clock = new ManualClock('2026-11-22T00:00:00Z');
    const sync = () => runSync({ mender, store: t.store, now: () => clock.now() }, 'full');
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
        metrics: { runs: { incremental: 0, full: 0 }, errors: 0, durationsMs: [] },
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

    // Bad input: one line each.
    const bad = await call('POST', '/api/v1/vpn-migrations', {
      artifacts: { ...ARTIFACTS, retire: 'vancore-vpn-9.9.9' },
    });
    expect([bad.statusCode, bad.json<{ error: string }>().error]).toEqual([
      400,
      'artifacts.retire: no synced artifact named vancore-vpn-9.9.9',
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
      .selectFrom('vpn_migration_deployments')
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
  }, 90_000);
});
