// The bundled state scripts as Mender runs them: real processes, no arguments, configuration through
// the environment, on temp trees. Exit codes 0 / 1 / 21, the decision journal, the install-wait
// record, the validation window, and `vancore-ota gate check` giving the same verdict.
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATE_HISTORY_FILE, readGateJournal } from '../../../core/gate-journal.js';
import { cliPath, runCli } from '../../helpers/cli.js';
import { metaDoc } from '../../helpers/builders.js';
import { runProcess, runScript, tempDir, writeTree, type Run } from './helpers.js';

const DL = 'Download_Enter_50_vancore-gate';
const INSTALL = 'ArtifactInstall_Enter_50_vancore-gate';
const INSTALL_ERROR = 'ArtifactInstall_Error_50_vancore-gate';
const COMMIT = 'ArtifactCommit_Enter_50_vancore-validate';
const HEADER = 'data/modules/v3/payloads/0000/tree/header';

/** readings.json for "now": still for `still_s` seconds (null = moving), good signal and battery. */
function readingsNow(still_s: number | null, over: Record<string, unknown> = {}): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return JSON.stringify({
    motion: {
      stationary_since: still_s === null ? null : new Date(now - still_s * 1000).toISOString(),
      source: 'imu',
      at,
    },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
    ...over,
  });
}

interface Van {
  root: string;
  env: Record<string, string>;
  state: string;
  journal: () => ReturnType<typeof readGateJournal>['journal'];
}

async function van(ota = '', files: Record<string, string> = {}): Promise<Van> {
  const root = await tempDir('vc-scripts-');
  const state = join(root, 'state');
  await writeTree(root, {
    'ota.yaml': ota,
    'etc/mender/mender.conf': '{}',
    [`${HEADER}/artifact_name`]: 'vancore-platform-0.9.2',
    [`${HEADER}/meta-data`]: JSON.stringify(metaDoc()),
    'state/versions.json': '{ "platform": "0.9.1" }',
    ...files,
  });
  return {
    root,
    state,
    env: {
      VANCORE_OTA_ROOT: root,
      VANCORE_OTA_CONFIG: join(root, 'ota.yaml'),
      VANCORE_OTA_STATE_DIR: state,
      VANCORE_MENDER_DATA_DIR: join(root, 'data'),
    },
    journal: () => readGateJournal(state).journal,
  };
}

const setReadings = (v: Van, text: string) => writeFile(join(v.state, 'readings.json'), text);
const oneLine = (r: Run) => r.stderr.trim().split('\n');

