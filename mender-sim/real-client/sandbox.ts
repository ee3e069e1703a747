// A per-test sandbox for the real mender-client 3.4 (RECIPE §3): the folders that stand in for
// /etc/mender and /usr/share/mender (bind-mounted over them in a private mount namespace, see
// mender.ts), the --data dir, and the test's control folders. Nothing here touches the host's
// /etc/mender, /usr/share/mender or /var/lib/mender.
//
//   <root>/etc-mender/mender.conf               written by writeConfig (also passed with --config)
//   <root>/etc-mender/artifact_info             artifact_name=<initial name>  (needed until the first install)
//   <root>/etc-mender/scripts/version           "3" (needed as soon as any script exists)
//   <root>/etc-mender/scripts/<Idle|Sync|Download>_<Enter|Leave|Error>_NN_name   rootfs state scripts
//   <root>/share-mender/modules/v3/<type>       update modules
//   <root>/share-mender/identity/mender-device-identity
//   <root>/share-mender/inventory/mender-inventory-<name>
//   <root>/data/device_type                     device_type=<type>
//   <root>/data/mender-agent.pem                pre-seeded ed25519 device key (no 1–4 s RSA keygen)
//   <root>/ctl/                                 exit codes for the probes (setExit, setRetries, setModuleExit)
//   <root>/deploy/                              where the probe module installs payload files
//   <root>/markers.log                          "<epoch s> <SCRIPT|MODULE|INVENTORY> <name> <rc>" lines
//   <root>/artifacts/                           artifacts built for this test
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessGroup } from './processes.js';

/** The recording probes (scripts, module, inventory) the sandbox installs unless told otherwise. */
export const fixturesDir = join(import.meta.dirname, 'probes');
export const probeScript = join(fixturesDir, 'probe.sh');
export const probeModule = join(fixturesDir, 'probe-module.sh');
export const inventoryProbe = join(fixturesDir, 'inventory-probe.sh');

/** The payload type the probe module is installed as, unless a test installs it under another name. */
export const PROBE_MODULE_TYPE = 'vc-probe';

/** mender.conf keys the tests use (MenderConfigFromFile, 3.4.0). Unknown keys are ignored by the client. */
export interface MenderConf {
  ServerURL?: string;
  DBus?: { Enabled: boolean };
  UpdatePollIntervalSeconds?: number;
  InventoryPollIntervalSeconds?: number;
  RetryPollIntervalSeconds?: number;
  RetryPollCount?: number;
  StateScriptRetryIntervalSeconds?: number;
  StateScriptRetryTimeoutSeconds?: number;
  StateScriptTimeoutSeconds?: number;
  ModuleTimeoutSeconds?: number;
  ArtifactVerifyKey?: string;
  SkipVerify?: boolean;
  ServerCertificate?: string;
}

/**
 * Standalone config: DBus off, 21-retries every 1 s for at most 5 s (the defaults are 60 s / 30 min,
 * RECIPE §5.2), bounded script and module run times.
 */
export function standaloneConfig(over: MenderConf = {}): MenderConf {
  return {
    DBus: { Enabled: false },
    StateScriptRetryIntervalSeconds: 1,
    StateScriptRetryTimeoutSeconds: 5,
    StateScriptTimeoutSeconds: 20,
    ModuleTimeoutSeconds: 60,
    ...over,
  };
}

/**
 * Managed config (RECIPE §6): polls every 5 s (tests trigger extra ones with SIGUSR1/SIGUSR2; the
 * daemon checks at startup anyway), failed server calls retried every 2 s.
 */
export function managedConfig(serverUrl: string, over: MenderConf = {}): MenderConf {
  return standaloneConfig({
    ServerURL: serverUrl,
    UpdatePollIntervalSeconds: 5,
    InventoryPollIntervalSeconds: 5,
    RetryPollIntervalSeconds: 2,
    RetryPollCount: 3,
    ...over,
  });
}

export type MarkerKind = 'SCRIPT' | 'MODULE' | 'INVENTORY';

