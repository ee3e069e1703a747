// The VanCore inventory (docs/contracts.md "Inventory"): sense every source with its own timeout,
// decide the attribute values in one pure function, print them through formatInventoryLines.
// RECIPE §7: one unparsable line makes the client drop the script's whole output, so a failing source
// leaves its keys out — it never prints a partial or multi-line value.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { gateInventoryValues, readGateJournal, type GateJournal } from '../../core/gate-journal.js';
import {
  CLIENT_FILE,
  formatClientAttribute,
  readInstalledClient,
  type InstalledClient,
} from '../../core/schemas/client.js';
import { parseDeviceTypeFile } from '../../core/schemas/client.js';
import { VanId } from '../../core/schemas/common.js';
import { Readings } from '../../core/schemas/readings.js';
import { VpnStates, VpnSteps } from '../../core/schemas/inventory.js';
import { readNamedStateJson, STATE_FILES, stateFilePath, writeStateJson } from '../../core/state-dir.js';
import { readLastUpdate, readVersions, type LastUpdate } from '../../core/versions.js';
import type { DeviceContext } from '../lib/device.js';
import { resolveVanId } from '../identity/identity.js';
import { accumulate, DataUsage, monthOf, sampleCounters } from './data-usage.js';
import { SoakRecord, soakInventoryValues } from '../soak/soak.js';

export interface DiskSpace {
  availableBytes: number;
  sizeBytes: number;
}

export interface MemoryInfo {
  availableBytes: number;
  totalBytes: number;
}

/** The host sensors; the real ones use systeminformation (inventory/si-probes.ts). */
export interface HealthProbes {
  disk(path: string): Promise<DiskSpace | undefined>;
  cpuTempC(): Promise<number | undefined>;
  memory(): Promise<MemoryInfo | undefined>;
}

export const VpnFile = z.object({ state: z.optional(z.enum(VpnStates)), step: z.optional(z.enum(VpnSteps)) });
export const VPN_FILE = STATE_FILES.vpnState.path;
export const READINGS_FILE = STATE_FILES.readings.path;

export interface InventoryFacts {
  now: Date;
  vanId?: string;
  versions: Record<string, string>;
  disk?: DiskSpace;
  cpuTempC?: number;
  memory?: MemoryInfo;
  readings: Readings | null;
  staleness: { signal_seconds: number; power_seconds: number };
  lastUpdate: LastUpdate | null;
  gate: GateJournal | null;
  /** null = no vpn.json (or an unusable one): the state is unknown. */
  vpn: z.infer<typeof VpnFile> | null;
  /** The Mender client device install recorded (CLIENT_FILE); null when unknown. */
  client: InstalledClient | null;
  /** The datastore's `device_type` (read only for the C++ client, which does not send it itself). */
  deviceType?: string;
  /** Cellular data this month (data-usage.ts); absent without a cellular interface. */
  data?: DataUsage;
  /** The post-commit soak record (soak.json, agent-hooks/soak/); null when none or unusable. */
  soak?: SoakRecord | null;
}

/** When the health booleans turn false. A van hub has a small SSD and sits in a hot van. */
export const HealthThresholds = {
  minFreeBytes: 1024 ** 3,
  minFreeFraction: 0.05,
  maxCpuTempC: 85,
} as const;

const fresh = (at: string, now: Date, seconds: number) => now.getTime() - new Date(at).getTime() <= seconds * 1000;
const round = (n: number, digits: number) => Number(n.toFixed(digits));

/**
 * Pure: the facts → inventory attributes (undefined = leave the key out). The C++ client PUTs the
 * whole set and skips the PUT when nothing changed (RECIPE-current §3.3): every value here changes
 * only when what it says changes (the gate keys come from the journal's `published` view, which
 * ignores a message's moving numbers), and the script prints the lines sorted by key.
 */
