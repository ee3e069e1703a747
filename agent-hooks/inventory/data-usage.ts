// Cellular data this month (issue #17 item 5): the van adds up its wwan interfaces' kernel byte
// counters (/sys/class/net/<if>/statistics/{rx,tx}_bytes) in data-usage.json at every inventory run
// and reports the month's total as `vancore.data.month` / `vancore.data.month_bytes`. The bridge
// compares it with the van's monthly budget (docs/rollouts.md "Data ledger").
//
// The counters start at 0 at boot and when an interface is re-created, so the file keeps the last
// values seen with the boot id: the next run adds the difference, or — after a reboot, a new interface
// or a counter that went backwards — the whole current value (everything since that counter started).
// What a previous boot sent after the last run before it went down is not seen (an under-count; the
// inventory runs every InventoryPollIntervalSeconds). A new month starts at 0: the bytes between the
// last run of the old month and the first of the new one are counted in the new month.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod/mini';

export const DataUsage = z.object({
  /** `YYYY-MM`, UTC. */
  month: z.string().check(z.regex(/^\d{4}-\d{2}$/)),
  bytes: z.number().check(z.int(), z.minimum(0)),
  boot_id: z.string().check(z.maxLength(64)),
  /** Per interface: the rx + tx counter sum last seen. */
  counters: z.record(z.string().check(z.maxLength(32)), z.number().check(z.minimum(0))),
});
export type DataUsage = z.infer<typeof DataUsage>;

export interface CounterSample {
  bootId: string;
  /** rx_bytes + tx_bytes per cellular interface now. */
  counters: Record<string, number>;
}

export const monthOf = (now: Date): string => now.toISOString().slice(0, 7);

/**
 * Pure: the stored usage, a new sample and the time → the usage to store. The first run ever has no
 * baseline: it stores the counters and counts nothing (traffic before the feature was installed is not
 * this month's OTA layer's to know).
 */
export function accumulate(prev: DataUsage | null, sample: CounterSample, now: Date): DataUsage {
  const month = monthOf(now);
  if (!prev) return { month, bytes: 0, boot_id: sample.bootId, counters: { ...sample.counters } };
  let added = 0;
  const sameBoot = prev.boot_id === sample.bootId;
  for (const [iface, value] of Object.entries(sample.counters)) {
    const last = prev.counters[iface];
    added += sameBoot && last !== undefined && value >= last ? value - last : value;
  }
  const base = prev.month === month ? prev.bytes : 0;
  return { month, bytes: base + added, boot_id: sample.bootId, counters: { ...sample.counters } };
}

/** A cellular interface: DEVTYPE=wwan in its uevent, or a ppp/wwan/rmnet name (modems seen on hubs). */
export function isCellular(name: string, uevent: string): boolean {
  return /^DEVTYPE=wwan$/m.test(uevent) || /^(wwan|ppp|rmnet|wwp)/.test(name);
}

/**
 * Reads the counters of every cellular interface under `netDir` (/sys/class/net) and the boot id.
 * Undefined when there is no cellular interface (a hub without a modem reports no data keys).
 */
export async function sampleCounters(netDir: string, bootIdFile: string): Promise<CounterSample | undefined> {
  const counters: Record<string, number> = {};
  let names: string[];
  try {
    names = await readdir(netDir);
  } catch {
    return undefined;
  }
  for (const name of names.sort()) {
    const dir = join(netDir, name);
    const uevent = await readFile(join(dir, 'uevent'), 'utf8').catch(() => '');
    if (!isCellular(name, uevent)) continue;
    const rx = Number((await readFile(join(dir, 'statistics/rx_bytes'), 'utf8').catch(() => '')).trim());
    const tx = Number((await readFile(join(dir, 'statistics/tx_bytes'), 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(rx) && Number.isSafeInteger(tx) && rx >= 0 && tx >= 0) counters[name] = rx + tx;
  }
  if (Object.keys(counters).length === 0) return undefined;
  const bootId = (await readFile(bootIdFile, 'utf8').catch(() => 'unknown')).trim().slice(0, 64) || 'unknown';
  return { bootId, counters };
}