export interface Marker {
  /** Epoch milliseconds when the probe finished. */
  at: number;
  kind: MarkerKind;
  /** Script file name (e.g. `ArtifactCommit_Enter_00_probe`), module state (e.g. `ArtifactInstall`) or inventory name. */
  name: string;
  /** The exit code the probe returned. */
  rc: number;
}

const ROOTFS_STATE = /^(Idle|Sync|Download)_(Enter|Leave|Error)_[0-9]{2}(_\S+)?$/;

export interface SandboxOptions {
  /** Folder the sandbox is created in (default: the OS temp dir). */
  parent?: string;
  deviceType?: string;
  /** The artifact name before the first install (`/etc/mender/artifact_info`). */
  artifactName?: string;
  /** Identity attributes printed by the identity script; default a random `mac`. */
  identity?: Record<string, string>;
  /** mender.conf; default standaloneConfig(). */
  config?: MenderConf;
  /** Source of the module installed as PROBE_MODULE_TYPE; default the fixtures' probe module. */
  probeModule?: string;
}

export interface Sandbox {
  readonly root: string;
  readonly etcDir: string;
  readonly shareDir: string;
  readonly dataDir: string;
  readonly ctlDir: string;
  readonly deployDir: string;
  readonly artifactsDir: string;
  readonly markersFile: string;
  readonly configFile: string;
  readonly deviceType: string;
  readonly identity: Readonly<Record<string, string>>;
  /** The group every mender process of this sandbox is started in (killed at cleanup). */
  readonly processes: ProcessGroup;
  /** Environment for mender runs: the probes read VC_SB_MARKERS, VC_SB_CTL and VC_SB_DEPLOY. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  writeConfig(conf: MenderConf): Promise<void>;
  /** Installs a rootfs state script (Idle/Sync/Download only, RECIPE §5); default the marker probe. */
  addRootfsScript(name: string, source?: string): Promise<void>;
  /** Installs an update module as payload type `type`; default the probe module. */
  installModule(type: string, source?: string): Promise<void>;
  /** Installs `mender-inventory-<name>` printing `attributes` (a list value prints the key once per item). */
  addInventoryScript(name: string, attributes: Record<string, string | readonly string[]>): Promise<void>;
  /** Exit code of the probe script `name` from its next run on (0, 1, 21, …). */
  setExit(name: string, rc: number): Promise<void>;
  /** The probe script `name` returns 21 for its next `n` runs, then its setExit code. */
  setRetries(name: string, n: number): Promise<void>;
  /** Exit code the probe module returns in `state` (e.g. `ArtifactInstall`). */
  setModuleExit(state: string, rc: number): Promise<void>;
  markers(): Promise<Marker[]>;
  /** Files the probe module deployed: name → content. */
  deployedFiles(): Promise<Record<string, string>>;
  remove(): Promise<void>;
}

/** Writes via a temp file and rename, so a probe running concurrently reads the old or the new content. */
async function writeAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}

