// One van run by the real mender-client 3.4 (when installed and the demo runs as root): the system-test
// harness sandbox (test/system/harness, `unshare --mount`), managed mode against the demo's simulator, the
// VanCore gates from the artifact running for real, and a stand-in for the vancore-compose module that
// copies the payload and records the committed version (no dockerd needed). It never fails the demo:
// every problem becomes a line in `status()`.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InstalledVersions } from '../../core/versions.js';
import { startDaemon, type Daemon } from '../../mender-sim/real-client/mender.js';
import { ProcessGroup } from '../../mender-sim/real-client/processes.js';
import { createSandbox, managedConfig, type Sandbox } from '../../mender-sim/real-client/sandbox.js';
import { DEMO_DEVICE_TYPE, FACTORY } from './script.js';

export const REAL_VAN_ID = 'van-real-01';

export interface RealVan {
  readonly vanId: string;
  readonly identity: Readonly<Record<string, string>>;
  /** One line: what the real client is doing, or why it stopped. */
  status(): string;
  /** The daemon could not start or exited by itself. */
  failed(): boolean;
  /** Installed versions as its module recorded them. */
  versions(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Why the real client cannot run here, or undefined when it can. */
export function realVanUnavailable(env: NodeJS.ProcessEnv): string | undefined {
  if (env.VANCORE_DEMO_REAL_CLIENT === '0') return 'VANCORE_DEMO_REAL_CLIENT=0';
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  if (!has('mender')) return 'mender-client is not installed (apt-get install mender-client)';
  if (process.getuid?.() !== 0) return 'its sandbox (unshare --mount) needs root';
  for (const cmd of ['unshare', 'setpriv']) if (!has(cmd)) return `${cmd} is not installed (util-linux)`;
  return undefined;
}

// Update module protocol v3 (RECIPE §8): installs the payload files into the sandbox's deploy dir and,
// at commit, records `vancore.<component>.version` from the artifact's meta-data in versions.json — what
// the real vancore-compose module does after `docker compose up`, minus docker.
const MODULE = `#!/bin/sh
STATE="$1"; FILES="$2"
case "$STATE" in
  NeedsArtifactReboot) echo No ;;
  SupportsRollback) echo Yes ;;
  ArtifactInstall) mkdir -p "$VC_SB_DEPLOY" && cp -a "$FILES"/files/. "$VC_SB_DEPLOY"/ ;;
  ArtifactCommit) node -e '
    const fs = require("fs"); const [meta, dir] = process.argv.slice(1);
    const v = JSON.parse(fs.readFileSync(meta, "utf8")).vancore;
    const f = dir + "/versions.json"; let cur = {};
    try { cur = JSON.parse(fs.readFileSync(f, "utf8")); } catch {}
    cur[v.component] = v.version;
    fs.writeFileSync(f + ".tmp", JSON.stringify(cur)); fs.renameSync(f + ".tmp", f);
  ' "$FILES/header/meta-data" "$VANCORE_OTA_STATE_DIR" ;;
esac
exit 0
`;

// Inventory (contracts "Inventory"): the van id, the versions its module recorded, health and gate.
const INVENTORY = `#!/bin/sh
echo "vancore.van_id=${REAL_VAN_ID}"
node -e '
  const fs = require("fs");
  let v = {}; try { v = JSON.parse(fs.readFileSync(process.argv[1] + "/versions.json", "utf8")); } catch {}
  for (const [c, ver] of Object.entries(v)) console.log("vancore." + c + ".version=" + ver);
' "$VANCORE_OTA_STATE_DIR"
echo "vancore.health.disk_ok=true"
echo "vancore.health.temp_ok=true"
echo "vancore.health.signal_quality=0.82"
echo "vancore.health.battery_soc=88"
echo "vancore.health.shore_power=false"
echo "vancore.gate.state=open"
`;

function readings(): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return `${JSON.stringify({
    motion: { stationary_since: new Date(now - 30 * 60_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.82, at },
    power: { battery_soc_pct: 88, shore_power: false, at },
  })}\n`;
}

/**
 * Kill whatever still runs for this sandbox: the gate scripts and modules mender started are its
 * children, and they outlive a stopped daemon (they are reparented, not killed). Every one of them
 * inherited the sandbox's environment, which names the sandbox root.
 */
async function killLeftovers(root: string): Promise<number> {
  let killed = 0;
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if ((await readFile(`/proc/${pid}/environ`, 'latin1')).includes(`=${root}/`)) {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      }
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return killed;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

export async function startRealVan(opts: {
  parent: string;
  serverUrl: string;
  /** The public key the artifacts are signed with: the client verifies every artifact against it. */
  verifyKeyFile: string;
}): Promise<RealVan> {
  const processes = new ProcessGroup();
  const moduleFile = join(opts.parent, 'vancore-compose-demo-module');
  await writeFile(moduleFile, MODULE, { mode: 0o755 });
  const { publicKey } = generateKeyPairSync('ed25519');
  const mac = `02:ff:${publicKey
    .export({ type: 'spki', format: 'der' })
    .subarray(-4)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1:')}`;
  const sb: Sandbox = await createSandbox(processes, {
    parent: opts.parent,
    deviceType: DEMO_DEVICE_TYPE,
    artifactName: FACTORY.artifactName,
    identity: { mac, van_id: REAL_VAN_ID },
    probeModule: moduleFile,
    config: managedConfig(opts.serverUrl, {
      UpdatePollIntervalSeconds: 1,
      InventoryPollIntervalSeconds: 2,
      RetryPollIntervalSeconds: 1,
      ArtifactVerifyKey: opts.verifyKeyFile,
    }),
  });
  await sb.installModule('vancore-compose', moduleFile);
  const van = join(sb.root, 'van');
  const stateDir = join(van, 'state');
  await mkdir(stateDir, { recursive: true });
  await mkdir(join(van, 'root/proc/net'), { recursive: true });
  await writeFile(join(van, 'ota.yaml'), '# the documented defaults\n');
  await writeFile(join(stateDir, 'versions.json'), `${JSON.stringify(FACTORY.versions)}\n`);
  await writeAtomic(join(stateDir, 'readings.json'), readings());
  const invFile = join(sb.shareDir, 'inventory', 'mender-inventory-vancore');
  await writeFile(invFile, INVENTORY);
  await chmod(invFile, 0o755);

  let daemon: Daemon | undefined;
  let problem: string | undefined;
  try {
    daemon = startDaemon(sb, {
      env: {
        VANCORE_OTA_CONFIG: join(van, 'ota.yaml'),
        VANCORE_OTA_STATE_DIR: stateDir,
        VANCORE_MENDER_DATA_DIR: sb.dataDir,
        VANCORE_OTA_ROOT: join(van, 'root'),
      },
    });
  } catch (e) {
    problem = `could not start: ${(e as Error).message}`;
  }
  let stopping = false;
  void daemon?.exited.then((exit) => {
    if (stopping) return;
    const last = (daemon?.logs() ?? '').trim().split('\n').at(-1)?.slice(0, 200) ?? '';
    problem = `mender daemon exited (code ${exit.code}, signal ${exit.signal})${last ? `: ${last}` : ''}`;
  });
  // The sensors of a parked van: fresh readings, as sensord would keep them.
  const timer = setInterval(() => void writeAtomic(join(stateDir, 'readings.json'), readings()).catch(() => {}), 5_000);
  timer.unref();

  const versions = async (): Promise<Record<string, string>> => {
    try {
      const parsed = InstalledVersions.safeParse(JSON.parse(await readFile(join(stateDir, 'versions.json'), 'utf8')));
      return parsed.success ? parsed.data : {};
    } catch {
      return {};
    }
  };
  return {
    vanId: REAL_VAN_ID,
    identity: sb.identity,
    status: () => problem ?? (daemon ? `mender daemon running (pid ${daemon.pid})` : 'not started'),
    failed: () => problem !== undefined,
    versions,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await processes.close();
      // Twice: a script may have started a child while the first pass ran.
      if ((await killLeftovers(sb.root)) > 0) await new Promise((r) => setTimeout(r, 200));
      await killLeftovers(sb.root);
      await sb.remove();
    },
  };
}
