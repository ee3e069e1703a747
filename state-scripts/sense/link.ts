// Link facts for the download gate's network policy (issue #17): which interface carries the default
// route, what NetworkManager says of its cost, and whether the modem behind it roams.
//
// * Default route: /proc/net/route (IPv4) and /proc/net/ipv6_route (IPv6), read under the host root, no
//   process started. The route with the lowest metric wins, as the kernel picks it.
// * NetworkManager: `LC_ALL=C nmcli -t -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.IP-IFACE,GENERAL.METERED dev show`
//   (terse multi-line output, one `FIELD:value` line each, one block per device). LC_ALL=C because nmcli
//   translates the metered words; in C they are `yes`, `no`, `yes (guessed)`, `no (guessed)`, `unknown`
//   (nmc_device_metered_to_string, clients/cli/common.c). A modem's NM device is named after its control
//   port (cdc-wdm0) and carries the net port in IP-IFACE, so devices are matched on both.
// * ModemManager: `mmcli -J -m N` (the same JSON as sense/modem.ts reads; `modem.3gpp.registration-state`,
//   `operator-code`/`operator-name`, `modem.generic.access-technologies` and `ports`, whose `wwan0 (net)`
//   entry says which interface is the modem's).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import type { CommandRunner } from '../health.js';

/** NetworkManager's runtime metered state of a device, as nmcli prints it in the C locale. */
export const NmMeteredValues = ['yes', 'no', 'yes (guessed)', 'no (guessed)', 'unknown'] as const;
export type NmMetered = (typeof NmMeteredValues)[number];

export interface NmDevice {
  device: string;
  /** NM's type description: ethernet, wifi, gsm, cdma, bt, … */
  type: string;
  /** The IP interface when it differs from the device name (modems: wwan0 for cdc-wdm0); else null. */
  ip_iface: string | null;
  metered: NmMetered | null;
}

/** The registration states of ModemManager's MMModem3gppRegistrationState, as mmcli prints them. */
const ROAMING_STATES = new Set(['roaming', 'roaming-sms-only', 'roaming-csfb-not-preferred']);
const HOME_STATES = new Set(['home', 'home-sms-only', 'home-csfb-not-preferred']);

export interface ModemLink {
  /** mmcli's `modem.3gpp.registration-state` ("home", "roaming", "searching", …), null when `--`. */
  registration: string | null;
  /** true for roaming, roaming-sms-only and roaming-csfb-not-preferred; null when not registered. */
  roaming: boolean | null;
  access_technologies: string[];
  operator_name: string | null;
  /** MCC + MNC of the network the modem is registered on (the visited one while roaming). */
  operator_code: string | null;
  /** The modem's network interfaces (`ports` entries ending in "(net)"). */
  net_ports: string[];
}

export type LinkKind = 'cellular' | 'wifi' | 'ethernet' | 'bluetooth' | 'other';

/** What the download gate knows of the link a download would use now. */
export interface LinkFacts {
  /** false when neither /proc/net/route nor /proc/net/ipv6_route could be read (no /proc under the root). */
  routes_visible: boolean;
  /** The default route's interface; null when there is none (or /proc is unreadable: see `problems`). */
  iface: string | null;
  kind: LinkKind | null;
  /** NetworkManager's metered value for that interface (null: no NetworkManager answer). */
  nm_metered: NmMetered | null;
  /** false when nmcli is not installed (then nothing on the van can tell a hotspot). */
  nm_installed: boolean;
  /** The modem, when the default route goes through it (else null). */
  modem: ModemLink | null;
  /** What could not be sensed, one short line each (journaled). */
  problems: string[];
}

// ---------------------------------------------------------------------------------------------- routes

function hexToU32LE(hex: string): number {
  // /proc/net/route prints addresses as the kernel's __be32 in host byte order (little-endian here).
  return Number.parseInt(hex, 16);
}

