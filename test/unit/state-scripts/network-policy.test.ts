// The download gate's network policy (state-scripts/policy/network.ts, issue #17): a table per rule, and
// the parsers of the link facts (default route, nmcli terse output, mmcli registration).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { parseConfig, parseYamlText } from '../../../core/config/load.js';
import { decideDownload, sizeProbeNeed } from '../../../state-scripts/policy/download.js';
import {
  assessNetwork,
  type NetworkFacts,
  type NetworkPolicy,
  type SizeHint,
} from '../../../state-scripts/policy/network.js';
import {
  defaultRouteInterface,
  kindOfUevent,
  type LinkFacts,
  type ModemLink,
  parseModemLink,
  parseNmcliDevices,
  nmDeviceFor,
} from '../../../state-scripts/sense/link.js';
import { NOW, readings, SPEC_CONDITIONS, STALENESS } from './builders.js';

const FIX = join(import.meta.dirname, '../../integration/state-scripts/fixtures');
const fixture = (p: string) => readFileSync(join(FIX, p), 'utf8');

/** The documented defaults, straight from the schema. */
const DEFAULTS: NetworkPolicy = DeviceConfig.parse({}).download;

const modem = (over: Partial<ModemLink> = {}): ModemLink => ({
  registration: 'home',
  roaming: false,
  access_technologies: ['lte'],
  operator_name: 'Telekom.de',
  operator_code: '26201',
  net_ports: ['wwan0'],
  ...over,
});
const roamingCH = modem({ registration: 'roaming', roaming: true, operator_name: 'Swisscom', operator_code: '22801' });
const roamingFR = modem({
  registration: 'roaming-sms-only',
  roaming: true,
  operator_name: 'Orange F',
  operator_code: '20801',
});

const lte = (m: ModemLink | null = modem(), nm: LinkFacts['nm_metered'] = 'yes (guessed)'): LinkFacts => ({
  routes_visible: true,
  iface: 'wwan0',
  kind: 'cellular',
  nm_metered: nm,
  nm_installed: true,
  modem: m,
  problems: m ? [] : ["mmcli: exit 1 (error: couldn't find the ModemManager process in the bus)"],
});
const wifi = (nm: LinkFacts['nm_metered'], nmInstalled = true): LinkFacts => ({
  routes_visible: true,
  iface: 'wlan0',
  kind: 'wifi',
  nm_metered: nm,
  nm_installed: nmInstalled,
  modem: null,
  problems:
    nm === null ? [nmInstalled ? 'nmcli: exit 8 (Error: NetworkManager is not running.)' : 'nmcli: not installed'] : [],
});
const MB = 1_000_000;
const hint = (bytes: number, ageS = 60): SizeHint => ({
  bytes,
  artifact_name: 'platform-1.2.0',
  at: new Date(NOW.getTime() - ageS * 1000).toISOString(),
  source: 'test',
});

type Case = [string, Partial<NetworkPolicy>, LinkFacts | null, SizeHint | null, string[]];

/** The failing codes (empty = the network lets the download go). */
function refusals(p: Partial<NetworkPolicy>, link: LinkFacts | null, size: SizeHint | null): string[] {
  const facts: NetworkFacts = { link, size_hint: size };
  return assessNetwork({ ...DEFAULTS, ...p }, facts, NOW)
    .filter((c) => !c.ok)
    .map((c) => c.code);
}