describe('Download_Enter_50_vancore-gate', () => {
  it('parked with a good link and battery: 0, journaled as open', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(600) });
    const r = await runScript(DL, v.env);
    expect(r.code).toBe(0);
    expect(oneLine(r)).toEqual([
      expect.stringMatching(
        /^vancore-gate Download_Enter: open \(proceed, exit 0\): conditions_met: stationary for 10 min \(imu\)/,
      ),
    ]);
    expect(v.journal()?.phases.Download_Enter).toMatchObject({ verdict: 'proceed', state: 'open', exit_code: 0 });
  });

  it('moving: 1 ("not now"), and `since` carries over while it stays deferred', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(null) });
    const first = await runScript(DL, v.env);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('deferred (defer, exit 1): moving: the van is moving (imu)');
    const since = v.journal()?.phases.Download_Enter?.since;
    await new Promise((r) => setTimeout(r, 20));
    expect((await runScript(DL, v.env)).code).toBe(1);
    const j = v.journal();
    expect(j?.phases.Download_Enter?.since).toBe(since);
    expect(j?.phases.Download_Enter?.at).not.toBe(since);
    expect(j?.history_lines).toBe(2);
    expect((await readFile(join(v.state, GATE_HISTORY_FILE), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('about to clear (settled 2.5 of 3 min): 21', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(150) });
    const r = await runScript(DL, v.env);
    expect(r.code).toBe(21);
    expect(v.journal()?.last).toMatchObject({ verdict: 'retry', state: 'deferred', reasons: [{ code: 'settling' }] });
  });

  it('no readings: 1; stale readings: 1', async () => {
    const v = await van();
    expect((await runScript(DL, v.env)).code).toBe(1);
    expect(v.journal()?.last.reasons[0]?.code).toBe('readings_unknown');
    const old = new Date(Date.now() - 3600_000).toISOString();
    await setReadings(v, readingsNow(7200, { signal: { quality: 0.9, at: old } }));
    expect((await runScript(DL, v.env)).code).toBe(1);
    expect(v.journal()?.last.reasons.map((x) => x.code)).toEqual(['stale_readings']);
  });

  it('bad config: 1 with one clear line, journaled as blocked', async () => {
    const v = await van('download:\n  min_signal_quality: 60\n', { 'state/readings.json': readingsNow(600) });
    const r = await runScript(DL, v.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `vancore-gate Download_Enter: invalid config ${join(v.root, 'ota.yaml')}: download.min_signal_quality: must be ≤ 1 (exit 1)\n`,
    );
    expect(v.journal()?.last).toMatchObject({ state: 'blocked', reasons: [{ code: 'config_invalid' }] });
  });

  it('an unexpected error is 1, never 21', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(150) });
    await mkdir(join(v.state, 'gate.json')); // the journal cannot be written
    const r = await runScript(DL, v.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vancore-gate Download_Enter: internal error: .*EISDIR.* \(exit 1\)\n$/);
  });

  it('a changed ota.yaml takes effect at once (the parsed-config cache follows the file)', async () => {
    const v = await van('download:\n  min_battery_soc: 90\n', { 'state/readings.json': readingsNow(600) });
    expect((await runScript(DL, v.env)).code).toBe(1);
    expect((await stat(join(v.state, 'cache/ota-config.json'))).isFile()).toBe(true);
    expect((await runScript(DL, v.env)).code).toBe(1); // from the cache
    await writeFile(join(v.root, 'ota.yaml'), 'download:\n  min_battery_soc: 50\n');
    expect((await runScript(DL, v.env)).code).toBe(0);
    await rm(join(v.root, 'ota.yaml'));
    expect((await runScript(DL, v.env)).code).toBe(0); // missing file = documented defaults (30 %)
  });

  it('`gate check` gives the same verdict and exit code, and writes no journal', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(150) });
    const check = runCli(['gate', 'check', 'Download_Enter', '--json'], { env: v.env });
    expect(check.code).toBe(21);
    expect(JSON.parse(check.stdout)).toMatchObject({ phase: 'Download_Enter', verdict: 'retry', exit_code: 21 });
    expect(v.journal()).toBeNull();
    const human = runCli(['gate', 'check', 'Download_Enter'], { env: v.env });
    expect(human.code).toBe(21);
    expect(human.stdout).toContain('Download_Enter: DEFERRED — verdict retry, exit 21');
    expect(human.stdout).toMatch(/✗ settling: stationary for 2 min 3\d s of the 3 min required \(imu\)/);
    expect(human.stdout).toContain('✓ signal quality 0.8 ≥ 0.6');
    expect((await runScript(DL, v.env)).code).toBe(21);
  });
});

