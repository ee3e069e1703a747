import { describe, expect, it } from 'vitest';
import { toDecision } from '../../../state-scripts/journal.js';
import type { Verdict } from '../../../state-scripts/policy/types.js';
import {
  latestDownload,
  shouldWake,
  WAKE_MIN_GAP_MS,
  WAKE_RECENT_MS,
  type WakeFacts,
} from '../../../state-scripts/wake.js';
import { NOW } from './builders.js';

const verdict = (v: Verdict['verdict']): Verdict => ({ verdict: v, reasons: [], checks: [], facts: {} });
const deferredAt = (msAgo: number, v: Verdict['verdict'] = 'defer') => ({
  ...toDecision('Download_Enter', verdict(v), new Date(NOW.getTime() - msAgo)),
  since: new Date(NOW.getTime() - msAgo).toISOString(),
});
const D = deferredAt(60_000);
/** A deferral a minute ago for these reasons. */
const deferredFor = (reasons: Verdict['reasons']) => ({
  ...D,
  ...toDecision('Download_Enter', { ...verdict('defer'), reasons }, new Date(NOW.getTime() - 60_000)),
});

function facts(over: Partial<WakeFacts> = {}): WakeFacts {
  return { now: NOW, lastDownload: D, verdictNow: verdict('proceed'), wokeFor: null, wokeAt: null, ...over };
}

describe('shouldWake (pure)', () => {
  it.each([
    ['deferred a minute ago, gate open now', facts(), true],
    ['gate still closed', facts({ verdictNow: verdict('defer') }), false],
    ['gate would only retry', facts({ verdictNow: verdict('retry') }), false],
    ['no download decision yet', facts({ lastDownload: undefined }), false],
    ['last download went ahead', facts({ lastDownload: deferredAt(60_000, 'proceed') }), false],
    [
      'last download is in a 21 loop (the client retries by itself)',
      facts({ lastDownload: deferredAt(60_000, 'retry') }),
      false,
    ],
    ['deferral too old', facts({ lastDownload: deferredAt(WAKE_RECENT_MS + 1) }), false],
    ['already woken for this deferral', facts({ wokeFor: D.at }), false],
    [
      'deferred for roaming: no reading lifts it, the client re-asks at its poll (#17)',
      facts({
        lastDownload: deferredFor([{ code: 'roaming', message: 'roaming on Swisscom (22801), lte, roaming' }]),
      }),
      false,
    ],
    [
      'deferred while moving (a reading): woken',
      facts({
        lastDownload: deferredFor([{ code: 'moving', message: 'moving (imu)' }]),
      }),
      true,
    ],
    [
      'woken for an older deferral a moment ago',
      facts({ wokeFor: 'older', wokeAt: new Date(NOW.getTime() - WAKE_MIN_GAP_MS + 1) }),
      false,
    ],
    [
      'woken for an older deferral long ago',
      facts({ wokeFor: 'older', wokeAt: new Date(NOW.getTime() - WAKE_MIN_GAP_MS) }),
      true,
    ],
  ] as const)('%s → %s', (_name, f, want) => {
    expect(shouldWake(f)).toBe(want);
  });
});

describe('latestDownload', () => {
  const at = (phase: 'Download_Enter' | 'Sync_Leave', msAgo: number) => ({
    ...toDecision(phase, verdict('defer'), new Date(NOW.getTime() - msAgo)),
    since: NOW.toISOString(),
  });
  it('takes the newer of the two download gates (a van that changed clients has both)', () => {
    const d = at('Download_Enter', 60_000);
    const s = at('Sync_Leave', 1_000);
    expect(latestDownload({ Download_Enter: d, Sync_Leave: s })).toBe(s);
    expect(latestDownload({ Download_Enter: at('Download_Enter', 0), Sync_Leave: s })?.phase).toBe('Download_Enter');
    expect(latestDownload({ Sync_Leave: s })).toBe(s);
    expect(latestDownload({ Download_Enter: d })).toBe(d);
    expect(latestDownload(undefined)).toBeUndefined();
  });
});
