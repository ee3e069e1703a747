// The post-commit soak (issue #20 item 2): the pure evaluator (agent-hooks/soak/soak.ts) as a table of
// rounds, the restart-count parser, one round of runSoakPass on a temp state dir (fake docker, no
// compose bundles), and what the inventory script prints from soak.json.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { hostPaths } from '../../../core/host-paths.js';
import { formatInventoryLines, parseInventory } from '../../../core/schemas/inventory.js';
import type { LastUpdate } from '../../../core/versions.js';
import { gatherInventory, inventoryEntries, type InventoryFacts } from '../../../agent-hooks/inventory/inventory.js';
import { containerRestarts, parseRestartCounts, runSoakPass } from '../../../agent-hooks/soak/runner.js';
import { formatSoak } from '../../../agent-hooks/soak/command.js';
import {
  evaluateSoak,
  soakInventoryValues,
  type SoakLimits,
  type SoakObservation,
  type SoakRecord,
} from '../../../agent-hooks/soak/soak.js';
import type { CommandRunner } from '../../../agent-hooks/lib/runner.js';
import type { Engine } from '../../../agent-hooks/compose/engine.js';

const LIMITS: SoakLimits = { hours: 24, max_container_restarts: 3, health_failing_minutes: 30, cloud_lost_hours: 6 };
const COMMIT: LastUpdate = {
  status: 'success',
  component: 'app',
  version: '1.5.0',
  artifact_name: 'vancore-app-1.5.0',
  at: '2026-11-22T10:00:00.000Z',
};
const at = (hours: number) => new Date(Date.parse(COMMIT.at) + hours * 3_600_000);
const obs = (hours: number, over: Partial<SoakObservation> = {}): SoakObservation => ({
  at: at(hours),
  lastUpdate: COMMIT,
  failingChecks: [],
  restarts: { 'app-web-1': 0, 'app-db-1': 2 },
  cloudOk: true,
  ...over,
});

/** Feed rounds one after the other from no record. */
function rounds(list: SoakObservation[], limits = LIMITS): (SoakRecord | null)[] {
  let r: SoakRecord | null = null;
  return list.map((o) => (r = evaluateSoak(r, o, limits)));
}