describe('ArtifactInstall_Enter_50_vancore-gate', () => {
  it('waits with 21 while moving, then proceeds once parked; the wait record comes and goes', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(null) });
    const r1 = await runScript(INSTALL, v.env);
    expect(r1.code).toBe(21);
    const wait = JSON.parse(await readFile(join(v.state, 'install-wait.json'), 'utf8')) as {
      first_attempt_at: string;
      artifact_name: string;
    };
    expect(wait.artifact_name).toBe('vancore-platform-0.9.2');
    expect((await runScript(INSTALL, v.env)).code).toBe(21);
    const again = JSON.parse(await readFile(join(v.state, 'install-wait.json'), 'utf8')) as {
      first_attempt_at: string;
    };
    expect(again.first_attempt_at).toBe(wait.first_attempt_at);
    expect(v.journal()?.phases.ArtifactInstall_Enter).toMatchObject({
      verdict: 'retry',
      artifact: { name: 'vancore-platform-0.9.2', component: 'platform', version: '0.9.2' },
    });
    await setReadings(v, readingsNow(600));
    expect((await runScript(INSTALL, v.env)).code).toBe(0);
    await expect(stat(join(v.state, 'install-wait.json'))).rejects.toThrow(/ENOENT/);
  });

  it('out of wait budget: 1', async () => {
    const v = await van('install_wait_budget_seconds: 0\n', { 'state/readings.json': readingsNow(null) });
    const r = await runScript(INSTALL, v.env);
    expect(r.code).toBe(1);
    expect(v.journal()?.last.reasons.map((x) => x.code)).toEqual(['wait_budget_exhausted', 'moving']);
  });

  it('requires not met by the installed versions: 1 at once', async () => {
    const v = await van('', {
      'state/readings.json': readingsNow(600),
      'state/versions.json': '{ "platform": "0.8.4" }',
    });
    const r = await runScript(INSTALL, v.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('requires_unmet: platform 0.8.4 does not satisfy >=0.9.0');
  });

  it.each([
    ['not JSON', '{ "vancore": '],
    ['a constraint this van does not know', JSON.stringify(metaDoc({}, { must_be_parked_facing_north: true }))],
    ['no vancore key', '{}'],
  ])('bad meta-data (%s): 1 with one line', async (_name, text) => {
    const v = await van('', { 'state/readings.json': readingsNow(600), [`${HEADER}/meta-data`]: text });
    const r = await runScript(INSTALL, v.env);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toHaveLength(1);
    expect(v.journal()?.last).toMatchObject({ state: 'blocked', reasons: [{ code: 'meta_data_invalid' }] });
  });

  it('ArtifactInstall_Error after the client gave up on our 21s records it and clears the wait', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(null) });
    expect((await runScript(INSTALL, v.env)).code).toBe(21);
    const r = await runScript(INSTALL_ERROR, v.env);
    expect(r.code).toBe(0);
    expect(v.journal()?.phases.ArtifactInstall_Enter).toMatchObject({
      verdict: 'fail',
      state: 'blocked',
      reasons: [{ code: 'retry_time_limit' }, { code: 'moving' }],
    });
    await expect(stat(join(v.state, 'install-wait.json'))).rejects.toThrow(/ENOENT/);
  });

  it('`gate check --meta-data` decides the same', async () => {
    const v = await van('', { 'state/readings.json': readingsNow(600) });
    const meta = join(v.root, 'meta.json');
    await writeFile(meta, JSON.stringify(metaDoc({}, { min_battery_soc: 95 })));
    const r = runCli(['gate', 'check', 'ArtifactInstall_Enter', '--meta-data', meta], { env: v.env });
    expect(r.code).toBe(21);
    expect(r.stdout).toContain('✗ battery_low: battery 80 % is below 95 %');
  });
});

