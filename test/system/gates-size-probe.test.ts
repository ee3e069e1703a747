// The download gate's size probe (issue #17 item 4, state-scripts/sense/size-probe.ts) under the real
// mender-client 3.4 daemon: a roaming van and a metered van learn the pending artifact's size from the
// server, defer with their own reason codes while it is over their limit, and install once it is not.
//
// Real parts: the 3.4 daemon with D-Bus on (its io.mender.Authentication1 API hands the gate the device
// token, mendersoftware/mender Documentation/io.mender.Authentication1.xml), a private system bus
// (dbus-daemon, as RECIPE-current §2 runs one for the C++ client), the bundled Download_Enter gate,
// `mender show-provides`, dbus-send. Fakes at the edge only: mmcli / nmcli print recorded output
// (test/integration/state-scripts/fixtures), the routing table and sysfs are files under the van root.
//
// What must hold, from the server's side (every device request passes a recording proxy):
//  - the probe's update check is the client's own, byte for byte once parsed: the server keeps the
//    first request of a device deployment and FAILS the deployment on a different one (mender-server
//    backend/services/deployments/app/app.go saveDeviceDeploymentRequest → ErrConflictingRequestData;
//    the simulator models it, mender-sim/deployment-logic.ts compareRequest);
//  - no deferral reports a failure, and the size the gate used is the artifact's size to the byte.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished } from 'vitest';
import { readGateJournal } from '../../core/gate-journal.js';
import { repoRoot } from '../helpers/cli.js';
import { systemTest, type Bed } from './harness/bed.js';
import { nudgeUntil } from './harness/nudge.js';
import { recordingProxy, type Seen } from './harness/recording-proxy.js';
import { managedConfig } from '../../mender-sim/real-client/sandbox.js';
import { STORAGE_PATH } from '../../mender-sim/routes/storage.js';

const GATE = 'Download_Enter_50_vancore-gate';
const GATES = join(repoRoot, 'dist/device/mender-scripts');
const FIXTURES = join(repoRoot, 'test/integration/state-scripts/fixtures');
const NEW = 'vancore-sizeprobe-2.0.0';
const NEXT = /^\/api\/devices\/v[12]\/deployments\/device\/deployments\/next$/;

/** A system bus of our own: any process may own any name and call any method (test only). */
const BUS_CONFIG = (socket: string) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;

