// A VanCore van inside a system-test sandbox: the shipped device executables (dist/device, copied once
// per test file so a rebuild of dist/ during the run cannot pull a file away), a host root with the
// van's files (ota.yaml, a NIC in sysfs for the identity script, the state dir), and a sensord-style
// readings writer. Mender passes its environment to every script and module unchanged (RECIPE §5), so
// `van.env` given to the daemon points the gates, hooks and modules at this root.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readGateJournal } from '../../../core/gate-journal.js';
import { copyBuiltHooks } from '../../integration/agent-hooks/support/bundles.js';
import { repoRoot } from '../../helpers/cli.js';
import type { Sandbox } from '../../../mender-sim/real-client/sandbox.js';

export const DOWNLOAD_GATE = 'Download_Enter_50_vancore-gate';
/** Where the van keeps its state (ota.yaml `state_dir` default), relative to the van's root. */
export const STATE_DIR = 'var/lib/vancore-ota';

export interface VanKit {
  configModule: string;
  identity: string;
  inventory: string;
  health: string;
  downloadGate: string;
}

/** Copies the device executables this suite needs from dist/device into `dir`. */
export async function copyVanKit(dir: string): Promise<VanKit> {
  const hooks = await copyBuiltHooks(dir, [
    'modules/vancore-config',
    'identity/mender-device-identity',
    'inventory/mender-inventory-vancore',
    'bin/vancore-ota-health',
  ]);
  const downloadGate = join(dir, DOWNLOAD_GATE);
  const from = join(repoRoot, 'dist/device/mender-scripts', DOWNLOAD_GATE);
  await copyFile(from, downloadGate).catch(() => {
    throw new Error(`${from} is missing: run 'npm run build' (npm test does)`);
  });
  await chmod(downloadGate, 0o755);
  return {
    configModule: hooks['modules/vancore-config'],
    identity: hooks['identity/mender-device-identity'],
    inventory: hooks['inventory/mender-inventory-vancore'],
    health: hooks['bin/vancore-ota-health'],
    downloadGate,
  };
}

export interface VanOptions {
  vanId: string;
  /** ota.yaml (written to <root>/etc/vancore/ota.yaml). */
  otaYaml: string;
  /** Files of the van before the test, relative to its root (e.g. `etc/vancore/hub.conf`). */
  files?: Record<string, string>;
}

export interface Readings {
  /** null = moving; else how long the van has been still. */
  stationaryForMinutes: number | null;
  signalQuality?: number;
  batterySoc?: number;
}

export interface Van {
  readonly root: string;
  readonly stateDir: string;
  /** Environment for the mender daemon: every gate, hook and module finds the van through it. */
  readonly env: NodeJS.ProcessEnv;
  /** Replaces readings.json atomically, as sensord does, with every section sampled now. */
  writeReadings(r: Readings): Promise<void>;
  /** Keeps readings.json fresh (sensord samples every few seconds); returns a stop function. */
  keepReadings(get: () => Readings, everyMs?: number): () => Promise<void>;
  journal(): ReturnType<typeof readGateJournal>['journal'];
  readState(name: string): Promise<unknown>;
}

/**
 * Installs the van into a managed sandbox: our identity and inventory scripts, the Download_Enter
 * gate as a rootfs script, the vancore-config module, the health runner under the van's root. The
 * identity's MAC is the sandbox's (so `bed.deviceId` finds the device).
 */
export async function installVan(sb: Sandbox, kit: VanKit, opts: VanOptions): Promise<Van> {
  const root = join(sb.root, 'van-root');
  const stateDir = join(root, STATE_DIR);
  await mkdir(stateDir, { recursive: true });
  const nic = join(root, 'sys/class/net/enp1s0');
  await mkdir(join(nic, 'device'), { recursive: true });
  const mac = sb.identity.mac;
  if (!mac) throw new Error('the sandbox has no identity mac');
  for (const [f, v] of Object.entries({ address: mac, ifindex: '2', type: '1', addr_assign_type: '0' }))
    await writeFile(join(nic, f), `${v}\n`);
  const files = { 'etc/vancore/ota.yaml': `van_id: ${opts.vanId}\n${opts.otaYaml}`, ...opts.files };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content);
  }
  const runner = join(root, 'usr/lib/vancore-ota/bin/vancore-ota-health');
  await mkdir(join(runner, '..'), { recursive: true });
  await copyFile(kit.health, runner);
  await chmod(runner, 0o755);

  const place = async (from: string, to: string) => {
    await copyFile(from, to);
    await chmod(to, 0o755);
  };
  await place(kit.identity, join(sb.shareDir, 'identity/mender-device-identity'));
  await place(kit.inventory, join(sb.shareDir, 'inventory/mender-inventory-vancore'));
  await sb.installModule('vancore-config', kit.configModule);
  await sb.addRootfsScript(DOWNLOAD_GATE, kit.downloadGate);

  const writeReadings = async (r: Readings) => {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const body = {
      motion: {
        stationary_since:
          r.stationaryForMinutes === null ? null : new Date(now - r.stationaryForMinutes * 60_000).toISOString(),
        source: 'imu',
        at,
      },
      signal: { quality: r.signalQuality ?? 0.8, at },
      power: { battery_soc_pct: r.batterySoc ?? 80, shore_power: false, at },
    };
    const tmp = join(stateDir, `.readings.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, `${JSON.stringify(body)}\n`);
    await rename(tmp, join(stateDir, 'readings.json'));
  };

  return {
    root,
    stateDir,
    env: { VANCORE_OTA_ROOT: root, VANCORE_MENDER_DATA_DIR: sb.dataDir },
    writeReadings,
    keepReadings: (get, everyMs = 1000) => {
      let last = writeReadings(get());
      const timer = setInterval(() => {
        last = last.then(() => writeReadings(get())).catch(() => undefined);
      }, everyMs);
      return async () => {
        clearInterval(timer);
        await last.catch(() => undefined);
      };
    },
    journal: () => readGateJournal(stateDir).journal,
    readState: async (name) => JSON.parse(await readFile(join(stateDir, name), 'utf8')) as unknown,
  };
}