describe('ArtifactCommit_Enter_50_vancore-validate', () => {
  let server: Server;
  let base: string;
  let healthy = true;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/health') res.writeHead(healthy ? 200 : 503).end();
      else res.writeHead(404).end(); // the "Mender server": any answer means reachable
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const validation = (checks: string, cloud: string) =>
    `validation:\n  check_interval_seconds: 1\n  cloud_url: ${cloud}\n  health_checks:\n${checks}`;
  const meta2s = {
    [`${HEADER}/meta-data`]: JSON.stringify(metaDoc({ validation: { window_seconds: 2, require_cloud: true } })),
  };

  it('health and cloud hold for the whole window: 0', async () => {
    const v = await van(
      validation(`    - { name: ui, url: "${base}/health" }\n    - { name: compose, command: [/bin/true] }\n`, base),
      meta2s,
    );
    const r = await runScript(COMMIT, v.env);
    expect(r.code).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(2000);
    expect(v.journal()?.last).toMatchObject({ phase: 'ArtifactCommit_Enter', verdict: 'proceed' });
    expect(v.journal()?.last.reasons[0]?.code).toBe('validation_passed');
    expect(v.journal()?.last.reasons[0]?.message).toMatch(/^ui, compose, cloud held for 2 s \(\d samples\)$/);
  });

  it('a failing health check fails the window: 1 (Mender rolls back)', async () => {
    const v = await van(
      validation(`    - { name: compose, command: [/bin/sh, -c, "echo stack down >&2; exit 3"] }\n`, base),
      meta2s,
    );
    const r = await runScript(COMMIT, v.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('health_check_failed: compose: exit 3 (stack down)');
  });

  it('an unhealthy URL or an unreachable cloud fails it too', async () => {
    healthy = false;
    try {
      const v = await van(validation(`    - { name: ui, url: "${base}/health" }\n`, base), meta2s);
      expect((await runScript(COMMIT, v.env)).code).toBe(1);
      expect(v.journal()?.last.reasons[0]?.message).toBe(`ui: ${base}/health: HTTP 503, expected 200`);
    } finally {
      healthy = true;
    }
    const v = await van(validation('    []\n', 'http://127.0.0.1:9'), meta2s);
    const r = await runScript(COMMIT, v.env);
    expect(r.code).toBe(1);
    expect(v.journal()?.last.reasons[0]?.code).toBe('cloud_unreachable');
  });

  it('with the agent hooks installed, their health runner (vancore-ota-health --json) is what counts', async () => {
    const report = (ok: boolean) =>
      JSON.stringify({
        ok,
        at: new Date().toISOString(),
        checks: [
          {
            name: 'compose:platform',
            kind: 'container',
            component: 'platform',
            ok,
            detail: ok ? '2/2 running, healthy' : '1/2 running: api exited (1)',
            duration_ms: 40,
          },
        ],
      });
    const runner = 'usr/lib/vancore-ota/bin/vancore-ota-health';
    const script = (ok: boolean) =>
      `#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\necho '${report(ok)}'\nexit ${ok ? 0 : 1}\n`;
    const good = await van(validation('    []\n', base), { ...meta2s, [runner]: script(true) });
    await chmod(join(good.root, runner), 0o755);
    expect((await runScript(COMMIT, good.env)).code).toBe(0);
    expect(await readFile(join(good.root, 'usr/lib/vancore-ota/bin/args'), 'utf8')).toBe(
      `--json --config ${join(good.root, 'ota.yaml')}\n`,
    );
    expect(good.journal()?.last.reasons[0]?.message).toMatch(/^vancore-ota-health, cloud held for 2 s/);
    const bad = await van(validation('    []\n', base), { ...meta2s, [runner]: script(false) });
    await chmod(join(bad.root, runner), 0o755);
    const r = await runScript(COMMIT, bad.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('health_check_failed: compose:platform: 1/2 running: api exited (1)');
  });

  it('`gate check --window-seconds` runs a shortened window with progress', async () => {
    const v = await van(validation(`    - { name: compose, command: [/bin/true] }\n`, base));
    // not runCli (spawnSync): the "Mender server" lives in this process and must keep answering
    const r = await runProcess(
      process.execPath,
      [cliPath, 'gate', 'check', 'ArtifactCommit_Enter', '--window-seconds', '1'],
      v.env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^validation sample 1 at \+0 s: ok compose: ok; ok http:\/\/127.0.0.1:\d+ answered in \d+ ms$/m,
    );
    expect(r.stdout).toContain(
      'ArtifactCommit_Enter for vancore-platform-0.9.2 (platform 0.9.2): OPEN — verdict proceed, exit 0',
    );
  });
});
