// The monthly cellular counter (agent-hooks/inventory/data-usage.ts, issue #17 item 5) as a table of
// runs: counter growth, a reboot, a re-created interface, a second modem, a new month.
import { describe, expect, it } from 'vitest';
import { accumulate, isCellular, type DataUsage } from '../../../agent-hooks/inventory/data-usage.js';

const at = (iso: string) => new Date(iso);
const used = (month: string, bytes: number, boot: string, counters: Record<string, number>): DataUsage => ({
  month,
  bytes,
  boot_id: boot,
  counters,
});

describe('accumulate', () => {
  it('the first run stores a baseline and counts nothing', () => {
    expect(accumulate(null, { bootId: 'b1', counters: { wwan0: 10_000 } }, at('2026-12-06T10:00:00Z'))).toEqual(
      used('2026-12', 0, 'b1', { wwan0: 10_000 }),
    );
  });

  it.each<[string, DataUsage, { bootId: string; counters: Record<string, number> }, string, number]>([
    [
      'growth on the same boot',
      used('2026-12', 100, 'b1', { wwan0: 1000 }),
      { bootId: 'b1', counters: { wwan0: 1600 } },
      '2026-12-06',
      700,
    ],
    [
      'after a reboot the whole counter is new',
      used('2026-12', 100, 'b1', { wwan0: 1000 }),
      { bootId: 'b2', counters: { wwan0: 250 } },
      '2026-12-06',
      350,
    ],
    [
      'a counter that went back (interface re-created)',
      used('2026-12', 100, 'b1', { wwan0: 1000 }),
      { bootId: 'b1', counters: { wwan0: 40 } },
      '2026-12-06',
      140,
    ],
    [
      'a second modem appears',
      used('2026-12', 100, 'b1', { wwan0: 1000 }),
      { bootId: 'b1', counters: { wwan0: 1000, wwan1: 30 } },
      '2026-12-06',
      130,
    ],
    [
      'a new month starts from 0',
      used('2026-11', 5_000, 'b1', { wwan0: 1000 }),
      { bootId: 'b1', counters: { wwan0: 1200 } },
      '2026-12-01',
      200,
    ],
  ])('%s', (_what, prev, sample, day, bytes) => {
    const next = accumulate(prev, sample, at(`${day}T08:00:00Z`));
    expect(next.bytes).toBe(bytes);
    expect(next.month).toBe(day.slice(0, 7));
    expect(next.counters).toEqual(sample.counters);
    expect(next.boot_id).toBe(sample.bootId);
  });
});

describe('isCellular', () => {
  it.each([
    ['wwan0', 'DEVTYPE=wwan\n', true],
    ['usb0', 'DEVTYPE=wwan\nINTERFACE=usb0\n', true],
    ['ppp0', '', true],
    ['wlan0', 'DEVTYPE=wlan\n', false],
    ['enp1s0', 'INTERFACE=enp1s0\n', false],
  ])('%s', (name, uevent, expected) => expect(isCellular(name, uevent)).toBe(expected));
});
