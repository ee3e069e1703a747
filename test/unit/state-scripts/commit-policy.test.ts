import { describe, expect, it } from 'vitest';
import { planCommit, type CommitFacts } from '../../../state-scripts/policy/commit.js';
import type { Check } from '../../../state-scripts/policy/types.js';
import { meta, NOW } from './builders.js';

const at = (s: number) => new Date(NOW.getTime() + s * 1000);
const failed: Check = {
  code: 'health_check_failed',
  ok: false,
  message: 'ui: HTTP 502, expected 200',
  clears_in_s: null,
};

function facts(over: Partial<CommitFacts> = {}): CommitFacts {
  return {
    now: NOW,
    meta: meta({ validation: { window_seconds: 300, require_cloud: true } }),
    cloud_target: 'https://mender.example',
    check_interval_seconds: 10,
    window_override_seconds: null,
    started_at: NOW,
    samples: 0,
    last_sample_at: null,
    failures: [],
    checked: ['ui', 'cloud'],
    ...over,
  };
}

describe('planCommit: the validation window (pure)', () => {
  it.each([
    ['first sample at once', facts(), { kind: 'sample', in_ms: 0 }],
    [
      'next sample one interval after the last',
      facts({ now: at(3), samples: 1, last_sample_at: at(1) }),
      { kind: 'sample', in_ms: 8000 },
    ],
    [
      'a slow sample: next one right away',
      facts({ now: at(25), samples: 2, last_sample_at: at(25) }),
      { kind: 'sample', in_ms: 10_000 },
    ],
    [
      'the last sample lands on the window end',
      facts({ now: at(296), samples: 30, last_sample_at: at(295) }),
      { kind: 'sample', in_ms: 4000 },
    ],
  ] as const)('%s', (_name, f, step) => {
    expect(planCommit(f)).toEqual(step);
  });

  it.each([
    [
      'held through the whole window → 0',
      facts({ now: at(300), samples: 31, last_sample_at: at(300) }),
      'proceed',
      ['validation_passed'],
    ],
    [
      'a failed sample ends the window → 1 (rollback)',
      facts({ now: at(40), samples: 5, last_sample_at: at(40), failures: [failed] }),
      'fail',
      ['health_check_failed'],
    ],
    ['cloud required but no target known', facts({ cloud_target: null }), 'fail', ['cloud_target_unknown']],
    [
      'cloud not required and no target',
      facts({
        cloud_target: null,
        meta: meta({ validation: { window_seconds: 0, require_cloud: false } }),
        samples: 1,
        last_sample_at: NOW,
      }),
      'proceed',
      ['validation_passed'],
    ],
    [
      'window 0: one good sample is enough',
      facts({
        meta: meta({ validation: { window_seconds: 0, require_cloud: true } }),
        samples: 1,
        last_sample_at: NOW,
      }),
      'proceed',
      ['validation_passed'],
    ],
    [
      'override shortens the window (gate check)',
      facts({ window_override_seconds: 20, now: at(20), samples: 3, last_sample_at: at(20) }),
      'proceed',
      ['validation_passed'],
    ],
    [
      'bad meta-data → 1',
      facts({ meta: { status: 'invalid', problem: 'no meta-data at /x' } }),
      'fail',
      ['meta_data_invalid'],
    ],
  ] as const)('%s', (_name, f, verdict, codes) => {
    const s = planCommit(f);
    expect(s.kind).toBe('done');
    if (s.kind !== 'done') return;
    expect(s.verdict.verdict).toBe(verdict);
    expect(s.verdict.reasons.map((r) => r.code)).toEqual(codes);
  });

  it('says what held and for how long', () => {
    const s = planCommit(facts({ now: at(300), samples: 31, last_sample_at: at(300) }));
    expect(s.kind === 'done' && s.verdict.reasons[0]?.message).toBe('ui, cloud held for 5 min (31 samples)');
  });
});
