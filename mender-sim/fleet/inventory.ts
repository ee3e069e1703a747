// What a virtual device reports as inventory: Mender's own attributes plus the VanCore keys of
// docs/contracts.md ("Inventory"), written through `formatInventoryLines` exactly as
// `mender-inventory-vancore` prints them (strings; the client turns `key=value` lines into attributes),
// and `vancore.client` (`<binary>/<version>`, core/schemas/client.ts).
//
// The two clients build the list differently. 3.4 adds device_type, artifact_name and its version itself
// (RECIPE §6.1). 5.x adds only `mender_client_version` and `mender_client_version_provider=internal`;
// everything else comes from inventory scripts (the packaged mender-inventory-provides prints artifact_name
// and the provides, mender-inventory-update-modules the modules, mender-inventory-network the interfaces;
// device_type has to be printed by VanCore's script), and the list goes out sorted by name, every value a
// string or a list of strings (RECIPE-current §3.3; src/mender-update/inventory.cpp PushInventoryData).
import { formatClientAttribute, type ClientFlavour } from '../../core/schemas/client.js';
import { formatInventoryLines } from '../../core/schemas/inventory.js';
import { formatCodes } from '../../core/reason-codes.js';
import { CLIENT_MODELS, DEFERRAL_CODE, type DeviceState } from './machine.js';
import { DeferralReasons, prng, type DeferralReason } from './scenario.js';

/** A device's fixed facts, drawn once from the fleet seed. */
export interface DeviceProfile {
  index: number;
  vanId: string;
  mac: string;
  deviceType: string;
  /** Rollout ring (static group) if the fleet has stages. */
  stage: string | undefined;
  health: { signalQuality: number; batterySoc: number; shorePower: boolean };
  vpnState: 'tailscale' | 'headscale' | 'dual';
}

export interface InventoryAttribute {
  name: string;
  value: string | string[];
}

/** `mender_client_version` of the 3.4 model (kept for callers that predate the 5.x model). */
export const CLIENT_VERSION = CLIENT_MODELS['mender-3'].version;
export const UPDATE_MODULES = ['vancore-compose', 'vancore-config', 'vancore-vpn'];

export function vanIdFor(prefix: string, index: number, count: number): string {
  return `${prefix}${String(index).padStart(Math.max(5, String(count - 1).length), '0')}`;
}