export function inventoryEntries(f: InventoryFacts): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  // The van id comes from a file anyone with root may have edited: print it only if the bridge will take it.
  out['vancore.van_id'] = f.vanId !== undefined && VanId.safeParse(f.vanId).success ? f.vanId : undefined;
  for (const [component, version] of Object.entries(f.versions).sort(([a], [b]) => a.localeCompare(b))) {
    out[`vancore.${component}.version`] = version;
  }
  if (f.disk) {
    out['vancore.health.disk_ok'] =
      f.disk.availableBytes >= HealthThresholds.minFreeBytes &&
      f.disk.availableBytes >= f.disk.sizeBytes * HealthThresholds.minFreeFraction;
  }
  if (f.cpuTempC !== undefined) out['vancore.health.temp_ok'] = f.cpuTempC < HealthThresholds.maxCpuTempC;
  const { signal, power } = f.readings ?? {};
  // Stale readings are unknown (as for the gates): better no value than yesterday's as today's.
  if (signal && fresh(signal.at, f.now, f.staleness.signal_seconds)) {
    out['vancore.health.signal_quality'] = round(signal.quality, 2);
  }
  if (power && fresh(power.at, f.now, f.staleness.power_seconds)) {
    if (power.battery_soc_pct !== null) out['vancore.health.battery_soc'] = round(power.battery_soc_pct, 0);
    if (power.shore_power !== null) out['vancore.health.shore_power'] = power.shore_power;
  }
  out['vancore.health.last_update_status'] = f.lastUpdate?.status ?? 'none';
  const gate = gateInventoryValues(f.gate);
  out['vancore.gate.state'] = gate.state;
  out['vancore.gate.phase'] = gate.phase;
  out['vancore.gate.reason'] = gate.reason === '' ? undefined : gate.reason;
  out['vancore.gate.codes'] = gate.codes === '' ? undefined : gate.codes;
  out['vancore.gate.since'] = gate.since;
  out['vancore.vpn.state'] = f.vpn?.state ?? 'unknown';
  out['vancore.vpn.step'] = f.vpn?.step;
  out['vancore.client'] = f.client ? formatClientAttribute(f.client) : undefined;
  if (f.data && f.data.month === monthOf(f.now)) {
    out['vancore.data.month'] = f.data.month;
    out['vancore.data.month_bytes'] = f.data.bytes;
  }
  Object.assign(out, soakInventoryValues(f.soak ?? null));
  // The C++ client sends only what inventory scripts print plus its version (RECIPE-current §3.3):
  // without this line a 5.x van has no device_type in Mender's inventory, and the bridge could not
  // match artifacts to it. The Go client 3.x adds it itself.
  if (f.client?.flavour === 'mender-update-5' && f.deviceType) out['device_type'] = f.deviceType;
  // Outside the contract's vancore.* keys (the bridge passes them through as extras): raw numbers
  // behind the booleans, for support.
  if (f.disk) out['health.disk_free_mb'] = Math.floor(f.disk.availableBytes / 1024 / 1024);
  if (f.memory) out['health.mem_available_mb'] = Math.floor(f.memory.availableBytes / 1024 / 1024);
  if (f.cpuTempC !== undefined) out['health.cpu_temp_c'] = round(f.cpuTempC, 1);
  return out;
}

/** Resolves to undefined if `p` rejects or takes longer than `ms` (a stuck sensor must not stall inventory). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A state file through core/state-dir.ts; missing → null, unusable → null with a warning. */
function readStateOrNull<T>(
  stateDir: string,
  name: 'readings' | 'vpnState' | 'soak',
  schema: z.ZodMiniType<T>,
  warn: (msg: string) => void,
): T | null {
  const read = readNamedStateJson(stateDir, name, { schema });
  if (read.status === 'invalid') warn(read.problem);
  return read.status === 'ok' ? read.value : null;
}

