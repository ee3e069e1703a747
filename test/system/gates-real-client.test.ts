// The bundled gates (dist/device/mender-scripts) under the real mender-client 3.4, sandboxed by the
// system-test harness (RECIPE §3), with the Mender server simulator for managed mode:
//  - standalone: ArtifactInstall_Enter answers 21 while the readings say moving, and the install goes
//    on once they say parked;
//  - daemon: Download_Enter defers ("not now", no failure reported) while moving; once parked, sensord
//    wakes the daemon (SIGUSR1) and the deployment succeeds, through the validation window;
//  - daemon: a failing validation window (ArtifactCommit_Enter) rolls the update back.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { systemClock } from '../../core/clock.js';
import { readGateJournal } from '../../core/gate-journal.js';
import { nodeCommandRunner } from '../../state-scripts/health.js';
import { silentLog } from '../../state-scripts/log.js';
import { loadSetup } from '../../state-scripts/env.js';
import { runSensord } from '../../state-scripts/sensord.js';
import { metaDoc } from '../helpers/builders.js';
import { repoRoot } from '../helpers/cli.js';
import { ALL_ARTIFACT_PROBES } from './harness/artifact.js';
import { systemTest, type Bed } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import { probeScript, standaloneConfig, type Sandbox } from '../../mender-sim/real-client/sandbox.js';

const GATES = join(repoRoot, 'dist/device/mender-scripts');
const DL = 'Download_Enter_50_vancore-gate';
const INSTALL = 'ArtifactInstall_Enter_50_vancore-gate';
const COMMIT = 'ArtifactCommit_Enter_50_vancore-validate';
const NEW = 'vancore-platform-0.9.2';
const FACTORY = { VERSION: '0.9.1\n' };
const PAYLOAD = {
  'docker-compose.yml': 'services:\n  app:\n    image: registry.example/app:0.9.2\n',
  VERSION: '0.9.2\n',
};

/** The van's side of a sandbox: ota.yaml, state dir and a host root, handed to mender (and so to the gates) by env. */
async function vanDir(sb: Sandbox, otaYaml: string) {
  const dir = join(sb.root, 'van');
  await mkdir(join(dir, 'state'), { recursive: true });
  await mkdir(join(dir, 'root/proc/net'), { recursive: true });
  await writeFile(join(dir, 'ota.yaml'), otaYaml);
  await writeFile(join(dir, 'state/versions.json'), '{ "platform": "0.9.1" }\n');
  const env = {
    VANCORE_OTA_CONFIG: join(dir, 'ota.yaml'),
    VANCORE_OTA_STATE_DIR: join(dir, 'state'),
    VANCORE_MENDER_DATA_DIR: sb.dataDir,
    VANCORE_OTA_ROOT: join(dir, 'root'),
  };
  return { dir, env, journal: () => readGateJournal(join(dir, 'state')).journal };
}