describe('evaluateSoak', () => {
  it('nothing committed (or the last update failed): nothing to watch', () => {
    expect(evaluateSoak(null, obs(0, { lastUpdate: null }), LIMITS)).toBeNull();
    expect(evaluateSoak(null, obs(0, { lastUpdate: { ...COMMIT, status: 'rolled_back' } }), LIMITS)).toBeNull();
  });

  it('a commit starts watching until soak.hours after it, then passes', () => {
    const [first, mid, end] = rounds([obs(0.1), obs(12), obs(24)]);
    expect(first).toMatchObject({
      artifact_name: 'vancore-app-1.5.0',
      committed_at: COMMIT.at,
      state: 'watching',
      until: at(24).toISOString(),
      restarts_at_start: { 'app-web-1': 0, 'app-db-1': 2 },
    });
    expect(mid?.state).toBe('watching');
    expect(end?.state).toBe('passed');
    // Final: later rounds change nothing, even a bad one.
    expect(evaluateSoak(end!, obs(30, { cloudOk: false, failingChecks: ['x'] }), LIMITS)).toBe(end);
  });

  // [what, rounds, expected state of the last round, its reason]
  const cases: [string, SoakObservation[], string, string | undefined][] = [
    [
      'container restarts since the commit reach the limit',
      [obs(0.1), obs(2, { restarts: { 'app-web-1': 2, 'app-db-1': 3 } })],
      'regressed',
      'soak_container_restarts: 3 container restarts since the commit (app-web-1 2, app-db-1 1)',
    ],
    [
      'one short of the restart limit',
      [obs(0.1), obs(2, { restarts: { 'app-web-1': 2, 'app-db-1': 2 } })],
      'watching',
      undefined,
    ],
    [
      'health checks failing for the limit',
      [obs(1, { failingChecks: ['compose:app'] }), obs(1.5, { failingChecks: ['compose:app'] })],
      'regressed',
      'soak_health_failing: compose:app failing for 30 min',
    ],
    [
      'a passing round in between starts the count again',
      [
        obs(1, { failingChecks: ['a'] }),
        obs(1.3),
        obs(1.4, { failingChecks: ['a'] }),
        obs(1.8, { failingChecks: ['a'] }),
      ],
      'watching',
      undefined,
    ],
    [
      'no contact with the server for the limit',
      [obs(1), obs(3, { cloudOk: false }), obs(7, { cloudOk: false })],
      'regressed',
      'soak_cloud_lost: no contact with the Mender server for 6.0 h',
    ],
    ['contact lost a little less long', [obs(1), obs(6.9, { cloudOk: false })], 'watching', undefined],
    [
      // docker did not answer at the first round: no baseline of zeros, so lifetime counts are not "new"
      'docker unknown at the first round: the counts seen next are the start',
      [obs(0.1, { restarts: null }), obs(1, { restarts: { 'app-web-1': 7, 'app-db-1': 9 } }), obs(2)],
      'watching',
      undefined,
    ],
    [
      'a container first seen later counts from then',
      [
        obs(0.1),
        obs(1, { restarts: { 'app-web-1': 0, 'app-db-1': 2, 'app-new-1': 5 } }),
        obs(2, { restarts: { 'app-web-1': 0, 'app-db-1': 2, 'app-new-1': 8 } }),
      ],
      'regressed',
      'soak_container_restarts: 3 container restarts since the commit (app-new-1 3)',
    ],
    [
      'a recreated container (its count went down) starts again from its new count',
      [
        obs(0.1),
        obs(1, { restarts: { 'app-web-1': 0, 'app-db-1': 0 } }),
        obs(2, { restarts: { 'app-web-1': 0, 'app-db-1': 2 } }),
      ],
      'watching',
      undefined,
    ],
    [
      'a round where docker does not answer judges no restarts',
      [obs(0.1), obs(1, { restarts: null })],
      'watching',
      undefined,
    ],
  ];
  it.each(cases)('%s', (_, list, state, reason) => {
    const last = rounds(list).at(-1)!;
    expect(last.state).toBe(state);
    expect(last.reason).toBe(reason);
  });

  it('a regression sticks until the next commit, which starts a new soak', () => {
    const [, bad] = rounds([obs(0.1), obs(2, { restarts: { 'app-web-1': 5, 'app-db-1': 2 } })]);
    expect(bad?.state).toBe('regressed');
    expect(evaluateSoak(bad!, obs(30), LIMITS)).toBe(bad);
    const revert = {
      ...COMMIT,
      version: '1.4.0',
      artifact_name: 'vancore-app-1.4.0-revert-1.5.0',
      at: at(3).toISOString(),
    };
    const next = evaluateSoak(
      bad!,
      obs(3.1, { lastUpdate: revert, restarts: { 'app-web-1': 5, 'app-db-1': 2 } }),
      LIMITS,
    );
    expect(next).toMatchObject({ artifact_name: 'vancore-app-1.4.0-revert-1.5.0', state: 'watching' });
    expect(next?.reason).toBeUndefined();
  });

  it('soak.hours 0: off', () => {
    expect(evaluateSoak(null, obs(0.1, { cloudOk: false }), { ...LIMITS, hours: 0 })?.state).toBe('off');
  });
});

describe('the soak in inventory', () => {
  it('prints state, artifact, since, and the reason of a regression; parses back on the bridge', () => {
    const [, bad] = rounds([obs(0.1), obs(2, { restarts: { 'app-web-1': 5, 'app-db-1': 2 } })]);
    const values = soakInventoryValues(bad!);
    expect(values).toEqual({
      'vancore.soak.state': 'regressed',
      'vancore.soak.artifact': 'vancore-app-1.5.0',
      'vancore.soak.reason': 'soak_container_restarts: 5 container restarts since the commit (app-web-1 5)',
      'vancore.soak.since': COMMIT.at,
    });
    const base: InventoryFacts = {
      now: at(2),
      versions: { app: '1.5.0' },
      readings: null,
      staleness: { signal_seconds: 120, power_seconds: 300 },
      lastUpdate: null,
      gate: null,
      vpn: null,
      client: null,
    };
    const { lines } = formatInventoryLines(inventoryEntries({ ...base, soak: bad! }));
    const parsed = parseInventory(
      lines.map((l) => ({ name: l.slice(0, l.indexOf('=')), value: l.slice(l.indexOf('=') + 1), scope: 'inventory' })),
    );
    expect(parsed.dropped).toEqual([]);
    expect(parsed.vancore.soak).toEqual({
      state: 'regressed',
      artifact: 'vancore-app-1.5.0',
      reason: 'soak_container_restarts: 5 container restarts since the commit (app-web-1 5)',
      since: COMMIT.at,
    });
    // A passed soak has no reason key; no record, no soak keys at all.
    expect(soakInventoryValues({ ...bad!, state: 'passed' })['vancore.soak.reason']).toBeUndefined();
    expect(Object.keys(inventoryEntries(base)).filter((k) => k.startsWith('vancore.soak.'))).toEqual([]);
  });
});

