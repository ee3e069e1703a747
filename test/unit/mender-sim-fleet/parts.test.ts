// The fleet's small pure parts: the due queue, the inventory a device reports, what it learns from an
// artifact header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { artifactFacts } from '../../../mender-sim/fleet/artifact.js';
import { DueQueue } from '../../../mender-sim/fleet/due-queue.js';
import { inventoryAttributes, macFor, makeProfile, vanIdFor } from '../../../mender-sim/fleet/inventory.js';
import { advance, initialState, type DeviceState, type Timing } from '../../../mender-sim/fleet/machine.js';

describe('DueQueue', () => {
  it('pops by due time, ties in insertion order', () => {
    const q = new DueQueue(5);
    q.schedule(3, 10);
    q.schedule(1, 5);
    q.schedule(4, 10);
    q.schedule(0, 5);
    expect([q.pop(), q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([1, 0, 3, 4, -1]);
  });

  it('moves a queued device when re-scheduled, and removes', () => {
    const q = new DueQueue(3);
    q.schedule(0, 1);
    q.schedule(1, 2);
    q.schedule(2, 3);
    q.schedule(2, 0);
    q.remove(1);
    expect(q.size).toBe(2);
    expect(q.peek()).toEqual({ index: 2, due: 0 });
    expect(q.has(1)).toBe(false);
    expect(q.dueOf(0)).toBe(1);
    expect([q.pop(), q.pop()]).toEqual([2, 0]);
    expect(q.peekDue()).toBe(Infinity);
  });

  it('always pops in (due, last-scheduled) order under random schedules and removals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(19), fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 200 }),
        (ops) => {
          const q = new DueQueue(20);
          const model = new Map<number, { due: number; order: number }>();
          ops.forEach(([i, due, remove], order) => {
            if (remove) {
              q.remove(i);
              model.delete(i);
            } else {
              q.schedule(i, due);
              model.set(i, { due, order });
            }
          });
          const want = [...model].sort(([, a], [, b]) => a.due - b.due || a.order - b.order).map(([i]) => i);
          const got: number[] = [];
          while (q.size) got.push(q.pop());
          expect(got).toEqual(want);
        },
      ),
    );
  });
});

describe('identities', () => {
  it('pads van ids to the fleet size (at least 5 digits)', () => {
    expect(vanIdFor('van-', 7, 40)).toBe('van-00007');
    expect(vanIdFor('eu-', 123456, 200000)).toBe('eu-123456');
  });

  it('makes distinct locally administered MACs per seed and index', () => {
    expect(macFor(7, 0)).toBe('02:07:00:00:00:00');
    expect(macFor(7, 258)).toBe('02:07:00:00:01:02');
    const set = new Set(Array.from({ length: 5000 }, (_, i) => macFor(1, i)));
    expect(set.size).toBe(5000);
  });
});

describe('inventoryAttributes', () => {
  const T: Timing = {
    pollIntervalMs: 1,
    inventoryIntervalMs: 1,
    retryIntervalMs: 1,
    stepDelayMs: 0,
    reauthBeforeCommit: true,
    statusAttempts: 3,
  };
  const profile = makeProfile({
    seed: 1,
    index: 3,
    count: 40,
    vanIdPrefix: 'van-',
    deviceType: 'vanpc',
    stage: undefined,
  });
  const fresh = initialState(
    { outcome: 'success' },
    { artifactName: 'vancore-factory-0.9.0', versions: { platform: '0.9.0', app: '1.3.0' } },
    Date.parse('2026-11-22T10:00:00Z'),
  );
  const asMender = (attrs: ReturnType<typeof inventoryAttributes>) => attrs.map((a) => ({ ...a, scope: 'inventory' }));

  it('fits the VanCore contract exactly (nothing dropped by the bridge parser)', () => {
    const parsed = parseInventory(asMender(inventoryAttributes(profile, fresh)));
    expect(parsed.dropped).toEqual([]);
    expect(parsed.mender).toEqual({
      device_type: 'vanpc',
      artifact_name: 'vancore-factory-0.9.0',
      mender_client_version: '3.4.0',
    });
    expect(parsed.vancore.van_id).toBe('van-00003');
    expect(parsed.vancore.components).toEqual({ platform: '0.9.0', app: '1.3.0' });
    expect(parsed.vancore.health).toMatchObject({ disk_ok: true, temp_ok: true, last_update_status: 'none' });
    expect(parsed.vancore.health.signal_quality).toBeGreaterThanOrEqual(0.6);
    expect(parsed.vancore.gate).toEqual({ state: 'open', phase: 'none', since: '2026-11-22T10:00:00.000Z' });
    expect(parsed.vancore.vpn.step).toBe('none');
  });

  it('reports one attribute per name (values are strings, as the client sends script output)', () => {
    const attrs = inventoryAttributes(profile, fresh);
    expect(new Set(attrs.map((a) => a.name)).size).toBe(attrs.length);
    expect(attrs.find((a) => a.name === 'vancore.health.battery_soc')?.value).toMatch(/^\d+$/);
  });

  it.each([
    ['weak_signal', 'vancore.health.signal_quality', '0.21', /^signal_low: /],
    ['low_battery', 'vancore.health.battery_soc', '14', /^battery_low: /],
  ] as const)('a gate deferring for %s reports the condition that holds it back', (reason, key, value, text) => {
    const offered: DeviceState = {
      ...fresh,
      booted: true,
      activity: 'idle',
      deferralsLeft: 2,
      action: { kind: 'next-v1' },
    };
    const s = advance(
      offered,
      { outcome: 'success', deferral: { polls: 2, reason } },
      { kind: 'reply', status: 200, deployment: { id: 'd', artifactName: 'x', uri: 'http://s/x' } },
      Date.parse('2026-11-22T10:05:00Z'),
      T,
    ).state;
    const attrs = inventoryAttributes(profile, s);
    const get = (n: string) => attrs.find((a) => a.name === n)?.value;
    expect(get(key)).toBe(value);
    expect(get('vancore.gate.state')).toBe('deferred');
    expect(get('vancore.gate.phase')).toBe('Download_Enter');
    expect(get('vancore.gate.reason')).toMatch(text);
    expect(get('vancore.gate.since')).toBe('2026-11-22T10:05:00.000Z');
    expect(parseInventory(asMender(attrs)).dropped).toEqual([]);
  });
});

describe('artifactFacts', () => {
  const payload = (provides: Record<string, string>, metaData?: Record<string, unknown>) => ({
    index: 0,
    type: 'vancore-compose',
    provides,
    depends: {},
    clearsProvides: [],
    files: [],
    ...(metaData ? { metaData } : {}),
  });

  it.each([
    [
      'provides',
      { name: 'a', provides: { artifact_name: 'a' }, payloads: [payload({ 'vancore.app.version': '1.4.0' })] },
      { app: '1.4.0' },
    ],
    [
      'meta-data when there is no provide',
      { name: 'a', provides: {}, payloads: [payload({}, { vancore: { component: 'platform', version: '0.9.2' } })] },
      { platform: '0.9.2' },
    ],
    [
      'the name as the last resort',
      { name: 'vancore-vpn-2.0.1', provides: {}, payloads: [payload({})] },
      { vpn: '2.0.1' },
    ],
    [
      'nothing for a foreign artifact',
      { name: 'rootfs-2024', provides: {}, payloads: [payload({ 'rootfs-image.version': '2024' })] },
      {},
    ],
  ])('takes component versions from %s', (_n, info, versions) => {
    expect(artifactFacts(info).versions).toEqual(versions);
  });
});
