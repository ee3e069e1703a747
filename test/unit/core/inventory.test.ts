import { describe, expect, it } from 'vitest';
import { formatInventoryLines, parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';

describe('parseInventory (Mender [{name, value}] lists)', () => {
  const good = attrs({
    'vancore.van_id': 'van-0381',
    'vancore.platform.version': '0.9.2',
    'vancore.app.version': '1.4.0',
    'vancore.health.disk_ok': 'true',
    'vancore.health.temp_ok': false,
    'vancore.health.signal_quality': '0.78',
    'vancore.health.battery_soc': 82,
    'vancore.health.shore_power': 'false',
    'vancore.health.last_update_status': 'success',
    'vancore.gate.state': 'deferred',
    'vancore.gate.phase': 'Download_Enter',
    'vancore.gate.reason': 'moving: stationary 0 of 3 min',
    'vancore.gate.since': '2026-11-22T07:00:00Z',
    'vancore.vpn.state': 'tailscale',
    'vancore.vpn.step': 'none',
    device_type: 'vanpc',
    artifact_name: 'vancore-platform-0.9.2',
    mender_client_version: '3.4.0+ds1-5+b1',
    network_interfaces: ['wlan0', 'wwan0'],
    mem_total_kB: 16318520,
  });

  it('maps every contract key, coercing the client strings', () => {
    const p = parseInventory(good);
    expect(p.dropped).toEqual([]);
    expect(p.vancore).toEqual({
      van_id: 'van-0381',
      components: { platform: '0.9.2', app: '1.4.0' },
      health: {
        disk_ok: true,
        temp_ok: false,
        signal_quality: 0.78,
        battery_soc: 82,
        shore_power: false,
        last_update_status: 'success',
      },
      gate: {
        state: 'deferred',
        phase: 'Download_Enter',
        reason: 'moving: stationary 0 of 3 min',
        since: '2026-11-22T07:00:00Z',
      },
      vpn: { state: 'tailscale', step: 'none' },
      data: {},
      soak: {},
    });
    expect(p.mender).toEqual({
      device_type: 'vanpc',
      artifact_name: 'vancore-platform-0.9.2',
      mender_client_version: '3.4.0+ds1-5+b1',
    });
    expect(p.extra).toEqual({ network_interfaces: ['wlan0', 'wwan0'], mem_total_kB: 16318520 });
  });

  it('sorts other scopes apart (identity, system, tags)', () => {
    const p = parseInventory([
      ...attrs({ mac: '02:00:00:00:00:01', status: 'accepted' }, 'identity'),
      ...attrs({ group: 'pilot', updated_ts: '2026-11-22T10:00:00Z' }, 'system'),
      ...attrs({ vancore_stage: 'pilot' }, 'tags'),
    ]);
    expect(p.identity).toEqual({ mac: '02:00:00:00:00:01', status: 'accepted' });
    expect(p.system.group).toBe('pilot');
    expect(p.tags).toEqual({ vancore_stage: 'pilot' });
    expect(p.dropped).toEqual([]);
  });

  it.each([
    ['a non-semver component version', { 'vancore.app.version': 'latest' }, 'must be a semantic version such as 1.4.0'],
    [
      'an out-of-range signal quality',
      { 'vancore.health.signal_quality': '7' },
      'invalid value for vancore.health.signal_quality',
    ],
    [
      'a number that is not one',
      { 'vancore.health.battery_soc': '82%' },
      'invalid value for vancore.health.battery_soc',
    ],
    [
      'a repeated key (array value)',
      { 'vancore.gate.state': ['open', 'blocked'] },
      'must be a single value (the key was reported more than once)',
    ],
    ['an unknown vancore key', { 'vancore.health.mood': 'happy' }, 'not a VanCore inventory key'],
    ['an unknown gate state', { 'vancore.gate.state': 'sleeping' }, 'invalid value for vancore.gate.state'],
    [
      'an object value',
      { 'vancore.van_id': { nested: true } },
      'value must be a string, number, boolean or a list of them',
    ],
    ['a van id with spaces', { 'vancore.van_id': 'van 381' }, 'invalid value for vancore.van_id'],
    ['a non-string artifact_name', { artifact_name: 42 }, 'must be a single string'],
  ])('drops %s with a reason, keeping the rest', (_name, bad, reason) => {
    const p = parseInventory([...attrs(bad), ...attrs({ 'vancore.platform.version': '0.9.2' })]);
    expect(p.dropped).toHaveLength(1);
    expect(p.dropped[0]?.reason).toBe(reason);
    expect(p.vancore.components.platform).toBe('0.9.2');
  });

  it('never throws on garbage, and counts what it dropped', () => {
    expect(parseInventory('nope').dropped).toHaveLength(1);
    expect(parseInventory(null).dropped).toHaveLength(1);
    const p = parseInventory([
      42,
      { name: '' },
      { value: 1 },
      { name: 'x', value: 'y', scope: 'monitor' },
      { name: 'ok', value: 'y' },
    ]);
    expect(p.dropped.map((d) => d.reason)).toEqual([
      'not a {name, value} attribute',
      'not a {name, value} attribute',
      'not a {name, value} attribute',
      'unknown scope "monitor"',
    ]);
    expect(p.extra).toEqual({ ok: 'y' });
  });

  it('lets the first occurrence decide even when it is malformed', () => {
    const p = parseInventory([
      { name: 'vancore.gate.state', value: null },
      { name: 'vancore.gate.state', value: 'open' },
    ]);
    expect(p.vancore.gate.state).toBeUndefined();
    expect(p.dropped.map((d) => d.reason)).toEqual([
      'value must be a string, number, boolean or a list of them',
      'duplicate attribute',
    ]);
  });

  it('keeps the first of duplicate attributes', () => {
    const p = parseInventory(attrs({ 'vancore.van_id': 'van-1' }).concat(attrs({ 'vancore.van_id': 'van-2' })));
    expect(p.vancore.van_id).toBe('van-1');
    expect(p.dropped).toEqual([{ scope: 'inventory', name: 'vancore.van_id', reason: 'duplicate attribute' }]);
  });
});

describe('formatInventoryLines', () => {
  it('writes one key=value line per entry, flattening newlines and skipping bad keys', () => {
    const { lines, skipped } = formatInventoryLines({
      'vancore.van_id': 'van-0381',
      'vancore.gate.reason': 'moving\nfor 3 min\r',
      'vancore.health.battery_soc': 82,
      'vancore.health.disk_ok': true,
      'bad key': 'x',
      'vancore.vpn.step': undefined,
    });
    expect(lines).toEqual([
      'vancore.van_id=van-0381',
      'vancore.gate.reason=moving for 3 min',
      'vancore.health.battery_soc=82',
      'vancore.health.disk_ok=true',
    ]);
    expect(skipped).toEqual(['bad key']);
  });

  it('round-trips through the parser', () => {
    const { lines } = formatInventoryLines({
      'vancore.van_id': 'van-7',
      'vancore.gate.state': 'open',
      'vancore.platform.version': '1.0.0',
    });
    const list = lines.map((l) => ({ name: l.slice(0, l.indexOf('=')), value: l.slice(l.indexOf('=') + 1) }));
    const p = parseInventory(list);
    expect(p.dropped).toEqual([]);
    expect(p.vancore).toMatchObject({ van_id: 'van-7', gate: { state: 'open' }, components: { platform: '1.0.0' } });
  });
});
