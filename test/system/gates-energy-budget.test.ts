// The install gate's energy budget (issue #20 item 3) under the real mender-client 3.4 daemon, sandboxed
// by the system-test harness, against the Mender server simulator: a battery that cannot cover the
// install and a rollback holds the install at ArtifactInstall_Enter (exit 21: the client re-runs the
// gate, the deployment waits with neither success nor failure), and once shore power is reported the
// same deployment installs, commits and the van records how long the install took.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { GATE_HISTORY_FILE, readGateJournal } from '../../core/gate-journal.js';
import { readInstallRuns } from '../../state-scripts/install-durations.js';
import { metaDoc } from '../helpers/builders.js';
import { repoRoot } from '../helpers/cli.js';
import { ALL_ARTIFACT_PROBES } from './harness/artifact.js';
import { FINAL_STATUSES, systemTest, type Bed } from './harness/bed.js';
import { probeScript, type Sandbox } from '../../mender-sim/real-client/sandbox.js';

const GATES = join(repoRoot, 'dist/device/mender-scripts');
const INSTALL = 'ArtifactInstall_Enter_50_vancore-gate';
const COMMIT = 'ArtifactCommit_Enter_50_vancore-validate';
const NEW = 'vancore-platform-0.9.2';
const PAYLOAD = {
  'docker-compose.yml': 'services:\n  app:\n    image: registry.example/app:0.9.2\n',
  VERSION: '0.9.2\n',
};
// 1200 Wh, 20 % reserve, 25 W, rollback factor 1, 20 % margin, 15 min: the update needs 15 Wh;
// at 21 % the battery has 12 Wh above the reserve.
const OTA = [
  'energy: { capacity_wh: 1200, reserve_pct: 20, load_w: 25, rollback_factor: 1, margin_pct: 20, default_install_minutes: 15 }',
  'validation: { check_interval_seconds: 1 }',
  '',
].join('\n');

function readings(shore: boolean): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    motion: { stationary_since: new Date(Date.now() - 3_600_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 21, shore_power: shore, at },
  });
}

/** The van's side of a sandbox: ota.yaml, state dir and a host root, handed to mender (and so to the gates) by env. */
async function vanDir(sb: Sandbox, otaYaml: string) {
  const dir = join(sb.root, 'van');
  const state = join(dir, 'state');
  await mkdir(state, { recursive: true });
  await mkdir(join(dir, 'root'), { recursive: true });
  await writeFile(join(dir, 'ota.yaml'), otaYaml);
  await writeFile(join(state, 'versions.json'), '{ "platform": "0.9.1" }\n');
  const env = {
    VANCORE_OTA_CONFIG: join(dir, 'ota.yaml'),
    VANCORE_OTA_STATE_DIR: state,
    VANCORE_MENDER_DATA_DIR: sb.dataDir,
    VANCORE_OTA_ROOT: join(dir, 'root'),
  };
  return { state, env, journal: () => readGateJournal(state).journal };
}

/** The gates and marker probes in one artifact. Its own SOC threshold (10 %) passes at 21 %: only the energy budget holds it. */
function buildGated(bed: Bed, sb: Sandbox) {
  return bed.buildArtifact(sb, {
    name: NEW,
    files: PAYLOAD,
    scripts: {
      ...Object.fromEntries(ALL_ARTIFACT_PROBES.map((n) => [n, probeScript])),
      [INSTALL]: join(GATES, INSTALL),
      [COMMIT]: join(GATES, COMMIT),
    },
    metaData: metaDoc({ validation: { window_seconds: 1, require_cloud: false } }, { min_battery_soc: 10 }),
  });
}