function readings(): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return JSON.stringify({
    motion: { stationary_since: new Date(now - 3_600_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

async function probeBed(bed: Bed) {
  // Every device request passes the proxy, the artifact downloads too (the simulator's public URL).
  let simUrl = '';
  const proxy = await recordingProxy(() => simUrl);
  const { sim, mgmt } = await bed.sim({ autoAccept: true, publicUrl: proxy.url });
  simUrl = sim.url;
  onTestFinished(() => {
    proxy.server.closeAllConnections();
    proxy.server.close();
  });
  const sb = await bed.sandbox({
    config: managedConfig(proxy.url, {
      UpdatePollIntervalSeconds: 300,
      InventoryPollIntervalSeconds: 300,
      DBus: { Enabled: true },
    }),
  });
  await sb.addRootfsScript(GATE, join(GATES, GATE));

  // The bus.
  const busDir = join(sb.root, 'bus');
  await mkdir(busDir, { recursive: true });
  const socket = join(busDir, 'system_bus_socket');
  await writeFile(join(busDir, 'system.conf'), BUS_CONFIG(socket));
  bed.processes.spawn('dbus-daemon', [`--config-file=${join(busDir, 'system.conf')}`, '--nofork', '--nopidfile']);
  await bed.waitFor(() => existsSync(socket), { describe: 'the private system bus socket' });

  // The van: its root (routing table, sysfs, the recorded client), config, state, and mmcli / nmcli.
  const van = join(sb.root, 'van');
  const root = join(van, 'root');
  const state = join(van, 'state');
  const bin = join(van, 'bin');
  for (const d of [state, bin, join(root, 'proc/net'), join(root, 'sys/class/net/wwan0'), join(root, 'etc/vancore')])
    await mkdir(d, { recursive: true });
  await writeFile(join(root, 'proc/net/route'), await readFile(join(FIXTURES, 'proc/route-wwan0'), 'utf8'));
  await writeFile(join(root, 'sys/class/net/wwan0/uevent'), 'DEVTYPE=wwan\nINTERFACE=wwan0\nIFINDEX=5\n');
  await writeFile(
    join(root, 'etc/vancore/mender-client.json'),
    JSON.stringify({ flavour: 'mender-3', version: '3.4.0+ds1-5+b1' }),
  );
  await writeFile(join(state, 'readings.json'), readings());
  // mmcli prints the fixture named in <van>/modem (the test switches it); nmcli says the LTE link is metered.
  await writeFile(
    join(bin, 'mmcli'),
    `#!/bin/sh\n[ "$*" = "-J -m 0" ] || { echo "error: invalid modem string" >&2; exit 1; }\ncat "${FIXTURES}/mmcli/$(cat "${van}/modem")"\n`,
  );
  await writeFile(
    join(bin, 'nmcli'),
    `#!/bin/sh\n[ "$LC_ALL" = C ] || exit 2\ncat "${FIXTURES}/nmcli/dev-show-lte.out"\n`,
  );
  await chmod(join(bin, 'mmcli'), 0o755);
  await chmod(join(bin, 'nmcli'), 0o755);
  const env = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}`,
    VANCORE_OTA_ROOT: root,
    VANCORE_OTA_CONFIG: join(van, 'ota.yaml'),
    VANCORE_OTA_STATE_DIR: state,
    VANCORE_MENDER_DATA_DIR: sb.dataDir,
  };
  return {
    sim,
    mgmt,
    sb,
    seen: proxy.seen,
    env,
    state,
    modem: (fixture: string) => writeFile(join(van, 'modem'), fixture),
    policy: (download: string) =>
      writeFile(join(van, 'ota.yaml'), `download: { stationary_minutes: 1, ${download} }\n`),
    /** The latest Download_Enter decision; first refreshes readings.json, as sensord keeps it fresh. */
    decision: async () => {
      await writeFile(join(state, 'readings.json'), readings());
      return readGateJournal(state).journal?.phases.Download_Enter;
    },
  };
}

const byProbe = (s: Seen) => s.userAgent === 'vancore-ota';

describe('the size probe under the real mender-client 3.4 daemon', () => {
  systemTest(
    'roaming and metered vans learn the size from the server, defer with their own codes, then install',
    async ({ bed }) => {
      const v = await probeBed(bed);
      await v.modem('modem-roaming-ch.out');
      await v.policy('roaming: small_only, roaming_small_mb: 0.001');
      const file = await bed.buildArtifact(v.sb, { name: NEW, files: { VERSION: '2.0.0\n' } });
      const size = (await stat(file)).size;
      await v.mgmt.uploadArtifact(file);
      const daemon = bed.startDaemon(v.sb, { env: v.env });
      const deviceId = await bed.deviceId(v, { status: 'accepted', daemon });
      const depId = await v.mgmt.createDeployment({ name: 'size-probe', artifact_name: NEW, devices: [deviceId] });

      // 1. Roaming in Switzerland, only ≤ 1 kB allowed: the gate asks, learns the size, says not now.
      const roaming = await nudgeUntil(
        bed,
        daemon,
        async () => {
          const d = await v.decision();
          return d?.verdict === 'defer' && d.reasons[0]?.code === 'roaming_over_small' ? d : undefined;
        },
        'a roaming_over_small deferral',
      );
      const mb = (size / 1e6).toFixed(1);
      expect(roaming.reasons).toEqual([
        {
          code: 'roaming_over_small',
          message: `roaming on Swisscom (22801), lte, roaming; update ${mb} MB > 0.001 MB`,
        },
      ]);
      const net = roaming.facts.network as {
        download_bytes: number;
        size_probe: { outcome: string; deployment_id: string };
      };
      expect(net.download_bytes).toBe(size);
      expect(net.size_probe).toMatchObject({ outcome: 'sized', deployment_id: depId });
      if (process.env.VC_PRINT_FIGURES === '1') console.log('size probe steps:', net.size_probe);
      expect(JSON.parse(await readFile(join(v.state, 'download-size.json'), 'utf8'))).toMatchObject({
        bytes: size,
        artifact_name: NEW,
        source: 'deployments-next',
        deployment_id: depId,
      });
      expect(await v.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });

      // 2. Home network, LTE metered with at most 1 kB: its own code.
      await v.modem('modem-connected.out');
      await v.policy('roaming: small_only, roaming_small_mb: 1, metered: { max_mb: 0.001 }');
      const metered = await nudgeUntil(
        bed,
        daemon,
        async () => {
          const d = await v.decision();
          return d?.verdict === 'defer' && d.reasons[0]?.code === 'metered_over_max' ? d : undefined;
        },
        'a metered_over_max deferral',
      );
      expect(metered.reasons).toEqual([
        { code: 'metered_over_max', message: `wwan0: metered (cellular): update ${mb} MB > 0.001 MB allowed` },
      ]);
      expect(await v.mgmt.statistics(depId)).toMatchObject({ success: 0, failure: 0 });
      expect((await v.mgmt.deviceDeployments(depId))[0]?.status).toBe('downloading');

      // 3. Limits above the artifact's size: it installs.
      await v.policy('roaming: small_only, roaming_small_mb: 1, metered: { max_mb: 1 }');
      await nudgeUntil(
        bed,
        daemon,
        async () => (await v.decision(), (await v.mgmt.deviceDeployments(depId))[0]?.status === 'success'),
        'the deployment to succeed',
      );
      expect(await v.mgmt.statistics(depId)).toMatchObject({ success: 1, failure: 0 });
      expect(await v.decision()).toMatchObject({ verdict: 'proceed' });

      // The server's view: the probe repeated the client's own update check (3.4 on an OSS server: v2
      // POST → 404, then the v1 POST with the flat provides, RECIPE §6.2), never a different one.
      const clientChecks = v.seen.filter(
        (s) => !byProbe(s) && NEXT.test(s.path) && s.method === 'POST' && s.status === 200,
      );
      const probeChecks = v.seen.filter((s) => byProbe(s) && NEXT.test(s.path));
      expect(clientChecks.length).toBeGreaterThan(0);
      const clientBody: unknown = JSON.parse(clientChecks[0]?.body ?? '');
      expect(clientBody).toMatchObject({ artifact_name: 'factory-image', device_type: 'vanpc' });
      const probeV1 = probeChecks.filter((s) => s.path.startsWith('/api/devices/v1/'));
      expect(probeV1.length).toBeGreaterThanOrEqual(3); // one per gate run that needed the size
      for (const s of probeV1) {
        expect(s.method).toBe('POST');
        expect(JSON.parse(s.body)).toEqual(clientBody);
        expect(s.status).toBe(200);
      }
      for (const s of probeChecks.filter((c) => c.path.startsWith('/api/devices/v2/'))) {
        expect(JSON.parse(s.body)).toEqual({ device_provides: clientBody, update_control_map: true });
        expect(s.status).toBe(404);
      }
      // …and asked the artifact link for one byte per run: its 206 answers; the one 200 is the client's
      // download.
      const storage = v.seen.filter((s) => s.method === 'GET' && s.path.startsWith(STORAGE_PATH));
      const ranged = storage.filter(byProbe);
      expect(ranged).toHaveLength(probeV1.length);
      expect(ranged.every((s) => s.status === 206 && s.responseBytes !== undefined)).toBe(true);
      expect(storage.filter((s) => !byProbe(s)).map((s) => [s.status, s.responseBytes! > size])).toEqual([[200, true]]);
      // What a run costs in HTTP bytes (both ways, headers included; TLS not counted: plain HTTP here).
      const probeBytes = v.seen.filter(byProbe).reduce((n, s) => n + s.requestBytes + (s.responseBytes ?? 0), 0);
      const perRun = probeBytes / probeV1.length;
      expect(perRun).toBeLessThan(4 * 1024);
      if (process.env.VC_PRINT_FIGURES === '1') console.log(`size probe: ${Math.round(perRun)} HTTP bytes per run`);
      // Nothing ever answered 409 (a conflicting update check fails the deployment).
      expect(v.seen.filter((s) => s.status === 409)).toEqual([]);

      // 4. The next release, on a van that has installed one: the client now sends the provides from its
      // datastore (mender-artifact's rootfs-image.<type>.version …), and so must the probe.
      const seenBefore = v.seen.length;
      await v.modem('modem-roaming-ch.out');
      await v.policy('roaming: small_only, roaming_small_mb: 0.001');
      const NEW2 = 'vancore-sizeprobe-2.1.0';
      await v.mgmt.uploadArtifact(await bed.buildArtifact(v.sb, { name: NEW2, files: { VERSION: '2.1.0\n' } }));
      const dep2 = await v.mgmt.createDeployment({ name: 'size-probe-2', artifact_name: NEW2, devices: [deviceId] });
      await nudgeUntil(
        bed,
        daemon,
        async () => {
          const d = await v.decision();
          const p = d?.facts.network as { size_probe?: { deployment_id?: string } } | undefined;
          return d?.reasons[0]?.code === 'roaming_over_small' && p?.size_probe?.deployment_id === dep2;
        },
        'a roaming_over_small deferral of the second release',
      );
      const later = v.seen.slice(seenBefore);
      const clientNow = later.filter(
        (s) => !byProbe(s) && NEXT.test(s.path) && s.method === 'POST' && s.status === 200,
      );
      const probeNow = later.filter(
        (s) => byProbe(s) && s.path === '/api/devices/v1/deployments/device/deployments/next',
      );
      expect(clientNow.length).toBeGreaterThan(0);
      expect(probeNow.length).toBeGreaterThan(0);
      const body2 = JSON.parse(clientNow[0]!.body) as Record<string, string>;
      expect(body2).toMatchObject({ artifact_name: NEW, device_type: 'vanpc' });
      expect(Object.keys(body2).length, JSON.stringify(body2)).toBeGreaterThan(2);
      if (process.env.VC_PRINT_FIGURES === '1') console.log('client body after an install:', body2);
      for (const s of probeNow) expect(JSON.parse(s.body)).toEqual(body2);
      expect(await v.mgmt.statistics(dep2)).toMatchObject({ success: 0, failure: 0 });
      expect(later.filter((s) => s.status === 409)).toEqual([]);
    },
  );
});
