// Where a hook finds the van: the host root (tests point it at a temp tree), ota.yaml and the state
// dir. Read once by each executable's main from the environment it was given; passed down as a value.
import { DEFAULT_DEVICE_CONFIG_PATH, DeviceConfig } from '../../core/config/device-config.js';
import { loadConfigFile } from '../../core/config/load.js';
import { VanError } from '../../core/errors.js';
import { hostPaths, type HostPaths } from '../../core/host-paths.js';

export interface DeviceContext {
  readonly paths: HostPaths;
  readonly config: Readonly<DeviceConfig>;
  /** Host path of the ota.yaml that was read (it may be absent: then `config` holds the defaults). */
  readonly configPath: string;
  /** Host path of the state dir: $VANCORE_OTA_STATE_DIR as given, else ota.yaml `state_dir` under the root. */
  readonly stateDir: string;
}

export interface DeviceEnv {
  /** Host root every device path is resolved under (default "/"). */
  VANCORE_OTA_ROOT?: string;
  /** ota.yaml as a host path; default /etc/vancore/ota.yaml under the root. */
  VANCORE_OTA_CONFIG?: string;
  /** The state dir as a host path, overriding ota.yaml's `state_dir` (same rule as the gates). */
  VANCORE_OTA_STATE_DIR?: string;
}

/**
 * Load the device context. `configFile` (a --config option) wins over $VANCORE_OTA_CONFIG. A missing
 * ota.yaml means the documented defaults; an invalid one is an error (a typo must not silently
 * change a van's behaviour).
 */
export async function loadDeviceContext(env: DeviceEnv, configFile?: string): Promise<DeviceContext> {
  const paths = hostPaths(env.VANCORE_OTA_ROOT || '/');
  const configPath = configFile ?? env.VANCORE_OTA_CONFIG ?? paths.resolve(DEFAULT_DEVICE_CONFIG_PATH);
  const config = await loadConfigFile(DeviceConfig, configPath, { missingMeansDefaults: true });
  const override = env.VANCORE_OTA_STATE_DIR || undefined;
  if (!override && !config.state_dir.startsWith('/')) {
    throw new VanError('CONFIG_INVALID', `state_dir must be an absolute path, got '${config.state_dir}'`);
  }
  const stateDir = override ?? paths.resolve(config.state_dir);
  return { paths, config, configPath, stateDir };
}
