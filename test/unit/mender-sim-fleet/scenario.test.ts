// The seeded script: exact, reproducible behaviour per device, and readable errors for bad scenarios.
import { describe, expect, it } from 'vitest';
import { vanIdFor } from '../../../mender-sim/fleet/inventory.js';
import {
  assignBehaviours,
  assignStages,
  parseScenario,
  prng,
  seed32,
  shuffle,
  type Behaviour,
} from '../../../mender-sim/fleet/scenario.js';

const tally = (bs: Behaviour[]) => ({
  offline: bs.filter((b) => b.offline).length,
  failure: bs.filter((b) => b.outcome === 'failure').length,
  rollback: bs.filter((b) => b.outcome === 'rollback').length,
  deferral: bs.filter((b) => b.deferral).length,
  plain: bs.filter((b) => b.outcome === 'success' && !b.deferral && !b.offline).length,
});

describe('prng / seed32 / shuffle', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(prng(43)()).not.toBe(prng(42)());
  });

  it('hashes string seeds stably and keeps numbers as 32-bit', () => {
    expect(seed32('bench')).toBe(seed32('bench'));
    expect(seed32('bench')).not.toBe(seed32('bench2'));
    expect(seed32(7)).toBe(7);
    expect(seed32(2 ** 32 + 5)).toBe(5);
  });

  it('shuffles to a permutation', () => {
    const p = shuffle(100, prng(1));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe('assignBehaviours', () => {
  const scenario = {
    failure: 0.1,
    rollback: 0.05,
    deferral: { share: 0.1, polls: 2, reason: 'weak_signal' },
    offline: 0.05,
  } as const;

  it.each([
    [40, { offline: 2, failure: 4, rollback: 2, deferral: 4, plain: 28 }],
    [1000, { offline: 50, failure: 100, rollback: 50, deferral: 100, plain: 700 }],
    [7, { offline: 0, failure: 1, rollback: 0, deferral: 1, plain: 5 }],
    [0, { offline: 0, failure: 0, rollback: 0, deferral: 0, plain: 0 }],
  ])('%i devices get exactly round(share × count) of each behaviour', (count, want) => {
    expect(tally(assignBehaviours(count, 1, scenario))).toEqual(want);
  });

  it('is reproducible from the seed and differs between seeds', () => {
    const a = assignBehaviours(200, 'fleet-a', scenario);
    expect(assignBehaviours(200, 'fleet-a', scenario)).toEqual(a);
    expect(assignBehaviours(200, 'fleet-b', scenario)).not.toEqual(a);
  });

  it('applies the deferral and offline parameters, and their defaults', () => {
    const bs = assignBehaviours(100, 3, {
      deferral: { share: 0.5, polls: 4, reason: 'low_battery' },
      offline: { share: 0.1, afterPolls: 3 },
    });
    expect(bs.find((b) => b.deferral)?.deferral).toEqual({ polls: 4, reason: 'low_battery' });
    expect(bs.find((b) => b.offline)?.offline).toEqual({ afterPolls: 3 });
    const d = assignBehaviours(10, 3, { deferral: 0.5, offline: 0.5 });
    expect(d.find((b) => b.deferral)?.deferral).toEqual({ polls: 3, reason: 'moving' });
    expect(d.find((b) => b.offline)?.offline).toEqual({ afterPolls: 1 });
  });

  it('slices are disjoint: no device is both offline and failing', () => {
    const bs = assignBehaviours(100, 9, { offline: 0.3, failure: 0.3, rollback: 0.2, deferral: 0.2 });
    expect(bs.every((b) => [b.offline, b.outcome !== 'success', b.deferral].filter(Boolean).length === 1)).toBe(true);
  });

  it('overrides single devices by index or by van id', () => {
    const vanId = (i: number) => vanIdFor('van-', i, 10);
    const bs = assignBehaviours(
      10,
      1,
      {
        failure: 1,
        overrides: {
          '3': { artifactName: 'vancore-app-1.4.0' },
          'van-00007': { outcome: 'rollback', deferral: { polls: 1 } },
        },
      },
      vanId,
    );
    expect(bs[3]).toEqual({ outcome: 'success', artifactName: 'vancore-app-1.4.0' });
    expect(bs[7]).toEqual({ outcome: 'rollback', deferral: { polls: 1, reason: 'moving' } });
    expect(bs.filter((b) => b.outcome === 'failure')).toHaveLength(8);
  });

  it.each([
    [{ failure: 0.6, rollback: 0.5 }, /add up to 11 devices, more than the fleet's 10/],
    [{ failure: 1.5 }, /^scenario: failure: /],
    [{ deferral: { share: 0.1, reason: 'raining' } }, /^scenario: deferral/],
    [{ explode: 0.1 }, /^scenario: \(root\): /],
    [{ overrides: { 'van-99999': {} } }, /overrides\.van-99999: no such device/],
    [{ overrides: { '12': {} } }, /overrides\.12: no such device/],
  ])('rejects %j', (scenario, message) => {
    expect(() => assignBehaviours(10, 1, scenario)).toThrow(message);
  });

  it('parses a JSON scenario with defaults', () => {
    expect(parseScenario(JSON.parse('{"deferral":{"share":0.2}}'))).toEqual({
      deferral: { share: 0.2, polls: 3, reason: 'moving' },
    });
    expect(parseScenario(undefined)).toEqual({});
  });
});

describe('assignStages', () => {
  it('takes round(share × count) per ring, disjoint, the rest in none', () => {
    const st = assignStages(100, 5, { dev: 0.02, pilot: 0.08 });
    expect(st.filter((s) => s === 'dev')).toHaveLength(2);
    expect(st.filter((s) => s === 'pilot')).toHaveLength(8);
    expect(st.filter((s) => s === undefined)).toHaveLength(90);
    expect(assignStages(100, 5, { dev: 0.02, pilot: 0.08 })).toEqual(st);
  });

  it('is independent of the behaviours drawn from the same seed', () => {
    expect(assignStages(10, 1, undefined)).toEqual(new Array(10).fill(undefined));
    const st = assignStages(50, 1, { pilot: 0.2 });
    const bs = assignBehaviours(50, 1, { failure: 0.2 });
    const pilots = st.flatMap((s, i) => (s === 'pilot' ? [i] : []));
    const failing = bs.flatMap((b, i) => (b.outcome === 'failure' ? [i] : []));
    expect(pilots).not.toEqual(failing);
  });

  it.each([
    [{ 'bad name': 0.1 }, /not a valid Mender group name/],
    [{ dev: 2 }, /between 0 and 1/],
    [{ a: 0.7, b: 0.7 }, /more than the fleet/],
  ])('rejects %j', (stages, message) => {
    expect(() => assignStages(10, 1, stages)).toThrow(message);
  });
});
