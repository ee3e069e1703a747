// The C++ client (mender-update ≥ 5) PUTs the whole inventory with every value as a string
// (shared/mender-client/RECIPE-current.md, inventory); Go 3.4 sends script output as strings too.
// Every numeric and boolean VanCore key must read from its string form, and `vancore.client` is kept.
import { describe, expect, it } from 'vitest';
import { InventoryKeys, parseInventory } from '../../../core/schemas/inventory.js';
import { shownStatus } from '../../../bridge/lib/waiting.js';

/** A string value for each fixed key, as a client PUTs it, and what the bridge must read. */
const AS_STRINGS: Record<(typeof InventoryKeys)[number], [string, unknown]> = {
  'vancore.van_id': ['van-001', 'van-001'],
  'vancore.health.disk_ok': ['true', true],
  'vancore.health.temp_ok': ['false', false],
  'vancore.health.signal_quality': ['0.78', 0.78],
  'vancore.health.battery_soc': ['82', 82],
  'vancore.health.shore_power': ['true', true],
  'vancore.health.last_update_status': ['success', 'success'],
  'vancore.gate.state': ['deferred', 'deferred'],
  'vancore.gate.phase': ['Download_Enter', 'Download_Enter'],
  'vancore.gate.reason': ['moving', 'moving'],
  'vancore.gate.codes': ['moving,signal_low', 'moving,signal_low'],
  'vancore.gate.since': ['2026-11-22T10:00:00Z', '2026-11-22T10:00:00Z'],
  'vancore.vpn.state': ['dual', 'dual'],
  'vancore.vpn.step': ['add', 'add'],
  'vancore.data.month': ['2026-12', '2026-12'],
  'vancore.data.month_bytes': ['734003200', 734003200],
  'vancore.client': ['mender-update/5.1.0', 'mender-update/5.1.0'],
  'vancore.soak.state': ['regressed', 'regressed'],
  'vancore.soak.artifact': ['vancore-app-1.5.0', 'vancore-app-1.5.0'],
  'vancore.soak.reason': [
    'soak_container_restarts: 4 container restarts since the commit (app-web-1 4)',
    'soak_container_restarts: 4 container restarts since the commit (app-web-1 4)',
  ],
  'vancore.soak.since': ['2026-11-22T10:00:00Z', '2026-11-22T10:00:00Z'],
};

const read = (name: string, value: unknown) => {
  const inv = parseInventory([{ name, value, scope: 'inventory' }]);
  return { inv, dropped: inv.dropped };
};

describe('every VanCore key reads from a string', () => {
  it('the table covers every fixed key', () => {
    expect(Object.keys(AS_STRINGS).sort()).toEqual([...InventoryKeys].sort());
  });

  it.each(Object.entries(AS_STRINGS))('%s = "%s"', (name, [text, expected]) => {
    const { inv, dropped } = read(name, text);
    expect(dropped).toEqual([]);
    const [, group, field] = name.split('.') as [string, string, string | undefined];
    const got = field
      ? (inv.vancore as unknown as Record<string, Record<string, unknown>>)[group]?.[field]
      : (inv.vancore as unknown as Record<string, unknown>)[group];
    expect(got).toEqual(expected);
  });

  it.each([
    ['vancore.health.battery_soc', ' 82 ', 82],
    ['vancore.health.signal_quality', '1', 1],
    ['vancore.health.shore_power', 'TRUE', true],
    ['vancore.health.disk_ok', ' false', false],
    ['vancore.health.battery_soc', 82, 82],
    ['vancore.health.shore_power', true, true],
  ])('%s = %j (blanks, case, already typed)', (name, value, expected) => {
    const { inv, dropped } = read(name, value);
    expect(dropped).toEqual([]);
    const field = name.split('.')[2] as keyof typeof inv.vancore.health;
    expect(inv.vancore.health[field]).toBe(expected);
  });

  it.each([
    ['vancore.health.battery_soc', '82%'],
    ['vancore.health.battery_soc', '101'],
    ['vancore.health.signal_quality', '0,78'],
    ['vancore.health.shore_power', 'yes'],
    ['vancore.health.disk_ok', '1'],
    ['vancore.client', 'mender 3.4.0'],
    ['vancore.client', 'mender-update/latest'],
  ])('%s = %j is quarantined', (name, value) => {
    expect(read(name, value).dropped).toEqual([{ scope: 'inventory', name, reason: `invalid value for ${name}` }]);
  });
});

describe('shownStatus: a van its gate holds is waiting, not downloading', () => {
  it.each([
    ['downloading', 'deferred', 'moving', { status: 'waiting', waiting: { gate_state: 'deferred', reason: 'moving' } }],
    [
      'pending',
      'blocked',
      'battery_low',
      { status: 'waiting', waiting: { gate_state: 'blocked', reason: 'battery_low' } },
    ],
    ['downloading', 'open', null, { status: 'downloading' }],
    ['downloading', null, null, { status: 'downloading' }],
    // Past the download the gate's word no longer holds the deployment back.
    ['installing', 'deferred', 'moving', { status: 'installing' }],
    ['failure', 'deferred', 'moving', { status: 'failure' }],
    ['success', 'blocked', 'x', { status: 'success' }],
  ])('%s with gate %s → %j', (status, state, reason, expected) => {
    expect(shownStatus(status, { state, reason })).toEqual(expected);
  });
  it('no gate facts: Mender’s status', () => {
    expect(shownStatus('downloading', undefined)).toEqual({ status: 'downloading' });
  });
});
