// The real host sensors: the thermal zones under the van root first (sysfs, so tests and images can
// stand in for the hub's), then systeminformation (only the inventory script loads it: ~60 ms).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import si from 'systeminformation';
import type { HostPaths } from '../../core/host-paths.js';
import type { HealthProbes } from './inventory.js';

/** Pure: zone (type, millidegrees text) pairs → the CPU temperature in °C; junk readings are skipped. */
export function cpuTempFromZones(zones: readonly { type: string; temp: string }[]): number | undefined {
  const valid = zones
    .map((z) => ({ type: z.type.trim(), c: /^-?\d+$/.test(z.temp.trim()) ? Number(z.temp.trim()) / 1000 : NaN }))
    // A sensor that reads absurd values is broken, not hot (-40…150 °C is what the hardware can see).
    .filter((z) => Number.isFinite(z.c) && z.c > -40 && z.c < 150);
  const cpu = valid.filter((z) => /x86_pkg_temp|cpu|soc|coretemp|k10temp/i.test(z.type));
  const pick = cpu.length > 0 ? cpu : valid;
  return pick.length > 0 ? Math.max(...pick.map((z) => z.c)) : undefined;
}

async function thermalZones(dir: string): Promise<{ type: string; temp: string }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: { type: string; temp: string }[] = [];
  for (const n of names.filter((x) => x.startsWith('thermal_zone'))) {
    const temp = await readFile(join(dir, n, 'temp'), 'utf8').catch(() => null);
    if (temp === null) continue;
    out.push({ type: await readFile(join(dir, n, 'type'), 'utf8').catch(() => ''), temp });
  }
  return out;
}

/** The mount holding `path`: the longest mount point that is a prefix of it. */
export function mountFor<T extends { mount: string }>(mounts: readonly T[], path: string): T | undefined {
  return mounts
    .filter((m) => path === m.mount || path.startsWith(m.mount.endsWith('/') ? m.mount : `${m.mount}/`))
    .sort((a, b) => b.mount.length - a.mount.length)[0];
}

export function hostProbes(paths: HostPaths): HealthProbes {
  return {
    ...siProbes,
    async cpuTempC() {
      return cpuTempFromZones(await thermalZones(paths.procThermal)) ?? siProbes.cpuTempC();
    },
  };
}

export const siProbes: HealthProbes = {
  async disk(path) {
    const m = mountFor(await si.fsSize(), path);
    return m && Number.isFinite(m.available) && m.size > 0
      ? { availableBytes: m.available, sizeBytes: m.size }
      : undefined;
  },
  async cpuTempC() {
    const t = await si.cpuTemperature();
    // systeminformation reports a missing sensor as null (older versions: -1).
    return typeof t.main === 'number' && t.main > 0 ? t.main : undefined;
  },
  async memory() {
    const m = await si.mem();
    return m.total > 0 ? { availableBytes: m.available, totalBytes: m.total } : undefined;
  },
};