/** Pure: the default route's interface from /proc/net/route and /proc/net/ipv6_route texts (either may be null). */
export function defaultRouteInterface(ipv4: string | null, ipv6: string | null): string | null {
  let best: { iface: string; metric: number } | null = null;
  const consider = (iface: string, metric: number) => {
    if (iface === 'lo' || !Number.isFinite(metric)) return;
    if (!best || metric < best.metric) best = { iface, metric };
  };
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT (header line first)
  for (const line of (ipv4 ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , metric, mask] = f;
    const up = (Number.parseInt(flags ?? '0', 16) & 0x1) !== 0;
    if (up && hexToU32LE(dest ?? '') === 0 && hexToU32LE(mask ?? '') === 0) consider(iface ?? '', Number(metric));
  }
  // dest plen src plen next-hop metric refcnt use flags iface (no header); ::/0 with RTF_UP, not a reject route.
  for (const line of (ipv6 ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , , metricHex, , , flagsHex, iface] = f;
    const flags = Number.parseInt(flagsHex ?? '0', 16);
    const up = (flags & 0x1) !== 0 && (flags & 0x200) === 0; // RTF_UP, not RTF_REJECT
    if (up && /^0{32}$/.test(dest ?? '') && plen === '00') consider(iface ?? '', Number.parseInt(metricHex ?? '', 16));
  }
  return (best as { iface: string } | null)?.iface ?? null;
}

// ---------------------------------------------------------------------------------------------- nmcli

/** nmcli -t escapes ':' and '\' in values with a backslash. */
function unescapeTerse(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

/** Pure: `nmcli -t -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.IP-IFACE,GENERAL.METERED dev show` → devices. */
export function parseNmcliDevices(text: string): NmDevice[] {
  const out: NmDevice[] = [];
  let cur: NmDevice | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = /^GENERAL\.([A-Z-]+):(.*)$/.exec(line);
    if (!m) continue;
    const [, field, rawValue] = m;
    const value = unescapeTerse(rawValue ?? '').trim();
    if (field === 'DEVICE') {
      cur = { device: value, type: '', ip_iface: null, metered: null };
      out.push(cur);
    } else if (cur && field === 'TYPE') cur.type = value;
    else if (cur && field === 'IP-IFACE') cur.ip_iface = value === '' || value === '--' ? null : value;
    else if (cur && field === 'METERED')
      cur.metered = (NmMeteredValues as readonly string[]).includes(value) ? (value as NmMetered) : null;
  }
  return out;
}

export function nmDeviceFor(devices: readonly NmDevice[], iface: string): NmDevice | undefined {
  return devices.find((d) => d.ip_iface === iface) ?? devices.find((d) => d.device === iface);
}

function kindOfNmType(type: string): LinkKind {
  switch (type) {
    case 'gsm':
    case 'cdma':
      return 'cellular';
    case 'wifi':
      return 'wifi';
    case 'ethernet':
      return 'ethernet';
    case 'bt':
      return 'bluetooth';
    default:
      return 'other';
  }
}

// ---------------------------------------------------------------------------------------------- mmcli

const Str = z.optional(z.string());
const ModemLinkJson = z.looseObject({
  modem: z.looseObject({
    '3gpp': z.optional(z.looseObject({ 'registration-state': Str, 'operator-code': Str, 'operator-name': Str })),
    generic: z.looseObject({
      'access-technologies': z.optional(z.array(z.string())),
      ports: z.optional(z.array(z.string())),
    }),
  }),
});

const known = (v: string | undefined): string | null => (v === undefined || v === '--' || v === '' ? null : v);

/** Pure: `mmcli -J -m N` → registration, operator and the modem's net ports. */
export function parseModemLink(json: string): ModemLink | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(json) as unknown;
  } catch {
    return { problem: 'mmcli -J -m: unexpected output' };
  }
  const r = ModemLinkJson.safeParse(raw);
  if (!r.success) return { problem: 'mmcli -J -m: unexpected output' };
  const g3 = r.data.modem['3gpp'];
  const registration = known(g3?.['registration-state']);
  return {
    registration,
    roaming:
      registration === null
        ? null
        : ROAMING_STATES.has(registration)
          ? true
          : HOME_STATES.has(registration)
            ? false
            : null,
    access_technologies: r.data.modem.generic['access-technologies'] ?? [],
    operator_name: known(g3?.['operator-name']),
    operator_code: known(g3?.['operator-code']),
    net_ports: (r.data.modem.generic.ports ?? [])
      .map((p) => /^(\S+) \(net\)$/.exec(p)?.[1])
      .filter((p): p is string => p !== undefined),
  };
}

// ---------------------------------------------------------------------------------------------- sensing

/**
 * Pure: the kind of an interface from `/sys/class/net/<iface>/uevent`: the kernel's DEVTYPE (`wwan` from
 * usbnet's FLAG_WWAN drivers such as qmi_wwan and cdc_mbim, `wlan` from cfg80211, `bluetooth` from bnep);
 * no DEVTYPE on a device with hardware behind it (`hasDevice`) is Ethernet.
 */
