// Every on-device path comes from a root (default "/"), so tests run the real code on a temp tree.
import { isAbsolute, join } from 'node:path';

export interface HostPaths {
  readonly root: string;
  /** Resolve an absolute on-device path (e.g. "/etc/vancore/ota.yaml") under the root. */
  resolve(devicePath: string): string;
  readonly etcVancore: string;
  readonly vanIdFile: string;
  readonly menderEtc: string;
  readonly menderScripts: string;
  readonly menderShare: string;
  readonly menderModules: string;
  readonly menderIdentity: string;
  readonly menderInventory: string;
  readonly sysIio: string;
  readonly sysPowerSupply: string;
  readonly procNetWireless: string;
  readonly procThermal: string;
}

export function hostPaths(root = '/'): HostPaths {
  const resolve = (p: string) => {
    if (!isAbsolute(p)) throw new Error(`device path must be absolute: ${p}`);
    return root === '/' ? p : join(root, p);
  };
  return {
    root,
    resolve,
    etcVancore: resolve('/etc/vancore'),
    vanIdFile: resolve('/etc/vancore/van-id'),
    menderEtc: resolve('/etc/mender'),
    menderScripts: resolve('/etc/mender/scripts'),
    menderShare: resolve('/usr/share/mender'),
    menderModules: resolve('/usr/share/mender/modules/v3'),
    menderIdentity: resolve('/usr/share/mender/identity'),
    menderInventory: resolve('/usr/share/mender/inventory'),
    sysIio: resolve('/sys/bus/iio/devices'),
    sysPowerSupply: resolve('/sys/class/power_supply'),
    procNetWireless: resolve('/proc/net/wireless'),
    procThermal: resolve('/sys/class/thermal'),
  };
}
