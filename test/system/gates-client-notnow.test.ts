// "Not now" on the real mender-client 3.4 daemon, seen from the server: a driving van defers at the
// download gate with no failure status and no deployment log, then installs once it is parked. Every
// device-API request goes through a recording proxy in front of the simulator, so the test asserts the
// exact status bodies the server received (the simulator's own request log has no bodies).
//
// Two gates are run, the same bundled policy at the two states it can run in:
//  - Download_Enter_50_vancore-gate: what `device install --client 3` lays out for 3.x;
//  - Sync_Leave_50_vancore-gate: the C++ client's gate (RECIPE-current §3.2 (c)), measured on 3.4 to
//    decide whether 3.x should use it too (issue #13): RECIPE-current §6 found both silent on 3.4.
// Also: `device install --client 3 --root DIR` lays out a tree the real 3.4 daemon runs.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, onTestFinished } from 'vitest';
import { readGateJournal } from '../../core/gate-journal.js';
import { hostPaths } from '../../core/host-paths.js';
import { deviceInstall } from '../../agent-hooks/installer/install.js';
import { nodeRunner } from '../../agent-hooks/lib/runner.js';
import { repoRoot } from '../helpers/cli.js';
import { FINAL_STATUSES, systemTest, type Bed, type ManagedDevice } from './harness/bed.js';
import { recordingProxy, type Seen } from './harness/recording-proxy.js';
import { nudgeUntil } from './harness/nudge.js';
import type { Daemon } from '../../mender-sim/real-client/mender.js';
import { managedConfig, type Sandbox } from '../../mender-sim/real-client/sandbox.js';

const GATES = join(repoRoot, 'dist/device/mender-scripts');
const NEW = 'vancore-notnow-2.0.0';
const DEP = /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/(status|log)$/;
// 3.4 asks v2 first and falls back to v1 on the simulator's 404 (RECIPE §6.2): either counts.
const NEXT = /^\/api\/devices\/v[12]\/deployments\/device\/deployments\/next$/;

/** What 3.4 reports after a gate that lets it through, for an artifact without state scripts (RECIPE §6.1). */
const INSTALLED = ['downloading', 'downloading', 'downloading', 'installing', 'installing', 'success'];

