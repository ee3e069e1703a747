// The test bed fixture: `systemTest('…', async ({ bed }) => …)` gives each test its own process group,
// simulators and sandboxes, and tears all of them down after the test — passed, failed or timed out.
// On failure it prints what is needed to understand the run: the simulator's request log, the probe
// markers and the tail of each daemon's log.
import { test } from 'vitest';
import { startMenderSim, type MenderSim, type MenderSimOptions } from '../../../mender-sim/index.js';
import { buildArtifact, type ArtifactSpec } from './artifact.js';
import { startDaemon, type Daemon, type DaemonOptions } from '../../../mender-sim/real-client/mender.js';
import { MgmtClient, type Statistics } from './mgmt.js';
import { ProcessGroup } from '../../../mender-sim/real-client/processes.js';
import {
  createSandbox,
  managedConfig,
  type MenderConf,
  type Sandbox,
  type SandboxOptions,
} from '../../../mender-sim/real-client/sandbox.js';
import { waitFor, type WaitOptions } from './wait.js';

export type Sim = MenderSim;
export type SimOptions = MenderSimOptions;

/** Rootfs probes every managed sandbox gets, so that the Download_* states leave markers. */
export const DOWNLOAD_PROBES = ['Download_Enter_00_probe', 'Download_Leave_00_probe', 'Download_Error_00_probe'];

/** Final device deployment statuses (GUIDE §4 point 3). */
export const FINAL_STATUSES: readonly string[] = [
  'success',
  'failure',
  'already-installed',
  'noartifact',
  'aborted',
  'decommissioned',
];

export interface ManagedDevice {
  sim: Sim;
  mgmt: MgmtClient;
  sb: Sandbox;
}

export interface Bed {
  readonly processes: ProcessGroup;
  /** A fresh sandbox, removed after the test (kept when the test failed or VC_KEEP_SANDBOX=1). */
  sandbox(opts?: SandboxOptions): Promise<Sandbox>;
  /** A fresh simulator on a port of its own (closed after the test) and a logged-in management client. */
  sim(opts?: SimOptions): Promise<{ sim: Sim; mgmt: MgmtClient }>;
  /** Simulator + sandbox in managed mode against it (RECIPE §6 config), with the Download_* probes. */
  managedDevice(opts?: { sim?: SimOptions; config?: MenderConf; sandbox?: SandboxOptions }): Promise<ManagedDevice>;
  /** Starts `mender daemon` in `sb`; it is stopped after the test. */
  startDaemon(sb: Sandbox, opts?: DaemonOptions): Daemon;
  /** Builds an artifact into the sandbox's artifacts dir. */
  buildArtifact(sb: Sandbox, spec: Omit<ArtifactSpec, 'dir'>): Promise<string>;
  /** The sandbox's device as deviceauth lists it (found by its identity `mac`), once it has asked to authenticate. */
  deviceId(dev: ManagedDevice, opts?: { status?: 'pending' | 'accepted'; daemon?: Daemon }): Promise<string>;
  /**
   * Waits until the device's status in the deployment is final (devices/list) and returns the
   * deployment's statistics then. The client reports `failure` as its rollback chain starts, and an
   * abort is final on the server at once: wait for the device side (markers) separately.
   */
  finalStatus(
    dev: ManagedDevice,
    deploymentId: string,
    deviceId: string,
    opts?: { daemon?: Daemon; timeoutMs?: number },
  ): Promise<{ status: string; statistics: Statistics }>;
  /** waitFor that fails fast if `daemon` dies (the teardown prints the diagnostics of a failed test). */
  waitFor<T>(
    predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    opts: WaitOptions & { daemon?: Daemon },
  ): Promise<T>;
}

function keepSandboxes(): boolean {
  return process.env.VC_KEEP_SANDBOX === '1';
}

function formatRequests(sim: Sim): string {
  return sim
    .requests()
    .map((r) => `  ${r.at} ${r.method} ${r.path} -> ${r.status}`)
    .join('\n');
}

