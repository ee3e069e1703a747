// The real mender-client 3.4 daemon against the Mender server simulator (issue #3 part 3): every
// deployment is created, watched and aborted through the management API, the way an operator or the
// bridge drives a real Mender 3.7 server, and every test checks what really happened on both sides —
// statistics and per-device statuses on the server, probe markers and deployed files on the device.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { ALL_ARTIFACT_PROBES } from './harness/artifact.js';
import { systemTest, type Bed, type ManagedDevice } from './harness/bed.js';
import { runMender, type Daemon } from '../../mender-sim/real-client/mender.js';
import type { Marker } from '../../mender-sim/real-client/sandbox.js';

const NEW = 'vancore-test-2.0.0';
const PAYLOAD = {
  'docker-compose.yml': 'services:\n  app:\n    image: registry.example/app:2.0.0\n',
  VERSION: '2.0.0\n',
};
const NEXT = /\/deployments\/device\/deployments\/next$/;
const AUTH = '/api/devices/v1/authentication/auth_requests';

/** Markers as `name` for scripts and `M:State` for module calls (inventory runs left out). */
function steps(markers: readonly Marker[]): string[] {
  return markers.filter((m) => m.kind !== 'INVENTORY').map((m) => (m.kind === 'MODULE' ? `M:${m.name}` : m.name));
}

/**
 * Waits for the probe module's `state` call. The client reports `failure` at the start of its rollback
 * chain (substate "Executing script: ArtifactRollback_Leave…"), so the server shows the final status
 * before the device is done: wait for the module's Cleanup before asserting on the device side.
 */
async function moduleCalled(bed: Bed, dev: ManagedDevice, state: string, daemon: Daemon): Promise<void> {
  await bed.waitFor(async () => (await dev.sb.markers()).some((m) => m.kind === 'MODULE' && m.name === state), {
    describe: `the module's ${state} call`,
    daemon,
  });
}

/** Uploads a probe artifact named NEW (all artifact state scripts are marker probes). */
async function uploadProbeArtifact(bed: Bed, dev: ManagedDevice): Promise<void> {
  const file = await bed.buildArtifact(dev.sb, { name: NEW, files: PAYLOAD, scripts: ALL_ARTIFACT_PROBES });
  await dev.mgmt.uploadArtifact(file);
}