function readings(still: boolean): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return JSON.stringify({
    motion: { stationary_since: still ? new Date(now - 3_600_000).toISOString() : null, source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

/** The van's ota.yaml + state dir + host root, given to the daemon (and so to the gates) by env. */
async function vanFiles(sb: Sandbox) {
  const dir = join(sb.root, 'van');
  await mkdir(join(dir, 'state'), { recursive: true });
  await mkdir(join(dir, 'root'), { recursive: true });
  await writeFile(join(dir, 'ota.yaml'), 'download: { stationary_minutes: 1 }\n');
  const env = {
    VANCORE_OTA_CONFIG: join(dir, 'ota.yaml'),
    VANCORE_OTA_STATE_DIR: join(dir, 'state'),
    VANCORE_MENDER_DATA_DIR: sb.dataDir,
    VANCORE_OTA_ROOT: join(dir, 'root'),
  };
  return {
    env,
    park: (still: boolean) => writeFile(join(dir, 'state/readings.json'), readings(still)),
    journal: () => readGateJournal(join(dir, 'state')).journal,
    historyLines: async () =>
      (await readFile(join(dir, 'state/gate-history.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

/** A managed sandbox whose ServerURL is the recording proxy; polls 5 min apart (SIGUSR1 drives the test). */
async function device(bed: Bed): Promise<ManagedDevice & { seen: Seen[] }> {
  const { sim, mgmt } = await bed.sim({ autoAccept: true });
  const proxy = await recordingProxy(sim.url);
  onTestFinished(() => {
    proxy.server.closeAllConnections();
    proxy.server.close();
  });
  const sb = await bed.sandbox({
    config: managedConfig(proxy.url, { UpdatePollIntervalSeconds: 300, InventoryPollIntervalSeconds: 300 }),
  });
  return { sim, mgmt, sb, seen: proxy.seen };
}

/** The deployment requests the server saw: each check that offered it ("next"), each status body, each log upload. */
function deploymentTraffic(seen: readonly Seen[]): string[] {
  return seen.flatMap((s) => {
    // A check that offered the deployment; "nothing for you" (204) and the v2 404 are left out.
    if (NEXT.test(s.path)) return s.status === 200 ? ['next'] : [];
    const m = DEP.exec(s.path);
    if (!m) return [];
    if (m[1] === 'log') return ['LOG'];
    const { status, substate } = JSON.parse(s.body) as { status: string; substate?: string };
    return [substate ? `${status}: ${substate}` : status];
  });
}

/** The device's final status in the deployment, nudging the daemon until there is one. */
async function installed(bed: Bed, dev: ManagedDevice, daemon: Daemon, depId: string, deviceId: string) {
  const status = await nudgeUntil(
    bed,
    daemon,
    async () => {
      const s = (await dev.mgmt.deviceDeployments(depId)).find((d) => d.id === deviceId)?.status;
      return s !== undefined && FINAL_STATUSES.includes(s) ? s : undefined;
    },
    `a final status of ${deviceId}`,
  );
  return { status, statistics: await dev.mgmt.statistics(depId) };
}

async function deferThenInstall(bed: Bed, gate: string) {
  const dev = await device(bed);
  await dev.sb.addRootfsScript(gate, join(GATES, gate));
  const van = await vanFiles(dev.sb);
  await van.park(false);
  await dev.mgmt.uploadArtifact(await bed.buildArtifact(dev.sb, { name: NEW, files: { VERSION: '2.0.0\n' } }));
  const daemon = bed.startDaemon(dev.sb, { env: van.env });
  const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
  const depId = await dev.mgmt.createDeployment({ name: 'notnow', artifact_name: NEW, devices: [deviceId] });
  const phase = gate.startsWith('Sync_Leave') ? 'Sync_Leave' : 'Download_Enter';
  const finished = (n: number) =>
    deploymentTraffic(dev.seen).filter((t) => t === `downloading: finished executing script: ${gate}`).length >= n;

  // Two fetches while driving: each one deferred by the gate.
  for (const n of [1, 2]) {
    await nudgeUntil(bed, daemon, () => finished(n), `fetch ${n} deferred at ${gate}`);
  }
  expect(van.journal()?.phases[phase]).toMatchObject({ verdict: 'defer', exit_code: 1, reasons: [{ code: 'moving' }] });
  expect(await dev.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });
  expect((await dev.mgmt.deviceDeployments(depId))[0]?.status).toBe('downloading');
  const deferral = deploymentTraffic(dev.seen);

  // Parked: the next check installs it.
  await van.park(true);
  const { status, statistics } = await installed(bed, dev, daemon, depId, deviceId);
  expect(status).toBe('success');
  expect(statistics).toMatchObject({ success: 1, failure: 0 });
  expect(await dev.sb.deployedFiles()).toEqual({ VERSION: '2.0.0\n' });
  // Each run of the gate leaves its one stderr line in the daemon's log (RECIPE §5: "Collected output").
  const gateRuns = daemon
    .logs()
    .split('\n')
    .filter((l) => l.includes(`vancore-gate ${phase}: `)).length;
  return { deferral, all: deploymentTraffic(dev.seen), gateRuns, history: await van.historyLines(), dev };
}

describe('"not now" under the real mender-client 3.4 daemon', () => {
  /** The two status reports 3.4 sends around a rootfs script, after the check that offered the deployment. */
  const offer = (gate: string) => [
    'next',
    `downloading: Executing script: ${gate}`,
    `downloading: finished executing script: ${gate}`,
  ];
  /**
   * Everything the server saw must be k offers each answered only by the gate's two substate reports
   * (k − 1 deferrals and the one that went ahead), then the install: no `failure`, no log upload.
   * Returns k. (Whether the startup check came before or after the deployment was made, and how many
   * nudges were needed, only changes k.)
   */
  function offersThenInstalled(all: readonly string[], gate: string): number {
    const k = (all.length - INSTALLED.length) / offer(gate).length;
    expect(Number.isInteger(k) && k >= 3, all.join('\n')).toBe(true);
    expect(all).toEqual([...Array.from({ length: k }, () => offer(gate)).flat(), ...INSTALLED]);
    return k;
  }

  systemTest(
    'Download_Enter (the 3.x layout): two substate reports per offer, no failure, no log; parked → success',
    async ({ bed }) => {
      const gate = 'Download_Enter_50_vancore-gate';
      const { deferral, all, gateRuns, history } = await deferThenInstall(bed, gate);
      expect(deferral).not.toContain('failure');
      const k = offersThenInstalled(all, gate);
      // The gate ran once per offer only: each deferral and the final proceed.
      expect(gateRuns).toBe(k);
      expect(history).toHaveLength(k);
    },
  );

  systemTest(
    'Sync_Leave (the C++ client gate) on 3.4: also silent, but it runs at every sync, not only with a deployment',
    async ({ bed }) => {
      const gate = 'Sync_Leave_50_vancore-gate';
      const { deferral, all, gateRuns, history } = await deferThenInstall(bed, gate);
      expect(deferral).not.toContain('failure');
      const k = offersThenInstalled(all, gate);
      // Sync_Leave also runs after every inventory update and every check that found nothing, so the
      // gate decided more often than the deployment was offered (Download_Enter: exactly once per offer).
      expect(gateRuns).toBeGreaterThan(k);
      // …but its history only records changes of answer: not now (moving), then go.
      expect(history.map((l) => (JSON.parse(l) as { verdict: string }).verdict)).toEqual(['defer', 'proceed']);
    },
  );

  systemTest(
    'device install --client 3 lays out a tree the real 3.4 daemon runs: deferred, then installed',
    async ({ bed }) => {
      const dev = await device(bed);
      // The van's root: its /etc/mender and /usr/share/mender are the sandbox's (bind-mounted for the
      // client), so install writes straight into what the daemon reads.
      const root = join(dev.sb.root, 'van-root');
      await mkdir(join(root, 'usr/share'), { recursive: true });
      await mkdir(join(root, 'etc'), { recursive: true });
      await symlink(dev.sb.etcDir, join(root, 'etc/mender'));
      await symlink(dev.sb.shareDir, join(root, 'usr/share/mender'));
      const said: string[] = [];
      await deviceInstall({
        paths: hostPaths(root),
        from: join(repoRoot, 'dist/device'),
        verifyKey: null,
        allowUnsigned: true,
        dryRun: false,
        runner: nodeRunner(process.env),
        now: new Date(),
        say: (l) => said.push(l),
        client: 'mender-3',
      });
      expect(said).toEqual(['client: mender 3.4.0+ds1-5+b1 (mender-3)']);
      const scripts = await readFile(join(dev.sb.etcDir, 'scripts/version'), 'utf8');
      expect(scripts).toBe('3\n');
      // The installed identity script needs a van id and a NIC; the sandbox keeps its own identity so
      // the harness can find the device by its mac.
      await writeFile(
        join(dev.sb.shareDir, 'identity/mender-device-identity'),
        `#!/bin/sh\necho mac=${dev.sb.identity.mac}\n`,
        {
          mode: 0o755,
        },
      );
      await mkdir(join(root, 'var/lib/vancore-ota'), { recursive: true });
      await writeFile(join(root, 'etc/vancore/ota.yaml'), 'download: { stationary_minutes: 1 }\n');
      const state = join(root, 'var/lib/vancore-ota');
      const park = (still: boolean) => writeFile(join(state, 'readings.json'), readings(still));
      await park(false);
      const env = { VANCORE_OTA_ROOT: root, VANCORE_MENDER_DATA_DIR: dev.sb.dataDir };
      await dev.mgmt.uploadArtifact(await bed.buildArtifact(dev.sb, { name: NEW, files: { VERSION: '2.0.0\n' } }));
      const daemon = bed.startDaemon(dev.sb, { env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
      // Our inventory script ran under the daemon: the client and the gate reach the server.
      await bed.waitFor(
        async () => (await dev.mgmt.inventoryAttribute(deviceId, 'vancore.client')) === 'mender/3.4.0+ds1-5+b1',
        {
          describe: 'vancore.client in the inventory',
          daemon,
        },
      );
      const depId = await dev.mgmt.createDeployment({
        name: 'installed-tree',
        artifact_name: NEW,
        devices: [deviceId],
      });
      await nudgeUntil(
        bed,
        daemon,
        () => readGateJournal(state).journal?.phases.Download_Enter?.verdict === 'defer',
        'the installed Download_Enter gate deferring',
      );
      expect(await dev.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });
      await park(true);
      const { status } = await installed(bed, dev, daemon, depId, deviceId);
      expect(status).toBe('success');
      expect(readGateJournal(state).journal?.phases.Download_Enter).toMatchObject({
        verdict: 'proceed',
        client: { flavour: 'mender-3', version: '3.4.0+ds1-5+b1', not_now_state: 'Download_Enter' },
      });
    },
  );
});