export function kindOfUevent(uevent: string | null, hasDevice: boolean): LinkKind | null {
  if (uevent === null) return null;
  const devtype = /^DEVTYPE=(\S+)$/m.exec(uevent)?.[1];
  if (devtype === 'wwan') return 'cellular';
  if (devtype === 'wlan') return 'wifi';
  if (devtype === 'bluetooth') return 'bluetooth';
  return devtype === undefined && hasDevice ? 'ethernet' : 'other';
}

export interface LinkSenseOptions {
  runner: CommandRunner;
  /** /sys/class/net under the host root. */
  sysClassNet: string;
  /** /proc/net/route and /proc/net/ipv6_route under the host root. */
  procNetRoute: string;
  procNetIpv6Route: string;
  mmcli: string;
  modemIndex: number;
  nmcli: string;
  timeoutMs?: number;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

async function runTool(
  o: LinkSenseOptions,
  argv: string[],
): Promise<{ ok: true; out: string } | { ok: false; problem: string }> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const r = await o.runner.run(argv, { timeoutMs });
  const name = argv[0] ?? '?';
  if (r.error) return { ok: false, problem: `${name}: ${r.error}` };
  if (r.timedOut) return { ok: false, problem: `${name}: no answer within ${timeoutMs} ms` };
  // `env` exits 127 when the command it should run does not exist.
  if (argv[0] === 'env' && r.code === 127) return { ok: false, problem: `${argv[2] ?? name}: not installed` };
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n')[0]?.slice(0, 100) ?? '';
    return { ok: false, problem: `${name}: exit ${r.code ?? r.signal ?? '?'}${why ? ` (${why})` : ''}` };
  }
  return { ok: true, out: r.stdout };
}

/**
 * Sense the link a download would use. Never throws: what cannot be known is null, with a line in
 * `problems`. nmcli runs with LC_ALL=C (through `env`, so the runner needs no environment option).
 */
export async function senseLink(o: LinkSenseOptions): Promise<LinkFacts> {
  const problems: string[] = [];
  const v4 = readOrNull(o.procNetRoute);
  const v6 = readOrNull(o.procNetIpv6Route);
  const routesVisible = v4 !== null || v6 !== null;
  if (!routesVisible) problems.push('no /proc/net/route');
  const iface = defaultRouteInterface(v4, v6);
  if (iface === null)
    return {
      routes_visible: routesVisible,
      iface: null,
      kind: null,
      nm_metered: null,
      nm_installed: true,
      modem: null,
      problems: [...problems, ...(routesVisible ? ['no default route'] : [])],
    };

  const [nm, mm] = await Promise.all([
    runTool(o, [
      'env',
      'LC_ALL=C',
      o.nmcli,
      '-t',
      '-f',
      'GENERAL.DEVICE,GENERAL.TYPE,GENERAL.IP-IFACE,GENERAL.METERED',
      'dev',
      'show',
    ]),
    runTool(o, [o.mmcli, '-J', '-m', String(o.modemIndex)]),
  ]);

  // The kernel's word first (no daemon needed), NetworkManager's type over it, ModemManager's ports last.
  let kind: LinkKind | null = kindOfUevent(
    readOrNull(join(o.sysClassNet, iface, 'uevent')),
    existsSync(join(o.sysClassNet, iface, 'device')),
  );
  let nmMetered: NmMetered | null = null;
  const nmInstalled = nm.ok || !/: not installed$|: ENOENT$/.test(nm.problem);
  if (nm.ok) {
    const dev = nmDeviceFor(parseNmcliDevices(nm.out), iface);
    if (dev) {
      if (dev.type !== '' && (kind === null || kindOfNmType(dev.type) !== 'other')) kind = kindOfNmType(dev.type);
      nmMetered = dev.metered;
      if (dev.metered === null) problems.push(`nmcli: no metered value for ${iface}`);
    } else problems.push(`nmcli: no device for ${iface}`);
  } else problems.push(nm.problem);

  let modem: ModemLink | null = null;
  if (mm.ok) {
    const m = parseModemLink(mm.out);
    if ('problem' in m) problems.push(m.problem);
    else if (m.net_ports.includes(iface)) {
      modem = m;
      kind = 'cellular';
    }
  } else if (kind === 'cellular') problems.push(mm.problem);
  return {
    routes_visible: true,
    iface,
    kind,
    nm_metered: nmMetered,
    nm_installed: nmInstalled,
    modem,
    problems,
  };
}