export const systemTest = test.extend<{ bed: Bed }>({
  bed: async ({ task }, use) => {
    const processes = new ProcessGroup();
    const sims: Sim[] = [];
    const sandboxes: Sandbox[] = [];
    const daemons: { sb: Sandbox; daemon: Daemon }[] = [];

    const diagnostics = async (): Promise<string> => {
      const parts: string[] = [];
      for (const sim of sims) parts.push(`simulator ${sim.url} requests:\n${formatRequests(sim)}`);
      for (const sb of sandboxes) {
        const marks = (await sb.markers().catch(() => []))
          .map((m) => `  ${new Date(m.at).toISOString()} ${m.kind} ${m.name} -> ${m.rc}`)
          .join('\n');
        parts.push(`sandbox ${sb.root} markers:\n${marks}`);
      }
      for (const { sb, daemon } of daemons) {
        parts.push(`daemon ${daemon.pid} (${sb.root}) log tail:\n${daemon.logs().split('\n').slice(-40).join('\n')}`);
      }
      return parts.join('\n\n');
    };

    const bed: Bed = {
      processes,
      sandbox: async (opts) => {
        const sb = await createSandbox(processes, opts);
        sandboxes.push(sb);
        return sb;
      },
      sim: async (opts = {}) => {
        const sim = await startMenderSim({ port: 0, ...opts });
        sims.push(sim);
        return { sim, mgmt: new MgmtClient(sim.url, await sim.managementToken()) };
      },
      managedDevice: async (opts = {}) => {
        const { sim, mgmt } = await bed.sim(opts.sim);
        const sb = await bed.sandbox({ ...opts.sandbox, config: managedConfig(sim.url, opts.config) });
        for (const name of DOWNLOAD_PROBES) await sb.addRootfsScript(name);
        return { sim, mgmt, sb };
      },
      startDaemon: (sb, opts) => {
        const daemon = startDaemon(sb, opts);
        daemons.push({ sb, daemon });
        return daemon;
      },
      buildArtifact: (sb, spec) => buildArtifact({ ...spec, dir: sb.artifactsDir }),
      deviceId: async (dev, opts = {}) => {
        const mac = dev.sb.identity.mac;
        const device = await bed.waitFor(
          async () =>
            (await dev.mgmt.devices(opts.status)).find(
              (d) => d.identity_data.mac === mac && (opts.status === undefined || d.status === opts.status),
            ),
          { describe: `device ${mac} in deviceauth${opts.status ? ` as ${opts.status}` : ''}`, daemon: opts.daemon },
        );
        return device.id;
      },
      finalStatus: async (dev, deploymentId, deviceId, opts = {}) => {
        const status = await bed.waitFor(
          async () => {
            const entry = (await dev.mgmt.deviceDeployments(deploymentId)).find((d) => d.id === deviceId);
            return entry && FINAL_STATUSES.includes(entry.status) ? entry.status : undefined;
          },
          {
            describe: `a final status of device ${deviceId} in deployment ${deploymentId}`,
            daemon: opts.daemon,
            timeoutMs: opts.timeoutMs ?? 20_000,
          },
        );
        return { status, statistics: await dev.mgmt.statistics(deploymentId) };
      },
      waitFor: (predicate, opts) =>
        waitFor(
          async () => {
            opts.daemon?.assertRunning();
            return predicate();
          },
          { intervalMs: 100, ...opts },
        ),
    };

    try {
      await use(bed);
    } finally {
      // Daemons first (they talk to the simulators and write into the sandboxes), then the rest.
      // Vitest runs this teardown after a pass, a failure or a timeout, before onTestFailed hooks:
      // the diagnostics are printed here, while the sandboxes still exist, and failed ones are kept.
      await processes.close();
      const failed = task.result?.state === 'fail';
      if (failed) console.error(`--- system test diagnostics: ${task.name} ---\n${await diagnostics()}`);
      await Promise.all(sims.map((s) => s.close()));
      if (!failed && !keepSandboxes()) await Promise.all(sandboxes.map((sb) => sb.remove()));
    }
  },
});