/** A locally administered, unicast MAC unique per (seed, index): 02:ss:ii:ii:ii:ii. */
export function macFor(seed: number, index: number): string {
  const bytes = [0x02, seed & 0xff, (index >>> 24) & 0xff, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function makeProfile(input: {
  seed: number;
  index: number;
  count: number;
  vanIdPrefix: string;
  deviceType: string;
  stage: string | undefined;
}): DeviceProfile {
  const rand = prng(`${input.seed}/device/${input.index}`);
  const vpn = rand();
  return {
    index: input.index,
    vanId: vanIdFor(input.vanIdPrefix, input.index, input.count),
    mac: macFor(input.seed, input.index),
    deviceType: input.deviceType,
    stage: input.stage,
    health: {
      signalQuality: Math.round((0.62 + rand() * 0.36) * 100) / 100,
      batterySoc: Math.round(45 + rand() * 55),
      shorePower: rand() < 0.3,
    },
    vpnState: vpn < 0.8 ? 'tailscale' : vpn < 0.95 ? 'dual' : 'headscale',
  };
}

/** The health a deferring gate sees: the condition that makes it say "not now". */
function healthUnder(profile: DeviceProfile, deferredFor: DeferralReason | undefined): DeviceProfile['health'] {
  if (deferredFor === 'weak_signal') return { ...profile.health, signalQuality: 0.21 };
  if (deferredFor === 'low_battery') return { ...profile.health, batterySoc: 14, shorePower: false };
  return profile.health;
}

/** A van the energy budget refused (issue #20) is off shore power on a battery that cannot cover the update. */
function energyShort(s: DeviceState, health: DeviceProfile['health']): DeviceProfile['health'] {
  return s.gate.codes.includes('energy_budget') ? { ...health, batterySoc: 22, shorePower: false } : health;
}

function reasonOf(codes: readonly string[]): DeferralReason | undefined {
  return DeferralReasons.find((r) => codes.includes(DEFERRAL_CODE[r]));
}

/** `vancore.client` of a flavour as the model runs it, e.g. `mender-update/5.1.0`. */
export function clientAttribute(flavour: ClientFlavour): string {
  return formatClientAttribute({ flavour, version: CLIENT_MODELS[flavour].version });
}

/** The attribute list of an inventory PUT (pure). */
export function inventoryAttributes(profile: DeviceProfile, s: DeviceState): InventoryAttribute[] {
  return s.client === 'mender-update-5' ? attributes5(profile, s) : attributes3(profile, s);
}

/** The body of the inventory PUT exactly as each client writes it (3.4 ends it with a newline, RECIPE §6.1). */
export function inventoryBody(profile: DeviceProfile, s: DeviceState): string {
  const json = JSON.stringify(inventoryAttributes(profile, s));
  return s.client === 'mender-update-5' ? json : `${json}\n`;
}

function attributes5(profile: DeviceProfile, s: DeviceState): InventoryAttribute[] {
  const byName = new Map<string, string | string[]>();
  // mender-inventory-provides (`show-provides`): artifact_name and the provides.
  byName.set('artifact_name', s.artifactName);
  for (const [k, v] of Object.entries(s.provides)) byName.set(k, v);
  byName.set('update_modules', UPDATE_MODULES);
  byName.set('mac_eth0', profile.mac);
  byName.set('network_interfaces', ['eth0', 'wwan0']);
  byName.set('device_type', profile.deviceType);
  for (const line of vancoreLines(profile, s)) {
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    if (!byName.has(name)) byName.set(name, line.slice(eq + 1));
  }
  byName.set('mender_client_version', CLIENT_MODELS['mender-update-5'].version);
  byName.set('mender_client_version_provider', 'internal');
  return [...byName.keys()].sort().map((name) => ({ name, value: byName.get(name) as string | string[] }));
}

function attributes3(profile: DeviceProfile, s: DeviceState): InventoryAttribute[] {
  const out: InventoryAttribute[] = [
    { name: 'device_type', value: profile.deviceType },
    { name: 'artifact_name', value: s.artifactName },
    { name: 'mender_client_version', value: CLIENT_VERSION },
    { name: 'update_modules', value: UPDATE_MODULES },
    { name: 'mac_eth0', value: profile.mac },
    { name: 'network_interfaces', value: ['eth0', 'wwan0'] },
  ];
  for (const [k, v] of Object.entries(s.provides)) out.push({ name: k, value: v });
  for (const line of vancoreLines(profile, s)) {
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    // Provides already carry the component versions: one attribute per name, like the client's merge.
    if (name in s.provides) continue;
    out.push({ name, value: line.slice(eq + 1) });
  }
  return out;
}

/** What `mender-inventory-vancore` prints for this device, as key=value lines. */
function vancoreLines(profile: DeviceProfile, s: DeviceState): string[] {
  const health = energyShort(s, healthUnder(profile, s.gate.state === 'deferred' ? reasonOf(s.gate.codes) : undefined));
  const entries: Record<string, string | number | boolean | undefined> = {
    'vancore.van_id': profile.vanId,
  };
  for (const c of Object.keys(s.versions).sort()) entries[`vancore.${c}.version`] = s.versions[c];
  Object.assign(entries, {
    'vancore.health.disk_ok': true,
    'vancore.health.temp_ok': true,
    'vancore.health.signal_quality': health.signalQuality,
    'vancore.health.battery_soc': health.batterySoc,
    'vancore.health.shore_power': health.shorePower,
    'vancore.health.last_update_status': s.lastUpdateStatus,
    'vancore.gate.state': s.gate.state,
    'vancore.gate.phase': s.gate.phase,
    'vancore.gate.reason': s.gate.reason === '' ? undefined : s.gate.reason,
    'vancore.gate.codes': s.gate.codes.length ? formatCodes(s.gate.codes) : undefined,
    'vancore.gate.since': new Date(s.gate.sinceMs).toISOString(),
    'vancore.vpn.state': s.vpn?.state ?? profile.vpnState,
    'vancore.vpn.step': s.vpn?.step ?? 'none',
    'vancore.client': clientAttribute(s.client),
    'vancore.soak.state': s.soak?.state,
    'vancore.soak.artifact': s.soak?.artifact,
    'vancore.soak.reason': s.soak?.reason,
  });
  return formatInventoryLines(entries).lines;
}