export interface GatherOptions {
  probes: HealthProbes;
  /** The client's datastore as a host path ($MENDER_DATASTORE_DIR, which 5.x passes on); default /var/lib/mender under the root. */
  menderDatastoreDir?: string;
  now: Date;
  /** Per-probe limit. */
  probeTimeoutMs: number;
  /** Problems worth a stderr line (never stdout). */
  warn: (msg: string) => void;
}

export async function gatherInventory(ctx: DeviceContext, o: GatherOptions): Promise<InventoryFacts> {
  const state = ctx.stateDir;
  // Started together, awaited one by one: every source has its own timeout or cannot hang (local files).
  const pending = {
    vanId: within(resolveVanId(ctx), o.probeTimeoutMs),
    versions: readVersions(state),
    disk: within(o.probes.disk(state), o.probeTimeoutMs),
    cpuTempC: within(o.probes.cpuTempC(), o.probeTimeoutMs),
    memory: within(o.probes.memory(), o.probeTimeoutMs),
    readings: readStateOrNull(state, 'readings', Readings, o.warn),
    lastUpdate: readLastUpdate(state),
    vpn: readStateOrNull(state, 'vpnState', VpnFile, o.warn),
    soak: readStateOrNull(state, 'soak', SoakRecord, o.warn),
  };
  const vanId = await pending.vanId;
  const versions = await pending.versions;
  const disk = await pending.disk;
  const cpuTempC = await pending.cpuTempC;
  const memory = await pending.memory;
  const readings = pending.readings;
  const lastUpdate = await pending.lastUpdate;
  const gate = readGateJournal(state);
  const vpn = pending.vpn;
  const client = readInstalledClient(ctx.paths.resolve(CLIENT_FILE));
  if (client.problem) o.warn(`client record: ${client.problem}`);
  const deviceType =
    client.client?.flavour === 'mender-update-5'
      ? await readDeviceType(join(o.menderDatastoreDir ?? ctx.paths.resolve('/var/lib/mender'), 'device_type'))
      : undefined;
  for (const p of [...versions.problems, ...lastUpdate.problems]) o.warn(p);
  const data = await updateDataUsage(ctx, o);
  if (gate.problem) o.warn(`gate journal: ${gate.problem}`);
  return {
    now: o.now,
    ...(vanId ? { vanId } : {}),
    versions: versions.value,
    ...(disk ? { disk } : {}),
    ...(cpuTempC !== undefined && Number.isFinite(cpuTempC) ? { cpuTempC } : {}),
    ...(memory ? { memory } : {}),
    readings,
    staleness: {
      signal_seconds: ctx.config.staleness.signal_seconds,
      power_seconds: ctx.config.staleness.power_seconds,
    },
    lastUpdate: lastUpdate.value,
    gate: gate.journal,
    vpn,
    client: client.client,
    ...(deviceType ? { deviceType } : {}),
    ...(data ? { data } : {}),
    soak: pending.soak,
  };
}

/** Adds the cellular counters' growth since the last run to data-usage.json (data-usage.ts). */
async function updateDataUsage(ctx: DeviceContext, o: GatherOptions): Promise<DataUsage | undefined> {
  const sample = await within(
    sampleCounters(ctx.paths.resolve('/sys/class/net'), ctx.paths.resolve('/proc/sys/kernel/random/boot_id')),
    o.probeTimeoutMs,
  );
  if (!sample) return undefined;
  const read = readNamedStateJson(ctx.stateDir, 'dataUsage', { schema: DataUsage });
  if (read.status === 'invalid') o.warn(`${read.problem}: counting this month from now`);
  const next = accumulate(read.status === 'ok' ? read.value : null, sample, o.now);
  try {
    writeStateJson(stateFilePath(ctx.stateDir, 'dataUsage'), next);
  } catch (e) {
    o.warn(`data usage not saved: ${e instanceof Error ? e.message : String(e)}`);
  }
  return next;
}

async function readDeviceType(path: string): Promise<string | undefined> {
  try {
    return parseDeviceTypeFile((await readFile(path, 'utf8')).slice(0, 4096));
  } catch {
    return undefined;
  }
}