describe('container restarts', () => {
  it('parses docker inspect lines, skipping junk', () => {
    expect(parseRestartCounts('/app-web-1 2\n/app-db-1 0\nnot a line\n/x y\n')).toEqual({
      'app-web-1': 2,
      'app-db-1': 0,
    });
  });
  it('asks docker for the compose containers; a failing docker is unknown (null), not none', async () => {
    const calls: string[][] = [];
    const ok: CommandRunner = {
      run: (_cmd, args) => {
        calls.push([...args]);
        const stdout = args[0] === 'ps' ? 'abc123def456\n' : '/app-web-1 4\n';
        return Promise.resolve({ code: 0, signal: null, stdout, stderr: '', timedOut: false });
      },
    };
    expect(await containerRestarts(ok)).toEqual({ 'app-web-1': 4 });
    expect(calls[1]).toEqual(['inspect', '--format', '{{.Name}} {{.RestartCount}}', 'abc123def456']);
    const broken: CommandRunner = {
      run: () => Promise.resolve({ code: 1, signal: null, stdout: '', stderr: 'no daemon', timedOut: false }),
    };
    expect(await containerRestarts(broken)).toBeNull();
  });
});

describe('runSoakPass', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('watches the last commit, writes soak.json, and inventory reports it; a final soak runs no checks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-soak-'));
    const ctx = {
      paths: hostPaths('/nonexistent-root'),
      config: DeviceConfig.parse({ soak: { hours: 1, max_container_restarts: 2 } }),
      configPath: '/nonexistent',
      stateDir: dir,
    };
    const clock = new ManualClock(at(0.1));
    let restarts = 0;
    let dockerCalls = 0;
    const runner: CommandRunner = {
      run: (_cmd, args) => {
        dockerCalls++;
        const stdout = args[0] === 'ps' ? 'abc123def456\n' : `/app-web-1 ${restarts}\n`;
        return Promise.resolve({ code: 0, signal: null, stdout, stderr: '', timedOut: false });
      },
    };
    const engine = {} as Engine; // no compose bundles in the state dir: the health runner never asks it
    const deps = { ctx, engine, runner, clock, env: {}, cloudOk: () => Promise.resolve(true) };

    expect(await runSoakPass(deps)).toBeNull(); // nothing committed yet
    expect(dockerCalls).toBe(0);
    await writeFile(join(dir, 'last-update.json'), JSON.stringify(COMMIT));
    expect((await runSoakPass(deps))?.state).toBe('watching');
    restarts = 2;
    clock.set(at(0.5));
    const bad = await runSoakPass(deps);
    expect(bad).toMatchObject({
      state: 'regressed',
      reason: 'soak_container_restarts: 2 container restarts since the commit (app-web-1 2)',
    });
    expect(formatSoak(bad)).toBe(
      `soak regressed: vancore-app-1.5.0 committed ${COMMIT.at}: soak_container_restarts: 2 container restarts since the commit (app-web-1 2)\n`,
    );
    expect(JSON.parse(await readFile(join(dir, 'soak.json'), 'utf8'))).toEqual(bad);
    const calls = dockerCalls;
    clock.set(at(2));
    expect(await runSoakPass(deps)).toEqual(bad);
    expect(dockerCalls).toBe(calls);

    const inv = await gatherInventory(ctx, {
      probes: {
        disk: () => Promise.resolve(undefined),
        cpuTempC: () => Promise.resolve(undefined),
        memory: () => Promise.resolve(undefined),
      },
      now: at(2),
      probeTimeoutMs: 100,
      warn: () => undefined,
    });
    expect(inventoryEntries(inv)['vancore.soak.state']).toBe('regressed');

    // An unusable soak.json: one warning, and the watch starts over from the last commit.
    await writeFile(join(dir, 'soak.json'), '{"state":');
    const warnings: string[] = [];
    expect((await runSoakPass({ ...deps, warn: (l) => warnings.push(l) }))?.state).toBe('passed');
    expect(warnings).toEqual([`${join(dir, 'soak.json')} is not JSON; starting over`]);
  });
});

describe('the shipped units', () => {
  it('the timer runs the service, which runs the bundled round where install lays it out', async () => {
    const { LAYOUT } = await import('../../../agent-hooks/installer/plan.js');
    const root = join(import.meta.dirname, '../../..');
    const service = await readFile(join(root, 'deploy/device/systemd/vancore-ota-soak.service'), 'utf8');
    const timer = await readFile(join(root, 'deploy/device/systemd/vancore-ota-soak.timer'), 'utf8');
    expect(service).toContain(`\nExecStart=/usr/bin/env node ${LAYOUT.bin!.dest}/vancore-ota-soak\n`);
    // Exit 1 is a regression reported through inventory, not a failed unit.
    expect(service).toContain('\nSuccessExitStatus=1\n');
    expect(timer).toContain('\nOnUnitActiveSec=5min\n');
    expect(await readFile(join(root, 'scripts/build.mjs'), 'utf8')).toContain(
      "'bin/vancore-ota-soak': 'agent-hooks/bin/vancore-ota-soak.ts'",
    );
  });
});