function readings(still: boolean, minutes = 10): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return JSON.stringify({
    motion: { stationary_since: still ? new Date(now - minutes * 60_000).toISOString() : null, source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

/** The gates (and marker probes, to see the order) in one artifact, with VanCore meta-data. */
function buildGated(bed: Bed, sb: Sandbox, validation: { window_seconds: number; require_cloud: boolean }) {
  return bed.buildArtifact(sb, {
    name: NEW,
    files: PAYLOAD,
    scripts: {
      ...Object.fromEntries(ALL_ARTIFACT_PROBES.map((n) => [n, probeScript])),
      [INSTALL]: join(GATES, INSTALL),
      [COMMIT]: join(GATES, COMMIT),
    },
    metaData: metaDoc({ validation }),
  });
}

describe('the gates under the real mender-client 3.4', () => {
  systemTest('standalone: install waits (21) while moving and goes on once parked', async ({ bed }) => {
    const sb = await bed.sandbox({ config: standaloneConfig({ StateScriptRetryTimeoutSeconds: 60 }) });
    await sb.addRootfsScript(DL, join(GATES, DL));
    await writeFile(join(sb.deployDir, 'VERSION'), FACTORY.VERSION);
    // Downloading while driving is fine here; the artifact itself requires the van to be parked.
    const van = await vanDir(sb, 'download: { must_be_stationary: false }\n');
    await writeFile(join(van.dir, 'state/readings.json'), readings(false));
    const file = await buildGated(bed, sb, { window_seconds: 1, require_cloud: false });

    const install = runMender(sb, ['install', file], { env: van.env, timeoutMs: 60_000 });
    const waiting = await bed.waitFor(
      () => {
        const d = van.journal()?.phases.ArtifactInstall_Enter;
        return d?.verdict === 'retry' ? d : undefined;
      },
      { describe: 'ArtifactInstall_Enter answering 21', timeoutMs: 20_000 },
    );
    expect(waiting).toMatchObject({ exit_code: 21, state: 'deferred', reasons: [{ code: 'moving' }] });
    await writeFile(join(van.dir, 'state/readings.json'), readings(true));
    const done = await install;
    expect(done.rc).toBe(0);

    const gateRuns = (await sb.markers()).map((m) => m.name);
    expect(gateRuns.filter((n) => n === 'ArtifactInstall_Enter_00_probe')).toHaveLength(1);
    expect(gateRuns).toContain('ArtifactInstall');
    expect(van.journal()?.phases.ArtifactInstall_Enter).toMatchObject({ verdict: 'proceed', artifact: { name: NEW } });
    expect(van.journal()?.phases.Download_Enter?.verdict).toBe('proceed');

    const commit = await runMender(sb, ['commit'], { env: van.env });
    expect(commit.rc).toBe(0);
    expect(van.journal()?.last).toMatchObject({ phase: 'ArtifactCommit_Enter', verdict: 'proceed' });
    expect(await runMender(sb, ['show-artifact'], { env: van.env })).toMatchObject({ rc: 0, stdout: `${NEW}\n` });
    expect(await sb.deployedFiles()).toEqual(PAYLOAD);
  });

  systemTest(
    'daemon: Download_Enter defers without a failure; parked, sensord wakes the client and it succeeds',
    async ({ bed }) => {
      // Polls 5 min apart: only the wake-up can bring the deployment back within the test.
      const dev = await bed.managedDevice({
        sim: { autoAccept: true },
        config: { UpdatePollIntervalSeconds: 300, InventoryPollIntervalSeconds: 300 },
      });
      await dev.sb.addRootfsScript(DL, join(GATES, DL));
      const van = await vanDir(
        dev.sb,
        [
          'download: { stationary_minutes: 1 }',
          `validation: { cloud_url: "${dev.sim.url}", check_interval_seconds: 1 }`,
          'sensors: { motion_sources: [file], sample_interval_seconds: 0.2, modem: { mmcli: /nonexistent/mmcli } }',
          'mender: { check_update: signal }',
          '',
        ].join('\n'),
      );
      // sensord's other inputs on the van's host root: Wi-Fi and power.
      await writeFile(
        join(van.env.VANCORE_OTA_ROOT, 'proc/net/wireless'),
        'Inter-|\n face |\n wlan0: 0000   54.  -56.  -256  0 0 0 0 0 0\n',
      );
      await mkdir(join(van.env.VANCORE_OTA_ROOT, 'sys/class/power_supply/BAT0'), { recursive: true });
      await writeFile(join(van.env.VANCORE_OTA_ROOT, 'sys/class/power_supply/BAT0/capacity'), '80\n');
      let still = false;
      let writing: Promise<void> = Promise.resolve();
      const motion = () =>
        (writing = writeFile(
          join(van.dir, 'state/motion.json'),
          JSON.stringify({
            stationary_since: still ? new Date(Date.now() - 300_000).toISOString() : null,
            at: new Date().toISOString(),
          }),
        ));
      await motion();
      const ticker = setInterval(() => void motion(), 500);

      await dev.mgmt.uploadArtifact(await buildGated(bed, dev.sb, { window_seconds: 2, require_cloud: true }));
      const daemon = bed.startDaemon(dev.sb, { env: van.env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
      // sensord sees only this daemon: a /proc of one process, the sandboxed mender itself.
      const proc = join(van.dir, 'proc');
      await mkdir(join(proc, String(daemon.pid)), { recursive: true });
      await writeFile(join(proc, String(daemon.pid), 'cmdline'), await readFile(`/proc/${daemon.pid}/cmdline`));
      const setup = await loadSetup(van.env, { cache: false });
      const stop = new AbortController();
      const sensord = runSensord(
        { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: proc },
        { once: false, signal: stop.signal },
      );
      try {
        const depId = await dev.mgmt.createDeployment({ name: 'parked', artifact_name: NEW, devices: [deviceId] });
        daemon.triggerUpdateCheck();
        const deferred = await bed.waitFor(
          () => {
            const d = van.journal()?.phases.Download_Enter;
            return d?.verdict === 'defer' ? d : undefined;
          },
          { describe: 'Download_Enter deferring', daemon },
        );
        expect(deferred.reasons.map((r) => r.code)).toEqual(['moving']);
        // "Not now" is no failure: the server still sees the device downloading, nothing final.
        expect(await dev.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });
        expect((await dev.mgmt.deviceDeployments(depId))[0]?.status).toBe('downloading');

        still = true;
        await motion();
        const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon, timeoutMs: 40_000 });
        expect(status).toBe('success');
        expect(statistics).toMatchObject({ success: 1, failure: 0 });
        expect(van.journal()?.phases.Download_Enter?.verdict).toBe('proceed');
        const validated = van.journal()?.phases.ArtifactCommit_Enter;
        expect(validated?.verdict).toBe('proceed');
        expect(validated?.reasons[0]?.message).toMatch(/^cloud held for 2 s/);
        expect(await dev.sb.deployedFiles()).toEqual(PAYLOAD);
      } finally {
        clearInterval(ticker);
        await writing.catch(() => undefined);
        stop.abort();
        await sensord;
      }
    },
  );

  systemTest('daemon: a failing validation window rolls the update back and reports failure', async ({ bed }) => {
    const dev = await bed.managedDevice({ sim: { autoAccept: true } });
    await writeFile(join(dev.sb.deployDir, 'VERSION'), FACTORY.VERSION);
    const van = await vanDir(
      dev.sb,
      [
        'validation:',
        '  check_interval_seconds: 1',
        '  health_checks:',
        '    - { name: app, command: [/bin/sh, -c, "echo app container restarting >&2; exit 1"] }',
        '',
      ].join('\n'),
    );
    await writeFile(join(van.dir, 'state/readings.json'), readings(true));
    await dev.mgmt.uploadArtifact(await buildGated(bed, dev.sb, { window_seconds: 30, require_cloud: false }));
    const daemon = bed.startDaemon(dev.sb, { env: van.env });
    const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
    const depId = await dev.mgmt.createDeployment({ name: 'unhealthy', artifact_name: NEW, devices: [deviceId] });
    daemon.triggerUpdateCheck();

    const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });
    expect(status).toBe('failure');
    expect(statistics).toMatchObject({ success: 0, failure: 1 });
    await bed.waitFor(async () => (await dev.sb.markers()).some((m) => m.kind === 'MODULE' && m.name === 'Cleanup'), {
      describe: 'the module Cleanup after the rollback',
      daemon,
    });
    const names = (await dev.sb.markers()).map((m) => m.name);
    expect(names).toContain('ArtifactRollback');
    expect(names).not.toContain('ArtifactCommit');
    expect(await dev.sb.deployedFiles()).toEqual(FACTORY);
    expect(van.journal()?.phases.ArtifactCommit_Enter).toMatchObject({
      verdict: 'fail',
      exit_code: 1,
      reasons: [{ code: 'health_check_failed', message: 'app: exit 1 (app container restarting)' }],
    });
  });
});