describe('network policy (pure)', () => {
  it('defaults: roaming small_only ≤ 25 MB, metered allowed, hotspot deferred, no MCC like home', () => {
    expect(DEFAULTS).toMatchObject({
      roaming: 'small_only',
      roaming_small_mb: 25,
      roam_like_home_mcc: [],
      metered: 'allow',
      hotspot: 'defer',
      size_hint_max_age_seconds: 3600,
    });
  });

  it('ota.yaml: max_mb objects and MCC lists parse; bad values are one readable line', () => {
    const c = parseConfig(
      DeviceConfig,
      parseYamlText("download: { metered: { max_mb: 50 }, hotspot: allow, roam_like_home_mcc: ['208'] }", 'ota.yaml'),
      'ota.yaml',
    );
    expect(c.download).toMatchObject({ metered: { max_mb: 50 }, hotspot: 'allow', roam_like_home_mcc: ['208'] });
    for (const [yaml, line] of [
      ['download: { roaming: sometimes }', 'download.roaming: must be one of: "never", "small_only", "allow"'],
      ["download: { roam_like_home_mcc: ['20'] }", 'download.roam_like_home_mcc[0]: must be a 3-digit MCC'],
      ['download: { metered: { max_mb: -1 } }', 'download.metered.max_mb: must be ≥ 0'],
      ['download: { hotspot: { max_gb: 1 } }', 'download.hotspot: does not match any allowed form'],
    ] as const)
      expect(() => parseConfig(DeviceConfig, parseYamlText(yaml, 'ota.yaml'), 'ota.yaml')).toThrow(
        `invalid config ota.yaml: ${line}`,
      );
  });

  it.each<Case>([
    // name, policy over the defaults, link, size hint, refusal codes
    ['LTE at home, defaults', {}, lte(), null, []],
    ['roaming, never', { roaming: 'never' }, lte(roamingCH), null, ['roaming']],
    ['roaming, never, even a tiny update', { roaming: 'never' }, lte(roamingCH), hint(1000), ['roaming']],
    ['roaming-sms-only counts as roaming', { roaming: 'never' }, lte(roamingFR), null, ['roaming']],
    ['roaming, small_only, size unknown', {}, lte(roamingCH), null, ['roaming_size_unknown']],
    ['roaming, small_only, 24 MB ≤ 25', {}, lte(roamingCH), hint(24 * MB), []],
    ['roaming, small_only, 25 MB exactly', {}, lte(roamingCH), hint(25 * MB), []],
    ['roaming, small_only, 26 MB > 25', {}, lte(roamingCH), hint(26 * MB), ['roaming_over_small']],
    ['roaming, small_only, hint 2 h old = unknown', {}, lte(roamingCH), hint(MB, 7200), ['roaming_size_unknown']],
    [
      'roaming, small_only, hint from the future = unknown',
      {},
      lte(roamingCH),
      hint(MB, -600),
      ['roaming_size_unknown'],
    ],
    ['roaming, allow', { roaming: 'allow' }, lte(roamingCH), null, []],
    [
      'roaming in France with EU MCCs like home',
      { roaming: 'never', roam_like_home_mcc: ['208', '262'] },
      lte(roamingFR),
      null,
      [],
    ],
    [
      'roaming in Switzerland, EU MCCs like home',
      { roaming: 'never', roam_like_home_mcc: ['208', '262'] },
      lte(roamingCH),
      null,
      ['roaming'],
    ],
    ['LTE, roaming unknown (ModemManager down)', {}, lte(null), null, ['link_unknown']],
    ['LTE, roaming unknown but roaming allowed', { roaming: 'allow' }, lte(null), null, []],
    [
      'LTE, registration searching = unknown',
      {},
      lte(modem({ registration: 'searching', roaming: null })),
      null,
      ['link_unknown'],
    ],
    ['LTE, metered defer', { metered: 'defer' }, lte(), null, ['metered_deferred']],
    ['LTE, metered max 50 MB, 120 MB', { metered: { max_mb: 50 } }, lte(), hint(120 * MB), ['metered_over_max']],
    ['LTE, metered max 50 MB, 40 MB', { metered: { max_mb: 50 } }, lte(), hint(40 * MB), []],
    ['LTE, metered max 50 MB, size unknown', { metered: { max_mb: 50 } }, lte(), null, ['metered_size_unknown']],
    ['LTE marked unmetered (explicit no), metered defer', { metered: 'defer' }, lte(modem(), 'no'), null, []],
    [
      'LTE guessed unmetered is still cellular = metered',
      { metered: 'defer' },
      lte(modem(), 'no (guessed)'),
      null,
      ['metered_deferred'],
    ],
    ['LTE without NetworkManager is metered', { metered: 'defer' }, lte(modem(), null), null, ['metered_deferred']],
    [
      'roaming never and metered over max: both codes',
      { roaming: 'never', metered: { max_mb: 10 } },
      lte(roamingCH),
      hint(20 * MB),
      ['roaming', 'metered_over_max'],
    ],
    ['phone hotspot, defaults', {}, wifi('yes (guessed)'), null, ['hotspot_metered']],
    ['phone hotspot, allow', { hotspot: 'allow' }, wifi('yes (guessed)'), null, []],
    [
      'phone hotspot, max 20 MB, 30 MB',
      { hotspot: { max_mb: 20 } },
      wifi('yes (guessed)'),
      hint(30 * MB),
      ['hotspot_over_max'],
    ],
    ['phone hotspot, max 20 MB, 10 MB', { hotspot: { max_mb: 20 } }, wifi('yes (guessed)'), hint(10 * MB), []],
    [
      'phone hotspot, max 20 MB, size unknown',
      { hotspot: { max_mb: 20 } },
      wifi('yes (guessed)'),
      null,
      ['metered_size_unknown'],
    ],
    ['campsite Wi-Fi (no (guessed))', { metered: 'defer' }, wifi('no (guessed)'), null, []],
    ['Wi-Fi NetworkManager says unknown: not metered', { metered: 'defer' }, wifi('unknown'), null, []],
    [
      'Wi-Fi marked metered (explicit yes), metered defer',
      { metered: 'defer' },
      wifi('yes'),
      null,
      ['metered_deferred'],
    ],
    ['Wi-Fi marked metered (explicit yes) is not a hotspot', {}, wifi('yes'), null, []],
    ['Wi-Fi, NetworkManager not running, hotspot rule defers', {}, wifi(null), null, ['link_unknown']],
    ['Wi-Fi, NetworkManager not running, all allowed', { hotspot: 'allow' }, wifi(null), null, []],
    ['Wi-Fi, NetworkManager not installed: nothing can tell a hotspot', {}, wifi(null, false), null, []],
    ['Wi-Fi, NetworkManager not installed, metered defer', { metered: 'defer' }, wifi(null, false), null, []],
    [
      'no default route',
      {},
      { ...wifi(null), iface: null, kind: null, problems: ['no default route'] },
      null,
      ['link_unknown'],
    ],
    ['default route through an unknown kind of interface', {}, { ...wifi('no'), kind: null }, null, ['link_unknown']],
    [
      'no /proc under the host root: rules not applied',
      { roaming: 'never' },
      { ...wifi(null), routes_visible: false, iface: null, kind: null },
      null,
      [],
    ],
    ['not sensed', {}, null, null, ['link_unknown']],
    ['everything allowed: nothing looked at', { roaming: 'allow', metered: 'allow', hotspot: 'allow' }, null, null, []],
  ])('%s', (_name, p, link, size, want) => {
    expect(refusals(p, link, size)).toEqual(want);
  });

  it('sizeProbeNeed: ask only when the size alone decides; held while another check holds the download', () => {
    const facts = (policy: Partial<NetworkPolicy>, r = readings({}), size_hint: SizeHint | null = null) => ({
      now: NOW,
      policy: { ...SPEC_CONDITIONS, short_wait_seconds: 60 },
      staleness: STALENESS,
      readings: r,
      wall_clock: null,
      network: { policy: { ...DEFAULTS, ...policy }, facts: { link: lte(roamingCH), size_hint } },
    });
    expect(sizeProbeNeed(facts({}))).toBe('ask'); // roaming, small_only, no size
    expect(sizeProbeNeed(facts({ metered: { max_mb: 50 }, roaming: 'allow' }))).toBe('ask');
    // A fresh hint does not make it 'none': the probe's answer outranks a file that may be another deployment's.
    expect(sizeProbeNeed(facts({}, readings({}), hint(1 * MB)))).toBe('ask');
    expect(sizeProbeNeed(facts({ roaming: 'never' }))).toBe('none'); // refused whatever the size
    expect(sizeProbeNeed(facts({ roaming: 'allow' }))).toBe('none'); // metered: allow, no size rule
    expect(sizeProbeNeed(facts({}, readings({ still_s: null })))).toBe('held'); // driving
    expect(sizeProbeNeed({ ...facts({}), network: undefined })).toBe('none');
  });

  it('every refusal says what it saw, and the download verdict is "not now" (no predictable wait)', () => {
    const v = decideDownload({
      now: NOW,
      policy: { ...SPEC_CONDITIONS, short_wait_seconds: 60 },
      staleness: STALENESS,
      readings: readings({}),
      wall_clock: null,
      network: { policy: { ...DEFAULTS, roaming: 'never' }, facts: { link: lte(roamingCH), size_hint: null } },
    });
    expect(v.verdict).toBe('defer');
    expect(v.reasons).toEqual([{ code: 'roaming', message: 'roaming on Swisscom (22801), lte, roaming' }]);
    expect(v.facts.network).toMatchObject({
      link: { iface: 'wwan0', modem: { operator_code: '22801' } },
      download_bytes: null,
    });

    const over = decideDownload({
      now: NOW,
      policy: { ...SPEC_CONDITIONS, short_wait_seconds: 60 },
      staleness: STALENESS,
      readings: readings({}),
      wall_clock: null,
      network: { policy: { ...DEFAULTS, metered: { max_mb: 50 } }, facts: { link: lte(), size_hint: hint(120 * MB) } },
    });
    expect(over.verdict).toBe('defer');
    expect(over.reasons).toEqual([
      { code: 'metered_over_max', message: 'wwan0: metered (cellular): update 120 MB > 50 MB allowed' },
    ]);
  });
});