describe('mender-client 3.4 daemon against the simulator', () => {
  systemTest('a deployment created through the management API ends in success', async ({ bed }) => {
    const dev = await bed.managedDevice({ sim: { autoAccept: true } });
    await dev.sb.addInventoryScript('van', { van_id: 'van-0042', network: ['wlan0', 'wwan0'] });
    await uploadProbeArtifact(bed, dev);
    const daemon = bed.startDaemon(dev.sb);
    const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });

    const depId = await dev.mgmt.createDeployment({ name: 'happy', artifact_name: NEW, devices: [deviceId] });
    daemon.triggerUpdateCheck();
    const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });

    expect(status).toBe('success');
    expect(statistics).toMatchObject({ success: 1, failure: 0, aborted: 0, downloading: 0, installing: 0 });
    expect((await dev.mgmt.deployment(depId)).status).toBe('finished');
    // The managed order of RECIPE §5.1 (SupportsRollback before Download_Leave, no reboot).
    expect(steps(await dev.sb.markers())).toEqual([
      'Download_Enter_00_probe',
      'M:Download',
      'M:SupportsRollback',
      'Download_Leave_00_probe',
      'ArtifactInstall_Enter_00_probe',
      'M:ArtifactInstall',
      'M:NeedsArtifactReboot',
      'ArtifactInstall_Leave_00_probe',
      'ArtifactCommit_Enter_00_probe',
      'M:ArtifactCommit',
      'ArtifactCommit_Leave_00_probe',
      'M:Cleanup',
    ]);
    expect(await dev.sb.deployedFiles()).toEqual(PAYLOAD);
    // After the deployment the client sends its inventory again, now with the new artifact name.
    await bed.waitFor(async () => (await dev.mgmt.inventoryAttribute(deviceId, 'artifact_name')) === NEW, {
      describe: `inventory artifact_name = ${NEW}`,
      daemon,
    });
    expect(await dev.mgmt.inventoryAttribute(deviceId, 'van_id')).toBe('van-0042');
    expect(await dev.mgmt.inventoryAttribute(deviceId, 'network')).toEqual(['wlan0', 'wwan0']);
    expect(dev.sim.requests().filter((r) => r.status >= 500)).toEqual([]);

    await daemon.stop();
    const shown = await runMender(dev.sb, ['show-artifact']);
    expect(shown).toMatchObject({ rc: 0, stdout: `${NEW}\n` });
  });

  systemTest(
    'Download_Enter exit 1 reports nothing and the deployment is fetched again at the next poll',
    async ({ bed }) => {
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      await dev.sb.setExit('Download_Enter_00_probe', 1);
      await uploadProbeArtifact(bed, dev);
      const daemon = bed.startDaemon(dev.sb);
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
      const depId = await dev.mgmt.createDeployment({ name: 'gated', artifact_name: NEW, devices: [deviceId] });
      const offered = () => dev.sim.requests().filter((r) => NEXT.test(r.path) && r.status === 200).length;
      const gateRuns = async () =>
        (await dev.sb.markers()).filter((m) => m.name === 'Download_Enter_00_probe' && m.rc === 1).length;

      daemon.triggerUpdateCheck();
      await bed.waitFor(async () => (await gateRuns()) >= 1 && offered() >= 1, {
        describe: 'the first Download_Enter refusal',
        daemon,
      });
      // The next regular poll (UpdatePollIntervalSeconds = 5, no signal) offers the same deployment again.
      // The daemon runs Download_Error right after the refused Download_Enter: wait for both markers.
      const errorRuns = async () => (await dev.sb.markers()).filter((m) => m.name === 'Download_Error_00_probe').length;
      await bed.waitFor(async () => (await gateRuns()) >= 2 && (await errorRuns()) >= 2 && offered() >= 2, {
        describe: 'the deployment offered and refused again at the next poll',
        daemon,
        timeoutMs: 12_000,
      });

      // "Not now" is not a failure: nothing final, no failure log, the module was never called.
      const stats = await dev.mgmt.statistics(depId);
      expect(stats).toMatchObject({ success: 0, failure: 0, aborted: 0 });
      const [entry] = await dev.mgmt.deviceDeployments(depId);
      expect(entry?.status).toBe('downloading');
      expect(dev.sim.requests().filter((r) => r.path.endsWith('/log'))).toEqual([]);
      const before = await dev.sb.markers();
      expect(before.filter((m) => m.kind === 'MODULE')).toEqual([]);
      expect(steps(before).filter((s) => s.startsWith('Download_'))).toEqual([
        'Download_Enter_00_probe',
        'Download_Error_00_probe',
        'Download_Enter_00_probe',
        'Download_Error_00_probe',
      ]);

      await dev.sb.setExit('Download_Enter_00_probe', 0);
      daemon.triggerUpdateCheck();
      const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });
      expect(status).toBe('success');
      expect(statistics).toMatchObject({ success: 1, failure: 0 });
      expect(await dev.sb.deployedFiles()).toEqual(PAYLOAD);
    },
  );

  systemTest('ArtifactCommit_Enter exit 1 rolls back, reports failure and uploads the log', async ({ bed }) => {
    const dev = await bed.managedDevice({ sim: { autoAccept: true } });
    const factory = { VERSION: '1.0.0\n' };
    await writeFile(join(dev.sb.deployDir, 'VERSION'), factory.VERSION);
    await dev.sb.setExit('ArtifactCommit_Enter_00_probe', 1);
    await uploadProbeArtifact(bed, dev);
    const daemon = bed.startDaemon(dev.sb);
    const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });

    const depId = await dev.mgmt.createDeployment({ name: 'commit-fails', artifact_name: NEW, devices: [deviceId] });
    daemon.triggerUpdateCheck();
    const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });

    expect(status).toBe('failure');
    expect(statistics).toMatchObject({ success: 0, failure: 1 });
    await moduleCalled(bed, dev, 'Cleanup', daemon);
    const all = steps(await dev.sb.markers());
    expect(all.slice(all.indexOf('ArtifactCommit_Enter_00_probe'))).toEqual([
      'ArtifactCommit_Enter_00_probe',
      'ArtifactCommit_Error_00_probe',
      'ArtifactRollback_Enter_00_probe',
      'M:ArtifactRollback',
      'M:NeedsArtifactReboot',
      'ArtifactRollback_Leave_00_probe',
      'ArtifactFailure_Enter_00_probe',
      'M:ArtifactFailure',
      'ArtifactFailure_Leave_00_probe',
      'M:Cleanup',
    ]);
    expect(all).toContain('M:ArtifactInstall');
    expect(all).not.toContain('M:ArtifactCommit');
    expect(await dev.sb.deployedFiles()).toEqual(factory);

    // The client uploads its log after the final report; then it is readable through the management API.
    await bed.waitFor(
      async () => (await dev.mgmt.deviceDeployments(depId)).some((d) => d.id === deviceId && d.log === true),
      { describe: 'log: true on the device entry', daemon },
    );
    const log = await dev.mgmt.deviceLog(depId, deviceId);
    expect(log).toMatch(/^.+ info: Running Mender client version: 3\.4\.0/m);
    expect(log).toContain('ArtifactCommit_Enter_00_probe');

    await daemon.stop();
    expect(await runMender(dev.sb, ['show-artifact'])).toMatchObject({ rc: 0, stdout: 'factory-image\n' });
  });

  systemTest('aborting the deployment while ArtifactInstall_Enter retries rolls the device back', async ({ bed }) => {
    // The gate answers 21 ("retry later") every second until the test releases it; keep the retry
    // window far above the test's own timing so the abort, not the retry limit, ends the install.
    const dev = await bed.managedDevice({ sim: { autoAccept: true }, config: { StateScriptRetryTimeoutSeconds: 60 } });
    const factory = { VERSION: '1.0.0\n' };
    await writeFile(join(dev.sb.deployDir, 'VERSION'), factory.VERSION);
    await dev.sb.setExit('ArtifactInstall_Enter_00_probe', 21);
    await uploadProbeArtifact(bed, dev);
    const daemon = bed.startDaemon(dev.sb);
    const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
    const depId = await dev.mgmt.createDeployment({ name: 'aborted', artifact_name: NEW, devices: [deviceId] });
    daemon.triggerUpdateCheck();

    await bed.waitFor(
      async () => (await dev.sb.markers()).some((m) => m.name === 'ArtifactInstall_Enter_00_probe' && m.rc === 21),
      { describe: 'ArtifactInstall_Enter asking to retry', daemon },
    );
    expect(await dev.mgmt.statistics(depId)).toMatchObject({ installing: 1 });
    await dev.mgmt.abort(depId);
    await dev.sb.setExit('ArtifactInstall_Enter_00_probe', 0);

    const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });
    expect(status).toBe('aborted');
    expect(statistics).toMatchObject({ aborted: 1, success: 0 });
    expect((await dev.mgmt.deployment(depId)).status).toBe('finished');
    // The device learnt of the abort from a 409 on its next status report, and rolled back.
    await moduleCalled(bed, dev, 'Cleanup', daemon);
    const statusReports = dev.sim.requests().filter((r) => r.method === 'PUT' && r.path.endsWith('/status'));
    expect(statusReports.some((r) => r.status === 409)).toBe(true);
    const all = steps(await dev.sb.markers());
    expect(all).not.toContain('M:ArtifactInstall');
    expect(all.slice(all.lastIndexOf('ArtifactInstall_Enter_00_probe'))).toEqual([
      'ArtifactInstall_Enter_00_probe',
      'ArtifactInstall_Error_00_probe',
      'ArtifactRollback_Enter_00_probe',
      'M:ArtifactRollback',
      'M:NeedsArtifactReboot',
      'ArtifactRollback_Leave_00_probe',
      'ArtifactFailure_Enter_00_probe',
      'M:ArtifactFailure',
      'ArtifactFailure_Leave_00_probe',
      'M:Cleanup',
    ]);
    expect(await dev.sb.deployedFiles()).toEqual(factory);
  });

  systemTest('a pending device gets nothing until it is accepted', async ({ bed }) => {
    const dev = await bed.managedDevice({ sim: { autoAccept: false } });
    await uploadProbeArtifact(bed, dev);
    const daemon = bed.startDaemon(dev.sb);
    const deviceId = await bed.deviceId(dev, { status: 'pending', daemon });
    // An explicit device list is not validated (GUIDE §4), so a pending device can be targeted.
    const depId = await dev.mgmt.createDeployment({ name: 'pending', artifact_name: NEW, devices: [deviceId] });

    const rejectedAuths = () => dev.sim.requests().filter((r) => r.path === AUTH && r.status === 401).length;
    await bed.waitFor(() => rejectedAuths() >= 2, { describe: 'two rejected auth requests', daemon });
    // Nothing but auth requests from the device: no inventory, no deployments/next, no download.
    const early = dev.sim.requests();
    expect(early.filter((r) => !r.path.startsWith('/api/management/') && r.path !== AUTH)).toEqual([]);
    expect(await dev.mgmt.statistics(depId)).toMatchObject({ pending: 0, downloading: 0, success: 0 });
    expect(await dev.mgmt.deviceDeployments(depId)).toEqual([]);
    expect((await dev.mgmt.deployment(depId)).status).toBe('pending');
    expect(await dev.sb.markers()).toEqual([]);

    await dev.mgmt.acceptDevice(deviceId);
    const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon });
    expect(status).toBe('success');
    expect(statistics).toMatchObject({ success: 1 });
    const reqs = dev.sim.requests();
    const firstAccepted = reqs.findIndex((r) => r.path === AUTH && r.status === 200);
    const firstNext = reqs.findIndex((r) => NEXT.test(r.path));
    expect(firstAccepted).toBeGreaterThan(-1);
    expect(firstNext).toBeGreaterThan(firstAccepted);
    expect(await dev.sb.deployedFiles()).toEqual(PAYLOAD);
  });
});
