// The install gate's energy budget (issue #20 item 3) as Mender runs it: the bundled scripts as real
// processes on a temp state dir. The budget refuses (21) what the battery cannot cover with a rollback,
// shore power lets it through, ArtifactCommit_Enter / ArtifactInstall_Error record the install's
// duration, and the next decision learns from the recorded runs.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGateJournal } from '../../../core/gate-journal.js';
import { INSTALL_DURATIONS_FILE, readInstallRuns } from '../../../state-scripts/install-durations.js';
import { metaDoc } from '../../helpers/builders.js';
import { runCli } from '../../helpers/cli.js';
import { runScript, tempDir, writeTree } from './helpers.js';

const INSTALL = 'ArtifactInstall_Enter_50_vancore-gate';
const INSTALL_ERROR = 'ArtifactInstall_Error_50_vancore-gate';
const COMMIT = 'ArtifactCommit_Enter_50_vancore-validate';
const HEADER = 'data/modules/v3/payloads/0000/tree/header';
// 1200 Wh, 20 % reserve, 25 W, rollback factor 1, 20 % margin, 15 min: need 15 Wh; 12 Wh per % above 20 %.
const OTA = [
  'energy: { capacity_wh: 1200, reserve_pct: 20, load_w: 25, rollback_factor: 1, margin_pct: 20, default_install_minutes: 15 }',
  'validation: { check_interval_seconds: 1 }',
  '',
].join('\n');

function readingsNow(soc: number, shore: boolean, load_w?: number): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    motion: { stationary_since: new Date(Date.now() - 600_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: soc, shore_power: shore, ...(load_w === undefined ? {} : { load_w }), at },
  });
}

async function van(readings: string, ota = OTA) {
  const root = await tempDir('vc-energy-');
  const state = join(root, 'state');
  await writeTree(root, {
    'ota.yaml': ota,
    'etc/mender/mender.conf': '{}',
    [`${HEADER}/artifact_name`]: 'vancore-platform-0.9.2',
    // Below the SOC threshold's reach (10 %): what holds the install here is the energy budget.
    [`${HEADER}/meta-data`]: JSON.stringify(
      metaDoc({ validation: { window_seconds: 1, require_cloud: false } }, { min_battery_soc: 10 }),
    ),
    'state/versions.json': '{ "platform": "0.9.1" }',
    'state/readings.json': readings,
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
    setReadings: (text: string) => writeFile(join(state, 'readings.json'), text),
  };
}

describe('ArtifactInstall_Enter: the energy budget', () => {
  it('refuses (21) what the battery cannot cover, proceeds on shore power, and the commit records the duration', async () => {
    const v = await van(readingsNow(21, false));
    const refused = await runScript(INSTALL, v.env);
    expect(refused.code).toBe(21);
    expect(refused.stderr).toContain('energy_budget: needs 15 Wh');
    const d = v.journal()?.phases.ArtifactInstall_Enter;
    expect(d).toMatchObject({ verdict: 'retry', state: 'deferred', reasons: [{ code: 'energy_budget' }] });
    expect(d?.reasons[0]?.message).toMatch(/^needs 15 Wh \(.*\), has 12 Wh above the 20 % reserve/);
    expect(d?.facts).toMatchObject({ energy: { need_wh: 15, available_wh: 12, duration_source: 'default' } });

    await v.setReadings(readingsNow(21, true));
    const go = await runScript(INSTALL, v.env);
    expect(go.code).toBe(0);
    expect(v.journal()?.phases.ArtifactInstall_Enter).toMatchObject({
      verdict: 'proceed',
      facts: { energy: { shore_power: true } },
    });
    expect(readInstallRuns(v.state)).toEqual([]);

    const committed = await runScript(COMMIT, v.env);
    expect(committed.code).toBe(0);
    const runs = readInstallRuns(v.state);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      component: 'platform',
      artifact_name: 'vancore-platform-0.9.2',
      outcome: 'committed',
      started_at: v.journal()?.phases.ArtifactInstall_Enter?.at,
    });
    expect(runs[0]?.seconds).toBeGreaterThanOrEqual(1); // the 1 s validation window at least
    // The same commit run again (a retried script) records nothing new.
    expect((await runScript(COMMIT, v.env)).code).toBe(0);
    expect(readInstallRuns(v.state)).toHaveLength(1);
  });

  it("learns from this van's recorded installs of the component", async () => {
    // 24 %: 48 Wh above the reserve covers the 15 min default (15 Wh) but not a 1 h install (60 Wh).
    const v = await van(readingsNow(24, false));
    expect((await runScript(INSTALL, v.env)).code).toBe(0);
    const hour = {
      component: 'platform',
      artifact_name: 'vancore-platform-0.9.1',
      seconds: 3600,
      outcome: 'committed',
    };
    await writeFile(
      join(v.state, INSTALL_DURATIONS_FILE),
      JSON.stringify({ runs: [{ ...hour, started_at: '2026-11-01T10:00:00.000Z' }] }),
    );
    const r = await runScript(INSTALL, v.env);
    expect(r.code).toBe(21);
    expect(v.journal()?.phases.ArtifactInstall_Enter?.facts).toMatchObject({
      energy: { duration_s: 3600, duration_source: 'learned', need_wh: 60, available_wh: 48 },
    });
    // A live load reading above load_w counts too: at 26 % (72 Wh) 1 h at 25 W passes, at 40 W it does not.
    await v.setReadings(readingsNow(26, false));
    expect((await runScript(INSTALL, v.env)).code).toBe(0);
    await v.setReadings(readingsNow(26, false, 40));
    expect((await runScript(INSTALL, v.env)).code).toBe(21);
    expect(v.journal()?.phases.ArtifactInstall_Enter?.facts).toMatchObject({
      energy: { load_w: 40, load_source: 'reading', need_wh: 96 },
    });
  });

  it('ArtifactInstall_Error after an install that started records a failed run', async () => {
    const v = await van(readingsNow(80, false));
    expect((await runScript(INSTALL, v.env)).code).toBe(0);
    expect((await runScript(INSTALL_ERROR, v.env)).code).toBe(0);
    expect(readInstallRuns(v.state)).toMatchObject([{ component: 'platform', outcome: 'failed' }]);
    const text = await readFile(join(v.state, INSTALL_DURATIONS_FILE), 'utf8');
    expect(JSON.parse(text)).toMatchObject({ runs: [{ outcome: 'failed' }] });
  });

  it('without capacity_wh there is no budget: only the SOC threshold', async () => {
    const v = await van(readingsNow(21, false), '');
    const r = await runScript(INSTALL, v.env);
    expect(r.code).toBe(0);
    expect(v.journal()?.phases.ArtifactInstall_Enter?.facts).not.toHaveProperty('energy');
  });

  it('`gate check` explains the budget and exits like the script', async () => {
    const v = await van(readingsNow(21, false));
    const r = runCli(['gate', 'check', 'ArtifactInstall_Enter'], { env: v.env });
    expect(r.code).toBe(21);
    expect(r.stdout).toContain('✗ energy_budget: needs 15 Wh');
  });
});
