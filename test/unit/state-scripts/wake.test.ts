import { describe, expect, it } from 'vitest';
import { toDecision } from '../../../state-scripts/journal.js';
import type { Verdict } from '../../../state-scripts/policy/types.js';
import { shouldWake, WAKE_MIN_GAP_MS, WAKE_RECENT_MS, type WakeFacts } from '../../../state-scripts/wake.js';
import { NOW } from './builders.js';

const verdict = (v: Verdict['verdict']): Verdict => ({ verdict: v, reasons: [], checks: [], facts: {} });
const deferredAt = (msAgo: number, v: Verdict['verdict'] = 'defer') => ({
  ...toDecision('Download_Enter', verdict(v), new Date(NOW.getTime() - msAgo)),
  since: new Date(NOW.getTime() - msAgo).toISOString(),
});
const D = deferredAt(60_000);

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
