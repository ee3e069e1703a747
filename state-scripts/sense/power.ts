// Power from /sys/class/power_supply (Documentation/ABI/testing/sysfs-class-power): a battery's
// `capacity` (0–100 %) and a mains supply's `online` (0/1). The configured names (BAT0, AC) are
// used when present; otherwise the first supply whose `type` is Battery / Mains is.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PowerSample {
  battery_soc_pct: number | null;
  shore_power: boolean | null;
  problems: string[];
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function findByType(dir: string, type: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return null;
  }
  return names.find((n) => read(join(dir, n, 'type')) === type) ?? null;
}

export function readPowerSupply(dir: string, names: { battery: string; mains: string }): PowerSample {
  const problems: string[] = [];
  const bat = read(join(dir, names.battery, 'capacity')) !== null ? names.battery : findByType(dir, 'Battery');
  const ac = read(join(dir, names.mains, 'online')) !== null ? names.mains : findByType(dir, 'Mains');
  let battery_soc_pct: number | null = null;
  if (bat) {
    const n = Number(read(join(dir, bat, 'capacity')));
    if (Number.isFinite(n) && n >= 0 && n <= 100) battery_soc_pct = n;
    else problems.push(`${bat}/capacity unreadable`);
  } else problems.push(`no battery in ${dir}`);
  let shore_power: boolean | null = null;
  if (ac) {
    const v = read(join(dir, ac, 'online'));
    if (v === '1' || v === '0') shore_power = v === '1';
    else problems.push(`${ac}/online unreadable`);
  } else problems.push(`no mains supply in ${dir}`);
  return { battery_soc_pct, shore_power, problems };
}