describe('the energy budget under the real mender-client 3.4', () => {
  systemTest(
    'daemon: the install waits (21, energy_budget) while the battery cannot cover it, and goes on shore power',
    async ({ bed }) => {
      // The client keeps re-running a 21 every second for up to 2 min (RECIPE §5.2).
      const dev = await bed.managedDevice({
        sim: { autoAccept: true },
        config: { StateScriptRetryIntervalSeconds: 1, StateScriptRetryTimeoutSeconds: 120 },
      });
      const { state, env, journal } = await vanDir(dev.sb, OTA);
      let shore = false;
      // The last write is kept so the test waits for it before the sandbox is removed (a write landing
      // during the removal made rmdir fail with ENOTEMPTY under load).
      let writing: Promise<void> = Promise.resolve();
      const sense = () => (writing = writeFile(join(state, 'readings.json'), readings(shore)));
      await sense();
      const ticker = setInterval(() => void sense(), 500);
      try {
        await dev.mgmt.uploadArtifact(await buildGated(bed, dev.sb));
        const daemon = bed.startDaemon(dev.sb, { env });
        const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
        const depId = await dev.mgmt.createDeployment({ name: 'energy', artifact_name: NEW, devices: [deviceId] });
        daemon.triggerUpdateCheck();

        // The client retries the gate: at least three energy_budget refusals in the history.
        const refusals = () =>
          readFileSync(join(state, GATE_HISTORY_FILE), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { phase: string; verdict: string; reasons: { code: string }[] })
            .filter((d) => d.phase === 'ArtifactInstall_Enter' && d.verdict === 'retry');
        await bed.waitFor(
          () => {
            try {
              return refusals().length >= 3;
            } catch {
              return false;
            }
          },
          { describe: 'ArtifactInstall_Enter refusing three times', daemon, timeoutMs: 60_000 },
        );
        for (const d of refusals()) expect(d.reasons.map((r) => r.code)).toEqual(['energy_budget']);
        const held = journal()?.phases.ArtifactInstall_Enter;
        expect(held).toMatchObject({ exit_code: 21, state: 'deferred', artifact: { name: NEW } });
        expect(held?.reasons[0]?.message).toMatch(/^needs 15 Wh .*has 12 Wh above the 20 % reserve/);
        // The deployment waits: nothing final on the server, nothing installed yet.
        expect(await dev.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });
        const waiting = (await dev.mgmt.deviceDeployments(depId)).find((d) => d.id === deviceId)?.status;
        expect(FINAL_STATUSES).not.toContain(waiting);
        expect((await dev.sb.markers()).map((m) => m.name)).not.toContain('ArtifactInstall');

        shore = true;
        await sense();
        const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon, timeoutMs: 60_000 });
        expect(status).toBe('success');
        expect(statistics).toMatchObject({ success: 1, failure: 0 });
        expect(journal()?.phases.ArtifactInstall_Enter).toMatchObject({
          verdict: 'proceed',
          reasons: [{ code: 'conditions_met' }],
          facts: { energy: { shore_power: true, need_wh: 15 } },
        });
        expect(journal()?.phases.ArtifactCommit_Enter?.verdict).toBe('proceed');
        expect(await dev.sb.deployedFiles()).toEqual(PAYLOAD);
        // The van learned how long this install took (for the next estimate).
        expect(readInstallRuns(state)).toMatchObject([
          { component: 'platform', artifact_name: NEW, outcome: 'committed' },
        ]);
      } finally {
        clearInterval(ticker);
        await writing.catch(() => undefined);
      }
    },
  );

  systemTest(
    'daemon: a battery that stays short past the wait budget refuses the install: failure, nothing installed',
    async ({ bed }) => {
      const dev = await bed.managedDevice({
        sim: { autoAccept: true },
        config: { StateScriptRetryIntervalSeconds: 1, StateScriptRetryTimeoutSeconds: 120 },
      });
      await writeFile(join(dev.sb.deployDir, 'VERSION'), '0.9.1\n');
      // The gate gives up after 3 s of waiting (exit 1): Mender rolls back and reports the failure.
      const { state, env, journal } = await vanDir(dev.sb, `${OTA}install_wait_budget_seconds: 3\n`);
      await writeFile(join(state, 'readings.json'), readings(false));
      let writing: Promise<void> = Promise.resolve();
      const ticker = setInterval(() => void (writing = writeFile(join(state, 'readings.json'), readings(false))), 500);
      try {
        await dev.mgmt.uploadArtifact(await buildGated(bed, dev.sb));
        const daemon = bed.startDaemon(dev.sb, { env });
        const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
        const depId = await dev.mgmt.createDeployment({ name: 'short', artifact_name: NEW, devices: [deviceId] });
        daemon.triggerUpdateCheck();
        const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon, timeoutMs: 60_000 });
        expect(status).toBe('failure');
        expect(statistics).toMatchObject({ success: 0, failure: 1 });
        expect(journal()?.phases.ArtifactInstall_Enter).toMatchObject({
          verdict: 'fail',
          exit_code: 1,
          reasons: [{ code: 'wait_budget_exhausted' }, { code: 'energy_budget' }],
        });
        const names = (await dev.sb.markers()).map((m) => m.name);
        expect(names).not.toContain('ArtifactInstall');
        expect(await dev.sb.deployedFiles()).toEqual({ VERSION: '0.9.1\n' });
        // Nothing was installed, so there is no duration to learn from.
        expect(readInstallRuns(state)).toEqual([]);
      } finally {
        clearInterval(ticker);
        await writing.catch(() => undefined);
      }
    },
  );
});