describe('link fact parsers', () => {
  it.each([
    ['route-wwan0', 'wwan0'],
    ['route-wlan0', 'wlan0'],
    ['route-none', null],
  ])('/proc/net/route %s → %s', (file, want) => {
    expect(defaultRouteInterface(fixture(`proc/${file}`), null)).toBe(want);
  });

  it.each([
    ['DEVTYPE=wwan\nINTERFACE=wwan0\nIFINDEX=5\n', true, 'cellular'],
    ['DEVTYPE=wlan\nINTERFACE=wlan0\nIFINDEX=3\n', true, 'wifi'],
    ['DEVTYPE=bluetooth\nINTERFACE=bnep0\nIFINDEX=7\n', false, 'bluetooth'],
    ['INTERFACE=enp1s0\nIFINDEX=2\n', true, 'ethernet'],
    ['INTERFACE=wg0\nIFINDEX=9\n', false, 'other'],
    [null, false, null],
  ])('/sys/class/net/<iface>/uevent %j (device: %s) → %s', (uevent, hasDevice, want) => {
    expect(kindOfUevent(uevent, hasDevice)).toBe(want);
  });

  it('IPv6 default routes count; reject and loopback routes do not; the lowest metric wins', () => {
    const v6 = [
      // ::/0 via wwan0, metric 0x400 (1024), RTF_UP|RTF_GATEWAY|RTF_DEFAULT… (0x00450003)
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003    wwan0',
      // the kernel's unreachable ::/0 on lo (RTF_REJECT 0x200)
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
    ].join('\n');
    expect(defaultRouteInterface(null, v6)).toBe('wwan0');
    expect(defaultRouteInterface(fixture('proc/route-wlan0'), v6)).toBe('wlan0');
    expect(defaultRouteInterface('garbage', 'more garbage')).toBeNull();
  });

  it('nmcli -t dev show: devices by name or IP interface, the metered words', () => {
    const lteDevs = parseNmcliDevices(fixture('nmcli/dev-show-lte.out'));
    expect(nmDeviceFor(lteDevs, 'wwan0')).toEqual({
      device: 'cdc-wdm0',
      type: 'gsm',
      ip_iface: 'wwan0',
      metered: 'yes (guessed)',
    });
    expect(nmDeviceFor(lteDevs, 'wlan0')).toMatchObject({ type: 'wifi', ip_iface: null, metered: 'unknown' });
    expect(nmDeviceFor(parseNmcliDevices(fixture('nmcli/dev-show-hotspot.out')), 'wlan0')?.metered).toBe(
      'yes (guessed)',
    );
    expect(nmDeviceFor(parseNmcliDevices(fixture('nmcli/dev-show-wifi-metered.out')), 'wlan0')?.metered).toBe('yes');
    // Escaped colons in terse values; an unknown metered word is no answer, not a guess.
    expect(parseNmcliDevices('GENERAL.DEVICE:br\\:0\nGENERAL.TYPE:bridge\nGENERAL.METERED:vielleicht\n')).toEqual([
      { device: 'br:0', type: 'bridge', ip_iface: null, metered: null },
    ]);
  });

  it.each([
    ['modem-connected.out', { registration: 'home', roaming: false, operator_code: '26201', net_ports: ['wwan0'] }],
    [
      'modem-roaming-ch.out',
      { registration: 'roaming', roaming: true, operator_name: 'Swisscom', operator_code: '22801' },
    ],
    [
      'modem-roaming-fr.out',
      { registration: 'roaming', roaming: true, operator_code: '20801', access_technologies: ['lte'] },
    ],
    ['modem-searching.out', { registration: 'searching', roaming: null, operator_code: null, operator_name: null }],
  ])('mmcli -J -m 0 %s', (file, want) => {
    expect(parseModemLink(fixture(`mmcli/${file}`))).toMatchObject(want);
  });

  it.each([
    ['roaming-csfb-not-preferred', true],
    ['roaming-sms-only', true],
    ['home-sms-only', false],
    ['home-csfb-not-preferred', false],
    ['denied', null],
    ['--', null],
  ])('registration-state %s → roaming %s', (state, want) => {
    const json = JSON.stringify({ modem: { '3gpp': { 'registration-state': state }, generic: { ports: [] } } });
    expect(parseModemLink(json)).toMatchObject({ roaming: want });
  });

  it('garbage is a problem, not a crash', () => {
    expect(parseModemLink('nope')).toEqual({ problem: 'mmcli -J -m: unexpected output' });
    expect(parseModemLink('{"modem":{}}')).toEqual({ problem: 'mmcli -J -m: unexpected output' });
  });
});
