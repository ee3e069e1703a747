// The inventory merge as a pure rule (bridge/store/merge-van.ts, issue #15): a table over the previous
// record, what the device reported and the time.
import { describe, expect, it } from 'vitest';
import { mergeVan, storedGateCodes } from '../../../bridge/store/merge-van.js';
import type { DeviceSnapshot } from '../../../bridge/store/fleet-store.js';
import { formatReasonLine } from '../../../core/reason-codes.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';

const T0 = '2026-11-22T10:00:00.000Z';
const T1 = '2026-11-22T10:05:00.000Z';

const snap = (inv: Record<string, unknown>, extra: Partial<DeviceSnapshot> = {}): DeviceSnapshot => ({
  deviceId: 'd1',
  authStatus: 'accepted',
  inventory: parseInventory(attrs({ 'vancore.van_id': 'van-1', ...inv })),
  ...extra,
});
const merge = (prev: ReturnType<typeof mergeVan>['row'] | undefined, inv: Record<string, unknown>, now = T1) =>
  mergeVan(prev, { snapshot: snap(inv), vanId: 'van-1', initialStage: 'fleet' }, undefined, now);
const first = (inv: Record<string, unknown>) => merge(undefined, inv, T0);
const line = (code: 'moving' | 'signal_low', message: string) => formatReasonLine([{ code, message }]);

describe('mergeVan', () => {
  it('a new van: created with the reported facts, first seen now, one health and one gate row', () => {
    const m = first({
      'vancore.gate.state': 'open',
      'vancore.health.battery_soc': '80',
      'vancore.platform.version': '1.0.0',
    });
    expect(m.changed).toBe(true);
    expect(m.row).toMatchObject({
      van_id: 'van-1',
      stage: 'fleet',
      first_seen: T0,
      gate_state: 'open',
      battery_soc: 80,
    });
    expect(m.components).toEqual([{ component: 'platform', version: '1.0.0' }]);
    expect(m.health).toMatchObject({ battery_soc: 80, at: T0 });
    expect(m.gate).toMatchObject({ state: 'open', recorded_at: T0 });
  });

  const deferredBy = (codes: string | undefined, reason: string) => ({
    'vancore.gate.state': 'deferred',
    'vancore.gate.phase': 'Sync_Leave',
    'vancore.gate.reason': reason,
    ...(codes === undefined ? {} : { 'vancore.gate.codes': codes }),
  });
  const cases: [string, Record<string, unknown>, Record<string, unknown>, boolean][] = [
    [
      'same codes, new words',
      deferredBy('moving', line('moving', '10 s')),
      deferredBy('moving', line('moving', '70 s')),
      false,
    ],
    [
      'old hub, same code in the line',
      deferredBy('moving', line('moving', '10 s')),
      deferredBy(undefined, line('moving', '9 s')),
      false,
    ],
    [
      'a second code',
      deferredBy('moving', line('moving', 'a')),
      deferredBy('moving,signal_low', 'moving, signal_low: a; b'),
      true,
    ],
    ['codes in another order', deferredBy('signal_low,moving', 'x'), deferredBy('moving,signal_low', 'y'), false],
    [
      'state changes',
      deferredBy('moving', 'moving: a'),
      { 'vancore.gate.state': 'open', 'vancore.gate.phase': 'Sync_Leave' },
      true,
    ],
    [
      'phase changes',
      deferredBy('moving', 'moving: a'),
      { ...deferredBy('moving', 'moving: a'), 'vancore.gate.phase': 'ArtifactInstall_Enter' },
      true,
    ],
    ['nothing about the gate reported', deferredBy('moving', 'moving: a'), {}, false],
  ];
  it.each(cases)('gate history: %s', (_name, before, after, row) => {
    const a = first(before);
    const b = merge(a.row, after);
    expect(b.gate !== undefined).toBe(row);
  });

  it('keeps what the device did not report, and ops-owned fields (stage, hold, excluded)', () => {
    const a = first({ 'vancore.health.battery_soc': '80', 'vancore.client': 'mender/3.4.0' });
    const b = merge({ ...a.row, stage: 'pilot', hold: 1, excluded: 1 }, { 'vancore.health.disk_ok': 'true' });
    expect(b.row).toMatchObject({
      stage: 'pilot',
      hold: 1,
      excluded: 1,
      battery_soc: 80,
      disk_ok: 1,
      client: 'mender/3.4.0',
      first_seen: T0,
    });
  });

  it('an unchanged resync writes nothing: no row, no health, no gate, no components', () => {
    const inv = {
      'vancore.gate.state': 'open',
      'vancore.health.battery_soc': '80',
      'vancore.platform.version': '1.0.0',
    };
    const a = first(inv);
    const b = mergeVan(
      a.row,
      { snapshot: snap(inv), vanId: 'van-1', initialStage: 'fleet' },
      new Map([['platform', '1.0.0']]),
      T1,
    );
    expect([b.changed, b.health, b.gate, b.components]).toEqual([false, undefined, undefined, []]);
  });

  it('a new van takes its stage from the tag, a known van keeps its own', () => {
    const m = mergeVan(undefined, { snapshot: snap({}), vanId: 'van-1', initialStage: 'internal' }, undefined, T0);
    expect(m.row.stage).toBe('internal');
    expect(
      mergeVan(
        { ...m.row, stage: 'pilot' },
        { snapshot: snap({}), vanId: 'van-1', initialStage: 'internal' },
        undefined,
        T1,
      ).row.stage,
    ).toBe('pilot');
  });

  it('a device out of its Mender group: system attributes without group clear it', () => {
    const a = mergeVan(
      undefined,
      {
        snapshot: {
          ...snap({}),
          inventory: parseInventory([...attrs({ 'vancore.van_id': 'van-1' }), ...attrs({ group: 'vans' }, 'system')]),
        },
        vanId: 'van-1',
        initialStage: 'fleet',
      },
      undefined,
      T0,
    );
    expect(a.row.mender_group).toBe('vans');
    const b = mergeVan(
      a.row,
      {
        snapshot: {
          ...snap({}),
          inventory: parseInventory([...attrs({ 'vancore.van_id': 'van-1' }), ...attrs({ created_ts: T0 }, 'system')]),
        },
        vanId: 'van-1',
        initialStage: 'fleet',
      },
      undefined,
      T1,
    );
    expect(b.row.mender_group).toBeNull();
  });
});

describe('storedGateCodes', () => {
  it.each([
    [{ codes: 'signal_low,moving' }, 'moving,signal_low'],
    [{ codes: 'moving,,BAD,moving' }, 'moving'],
    [{ reason: 'battery_low, moving: a; b' }, 'battery_low,moving'],
    [{ reason: 'free text from a hand-set value' }, 'unknown'],
    [{}, undefined],
  ])('%j → %s', (reported, want) => expect(storedGateCodes(reported)).toBe(want));
});
