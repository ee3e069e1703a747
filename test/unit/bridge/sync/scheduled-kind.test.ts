import { describe, expect, it } from 'vitest';
import { scheduledKind } from '../../../../bridge/sync/runner.js';

const base = { nowMs: 10_000_000, lastFullMs: 9_000_000, fullEveryMs: 3_600_000, reconcileEvery: 10 };

describe('scheduledKind', () => {
  it.each([
    ['the first tick of a process is full', { lastFullMs: 0, incrementalsSinceReconcile: 0 }, 'full'],
    ['a full resync due wins over a reconcile due', { lastFullMs: 0, incrementalsSinceReconcile: 10 }, 'full'],
    ['incremental until reconcile_every incrementals went by', { incrementalsSinceReconcile: 9 }, 'incremental'],
    ['then a reconcile', { incrementalsSinceReconcile: 10 }, 'reconcile'],
    ['0 turns reconcile runs off', { incrementalsSinceReconcile: 50, reconcileEvery: 0 }, 'incremental'],
  ] as const)('%s', (_name, over, kind) => {
    expect(scheduledKind({ ...base, ...over })).toBe(kind);
  });

  it('with reconcile_every 3, a 60 s schedule runs full, 3 incrementals, reconcile, 3 incrementals, …', () => {
    const kinds: string[] = [];
    let since = 0;
    let lastFull = 0;
    for (let tick = 0; tick < 9; tick++) {
      const nowMs = 10_000_000 + tick * 60_000;
      const k = scheduledKind({
        nowMs,
        lastFullMs: lastFull,
        fullEveryMs: 3_600_000,
        incrementalsSinceReconcile: since,
        reconcileEvery: 3,
      });
      kinds.push(k);
      if (k === 'full') lastFull = nowMs;
      since = k === 'incremental' ? since + 1 : 0;
    }
    expect(kinds).toEqual([
      'full',
      'incremental',
      'incremental',
      'incremental',
      'reconcile',
      'incremental',
      'incremental',
      'incremental',
      'reconcile',
    ]);
  });
});
