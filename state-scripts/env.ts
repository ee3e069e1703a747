// Where a device executable finds its inputs. The same rules hold for the bundled state scripts,
// `vancore-ota gate check` and `vancore-ota sensord` (docs/gates.md, "Environment"):
//   config     --config, else $VANCORE_OTA_CONFIG, else /etc/vancore/ota.yaml (missing = defaults)
//   state dir  $VANCORE_OTA_STATE_DIR, else ota.yaml `state_dir`
//   Mender     $VANCORE_MENDER_DATA_DIR, else $MENDER_DATASTORE_DIR (the C++ client's own variable,
//              RECIPE-current §2), else /var/lib/mender (the client's --data / datastore)
//   host root  $VANCORE_OTA_ROOT, else / (every default device path is resolved under it: tests, sandboxes)
// Mender passes its own environment to every script unchanged (RECIPE §5), so these reach the gates.
import type { DeviceConfig } from '../core/config/device-config.js';
import { isAbsolute } from 'node:path';
import { VanError } from '../core/errors.js';
import { hostPaths, type HostPaths } from '../core/host-paths.js';
import { loadDeviceConfig } from './config-cache.js';

export const DEFAULT_MENDER_DATA_DIR = '/var/lib/mender';

// The same values as core/config/device-config.ts exports (a test pins them equal). Importing them from
// there would build the whole DeviceConfig schema on every gate start, which a cached config avoids.
export const DEFAULT_DEVICE_CONFIG_PATH = '/etc/vancore/ota.yaml';
export const DEFAULT_STATE_DIR = '/var/lib/vancore-ota';

export const EnvVars = {
  config: 'VANCORE_OTA_CONFIG',
  stateDir: 'VANCORE_OTA_STATE_DIR',
  menderData: 'VANCORE_MENDER_DATA_DIR',
  root: 'VANCORE_OTA_ROOT',
} as const;

export interface DeviceSetup {
  config: Readonly<DeviceConfig>;
  configPath: string;
  stateDir: string;
  menderDataDir: string;
  paths: HostPaths;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Paths that do not need the config: where it is, and where its cache may live. */
export function preConfig(env: NodeJS.ProcessEnv, configFlag?: string) {
  const paths = hostPaths(nonEmpty(env[EnvVars.root]) ?? '/');
  const stateDirOverride = nonEmpty(env[EnvVars.stateDir]);
  return {
    paths,
    configPath: configFlag ?? nonEmpty(env[EnvVars.config]) ?? paths.resolve(DEFAULT_DEVICE_CONFIG_PATH),
    stateDirOverride,
    /** Where the parsed-config cache lives: the state dir as far as it is known before the config is read. */
    cacheDir: stateDirOverride ?? paths.resolve(DEFAULT_STATE_DIR),
    menderDataDir:
      nonEmpty(env[EnvVars.menderData]) ?? nonEmpty(env.MENDER_DATASTORE_DIR) ?? paths.resolve(DEFAULT_MENDER_DATA_DIR),
  };
}

export async function loadSetup(
  env: NodeJS.ProcessEnv,
  opts: { configPath?: string; cache?: boolean } = {},
): Promise<DeviceSetup> {
  const pre = preConfig(env, opts.configPath);
  const config = await loadDeviceConfig(pre.configPath, opts.cache === false ? null : pre.cacheDir);
  if (!pre.stateDirOverride && !isAbsolute(config.state_dir)) {
    throw new VanError('CONFIG_INVALID', `invalid config ${pre.configPath}: state_dir: must be an absolute path`);
  }
  return {
    config,
    configPath: pre.configPath,
    stateDir: pre.stateDirOverride ?? pre.paths.resolve(config.state_dir),
    menderDataDir: pre.menderDataDir,
    paths: pre.paths,
  };
}
