// The slow path of reading ota.yaml: YAML + the full DeviceConfig schema. Loaded on demand by
// config-cache.ts, so a gate whose config did not change never pays for the YAML parser.
import { DeviceConfig } from '../core/config/device-config.js';
import { loadConfigFile } from '../core/config/load.js';

export async function parseDeviceConfigFile(path: string): Promise<DeviceConfig> {
  return loadConfigFile(DeviceConfig, path, { missingMeansDefaults: true });
}