function identityScript(identity: Record<string, string>): string {
  const lines = Object.entries(identity).map(([k, v]) => `echo '${k}=${v.replace(/'/g, `'\\''`)}'`);
  return `#!/bin/sh\n# Identity script written by the system-test harness (RECIPE §7): key=value lines, exit 0.\n${lines.join('\n')}\n`;
}

const MARKER_KINDS: readonly MarkerKind[] = ['SCRIPT', 'MODULE', 'INVENTORY'];

/** Parses markers.log; lines that are not markers (none are expected) are skipped. */
export function parseMarkers(text: string): Marker[] {
  const out: Marker[] = [];
  for (const line of text.split('\n')) {
    const [at, kindText, name, rc, ...rest] = line.trim().split(' ');
    const kind = MARKER_KINDS.find((k) => k === kindText);
    if (kind === undefined || name === undefined || rest.length > 0) continue;
    if (!/^\d+(\.\d+)?$/.test(at ?? '') || !/^-?\d+$/.test(rc ?? '')) continue;
    out.push({ at: Math.round(Number(at) * 1000), kind, name, rc: Number(rc) });
  }
  return out;
}

export async function createSandbox(processes: ProcessGroup, opts: SandboxOptions = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(opts.parent ?? tmpdir(), 'vc-mender-sb-'));
  const etcDir = join(root, 'etc-mender');
  const shareDir = join(root, 'share-mender');
  const dataDir = join(root, 'data');
  const ctlDir = join(root, 'ctl');
  const deployDir = join(root, 'deploy');
  const artifactsDir = join(root, 'artifacts');
  const markersFile = join(root, 'markers.log');
  const configFile = join(etcDir, 'mender.conf');
  const deviceType = opts.deviceType ?? 'vanpc';
  const identity = opts.identity ?? {
    mac: `02:00:${[...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
  };

  for (const d of [
    join(etcDir, 'scripts'),
    join(shareDir, 'modules/v3'),
    join(shareDir, 'identity'),
    join(shareDir, 'inventory'),
    dataDir,
    ctlDir,
    deployDir,
    artifactsDir,
  ]) {
    await mkdir(d, { recursive: true });
  }
  await writeFile(join(etcDir, 'scripts/version'), '3\n');
  await writeFile(join(etcDir, 'artifact_info'), `artifact_name=${opts.artifactName ?? 'factory-image'}\n`);
  await writeFile(join(dataDir, 'device_type'), `device_type=${deviceType}\n`);
  await writeFile(join(shareDir, 'identity/mender-device-identity'), identityScript(identity), { mode: 0o755 });
  // The client accepts a PKCS#8 ed25519 key as its device key (RECIPE §6.2); RSA-3072 keygen would cost 1–4 s.
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeFile(join(dataDir, 'mender-agent.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(markersFile, '');

  const sb: Sandbox = {
    root,
    etcDir,
    shareDir,
    dataDir,
    ctlDir,
    deployDir,
    artifactsDir,
    markersFile,
    configFile,
    deviceType,
    identity,
    processes,
    env: (extra = {}) => ({
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: root,
      VC_SB_MARKERS: markersFile,
      VC_SB_CTL: ctlDir,
      VC_SB_DEPLOY: deployDir,
      ...extra,
    }),
    writeConfig: (conf) => writeAtomic(configFile, `${JSON.stringify(conf, null, 2)}\n`),
    addRootfsScript: async (name, source = probeScript) => {
      if (!ROOTFS_STATE.test(name)) {
        throw new Error(
          `${name}: rootfs scripts are Idle/Sync/Download_<Enter|Leave|Error>_NN[_name]; other states come from the artifact`,
        );
      }
      const dest = join(etcDir, 'scripts', name);
      await copyFile(source, dest);
      await chmod(dest, 0o755);
    },
    installModule: async (type, source = probeModule) => {
      const dest = join(shareDir, 'modules/v3', type);
      await copyFile(source, dest);
      await chmod(dest, 0o755);
    },
    addInventoryScript: async (name, attributes) => {
      const lines = Object.entries(attributes).flatMap(([k, v]) =>
        (typeof v === 'string' ? [v] : v).map((item) => `${k}=${item}`),
      );
      await writeAtomic(join(ctlDir, `inventory.${name}`), lines.map((l) => `${l}\n`).join(''));
      const dest = join(shareDir, 'inventory', `mender-inventory-${name}`);
      await copyFile(inventoryProbe, dest);
      await chmod(dest, 0o755);
    },
    setExit: (name, rc) => writeAtomic(join(ctlDir, name), `${rc}\n`),
    setRetries: (name, n) => writeAtomic(join(ctlDir, `${name}.retries`), `${n}\n`),
    setModuleExit: (state, rc) => writeAtomic(join(ctlDir, `module.${state}`), `${rc}\n`),
    markers: async () => parseMarkers(await readFile(markersFile, 'utf8')),
    deployedFiles: async () => {
      const out: Record<string, string> = {};
      for (const name of (await readdir(deployDir)).sort()) out[name] = await readFile(join(deployDir, name), 'utf8');
      return out;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
  await sb.writeConfig(opts.config ?? standaloneConfig());
  await sb.installModule(PROBE_MODULE_TYPE, opts.probeModule);
  return sb;
}
