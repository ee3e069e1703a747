// Pure parsers and helpers of the sensing adapters, on inputs shaped like the real thing.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wallClock } from '../../../state-scripts/local-time.js';
import { tpvMotion } from '../../../state-scripts/sense/gpsd.js';
import { entityBool, entityNumber, entitySpeedMps } from '../../../state-scripts/sense/home-assistant.js';
import { mmNumber } from '../../../state-scripts/sense/modem.js';
import { median } from '../../../state-scripts/sense/probe.js';
import { parseWireless } from '../../../state-scripts/sense/wifi.js';
import { findMenderDaemonPid } from '../../../state-scripts/wake.js';

const WIRELESS = `Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
wlp2s0: 0000   54.  -56.  -256        0      0      0      0     13        0
 wlan1: 0000   70   190   0        0      0      0      0      0        0
`;

describe('/proc/net/wireless', () => {
  it.each([
    ['wlp2s0', { link: 54, rssi_dbm: -56 }],
    ['wlan1', { link: 70, rssi_dbm: -66 }],
    ['wlan0', null],
  ])('%s → %j', (iface, want) => {
    expect(parseWireless(WIRELESS, iface)).toEqual(want);
  });

  it('no interfaces (only the header) → null', () => {
    expect(parseWireless(WIRELESS.split('\n').slice(0, 2).join('\n'), 'wlp2s0')).toBeNull();
  });
});

describe('mmcli values', () => {
  it.each([
    ['-95.00', -95],
    ['7.20', 7.2],
    ['64', 64],
    ['--', null],
    ['', null],
    [undefined, null],
    ['n/a', null],
  ])('%j → %j', (v, n) => {
    expect(mmNumber(v)).toBe(n);
  });
});

describe('gpsd TPV', () => {
  it.each([
    [{ class: 'TPV' as const, mode: 3, speed: 15.02 }, { moving: true }],
    [{ class: 'TPV' as const, mode: 2, speed: 0.4 }, { moving: false }],
    [{ class: 'TPV' as const, mode: 3, speed: 1.0 }, { moving: false }],
    [{ class: 'TPV' as const, mode: 1 }, { unknown: 'GNSS has no fix' }],
    [{ class: 'TPV' as const, mode: 3 }, { unknown: 'GNSS fix without speed' }],
    [{ class: 'TPV' as const }, { unknown: 'GNSS has no fix' }],
  ])('%j → %j', (tpv, want) => {
    expect(tpvMotion(tpv, 1.0)).toEqual(want);
  });
});

describe('Home Assistant states', () => {
  const e = (state: string, unit?: string) => ({
    entity_id: 'sensor.x',
    state,
    ...(unit ? { attributes: { unit_of_measurement: unit } } : {}),
  });
  it.each([
    ['82', 82],
    ['82.5', 82.5],
    ['unavailable', null],
    ['unknown', null],
    ['high', null],
  ])('number %j → %j', (s, n) => expect(entityNumber(e(s))).toBe(n));
  it.each([
    ['on', true],
    ['off', false],
    ['True', true],
    ['unavailable', null],
  ])('bool %j → %j', (s, b) => expect(entityBool(e(s))).toBe(b));
  it.each([
    ['36', 'km/h', 10],
    ['10', 'm/s', 10],
    ['10', undefined, 10],
    ['10', 'furlong/fortnight', null],
  ])('speed %s %s → %s m/s', (s, unit, mps) => {
    const v = entitySpeedMps(e(s, unit));
    if (mps === null) expect(v).toBeNull();
    else expect(v).toBeCloseTo(mps, 6);
  });
});

describe('helpers', () => {
  it.each([
    [[], null],
    [[5], 5],
    [[9, 1, 5], 5],
    [[1, 2, 3, 10], 2.5],
  ])('median(%j) = %j', (v, m) => expect(median(v)).toBe(m));

  it.each([
    ['2026-11-22T10:00:00Z', 'Europe/Berlin', { zone: 'Europe/Berlin', weekday: 'sun', minute: 11 * 60, second: 0 }],
    ['2026-11-22T23:30:15Z', 'Europe/Berlin', { zone: 'Europe/Berlin', weekday: 'mon', minute: 30, second: 15 }],
    ['2026-07-01T12:00:00Z', 'Europe/Berlin', { zone: 'Europe/Berlin', weekday: 'wed', minute: 14 * 60, second: 0 }],
    ['2026-11-22T10:00:00Z', 'Asia/Kolkata', { zone: 'Asia/Kolkata', weekday: 'sun', minute: 15 * 60 + 30, second: 0 }],
  ])('wall clock of %s in %s', (at, zone, want) => {
    const before = process.env.TZ;
    expect(wallClock(new Date(at), zone)).toEqual(want);
    expect(process.env.TZ).toBe(before);
  });

  it('finds the Mender daemon in /proc by name and argument', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'vc-proc-'));
    const add = async (pid: number, argv: string[]) => {
      await mkdir(join(proc, String(pid)));
      await writeFile(join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
    };
    await add(10, ['/usr/bin/mender', 'show-artifact']);
    await add(42, ['/bin/sh', '-c', 'mender daemon']);
    expect(findMenderDaemonPid(proc)).toBeNull();
    await add(77, ['/usr/bin/mender', '--no-syslog', '-c', '/etc/mender/mender.conf', 'daemon']);
    await add(88, ['mender-update', 'daemon']);
    await mkdir(join(proc, 'self'));
    expect(findMenderDaemonPid(proc)).toBe(77);
    expect(findMenderDaemonPid(join(proc, 'absent'))).toBeNull();
  });
});
