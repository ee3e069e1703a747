import { describe, expect, it } from 'vitest';
import { decideDownload, type DownloadFacts } from '../../../state-scripts/policy/download.js';
import type { ReadingsFacts, WallClock } from '../../../state-scripts/policy/types.js';
import { NOW, readings, SPEC_CONDITIONS, STALENESS, wall, type ReadingsSpec } from './builders.js';

const WINDOW = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const,
  start: '22:00',
  end: '06:00',
  timezone: 'local',
};

function facts(
  r: ReadingsSpec | ReadingsFacts,
  over: Partial<DownloadFacts['policy']> = {},
  clock: WallClock | null = null,
): DownloadFacts {
  return {
    now: NOW,
    policy: { ...SPEC_CONDITIONS, short_wait_seconds: 60, ...over },
    staleness: STALENESS,
    readings: 'status' in r ? r : readings(r),
    wall_clock: clock,
  };
}

describe('decideDownload (pure)', () => {
  it.each([
    // name, facts, verdict, reason codes
    ['parked, good signal, charged battery', facts({}), 'proceed', ['conditions_met']],
    ['moving', facts({ still_s: null }), 'defer', ['moving']],
    ['still 2 min 30 of 3: clears in 30 s → retry (21)', facts({ still_s: 150 }), 'retry', ['settling']],
    ['still 1 min of 3: 2 min left > short wait → not now (1)', facts({ still_s: 60 }), 'defer', ['settling']],
    ['short wait widened to 180 s → retry', facts({ still_s: 60 }, { short_wait_seconds: 180 }), 'retry', ['settling']],
    [
      'settling and a low battery: not a short wait',
      facts({ still_s: 150, soc: 10 }),
      'defer',
      ['settling', 'battery_low'],
    ],
    ['motion reading 31 s old (limit 30)', facts({ motion_age_s: 31 }), 'defer', ['stale_readings']],
    ['motion reading from the future', facts({ motion_age_s: -120 }), 'defer', ['stale_readings']],
    ['no motion section', facts({ omit: ['motion'] }), 'defer', ['readings_unknown']],
    ['signal 0.59 < 0.6', facts({ quality: 0.59 }), 'defer', ['signal_low']],
    ['signal exactly 0.6', facts({ quality: 0.6 }), 'proceed', ['conditions_met']],
    ['signal stale', facts({ signal_age_s: 121 }), 'defer', ['stale_readings']],
    ['battery 29 %', facts({ soc: 29 }), 'defer', ['battery_low']],
    ['battery 29 % on shore power', facts({ soc: 29, shore: true }), 'proceed', ['conditions_met']],
    [
      'battery 29 % on shore power, no override',
      facts({ soc: 29, shore: true }, { shore_power_overrides_battery: false }),
      'defer',
      ['battery_low'],
    ],
    ['battery unknown, off shore power', facts({ soc: null, shore: false }), 'defer', ['readings_unknown']],
    ['battery unknown, on shore power', facts({ soc: null, shore: true }), 'proceed', ['conditions_met']],
    ['power stale', facts({ power_age_s: 301 }), 'defer', ['stale_readings']],
    ['no readings file', facts({ status: 'missing' }), 'defer', ['readings_unknown']],
    ['corrupt readings file', facts({ status: 'invalid', problem: 'not JSON' }), 'defer', ['readings_invalid']],
    [
      'no readings but every check disabled',
      facts({ status: 'missing' }, { must_be_stationary: false, min_signal_quality: 0, min_battery_soc: 0 }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'moving but stationarity not required',
      facts({ still_s: null }, { must_be_stationary: false }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'inside the window',
      facts({}, { maintenance_window: { ...WINDOW, days: [...WINDOW.days] } }, wall('mon', '23:00')),
      'proceed',
      ['conditions_met'],
    ],
    [
      'outside the window for hours',
      facts({}, { maintenance_window: { ...WINDOW, days: [...WINDOW.days] } }, wall('mon', '12:00')),
      'defer',
      ['outside_window'],
    ],
    [
      'window opens in 40 s → retry',
      facts({}, { maintenance_window: { ...WINDOW, days: [...WINDOW.days] } }, wall('mon', '21:59', 20)),
      'retry',
      ['outside_window'],
    ],
    [
      'window opens in 40 s but moving',
      facts({ still_s: null }, { maintenance_window: { ...WINDOW, days: [...WINDOW.days] } }, wall('mon', '21:59', 20)),
      'defer',
      ['moving', 'outside_window'],
    ],
    [
      'window set, local time unknown',
      facts({}, { maintenance_window: { ...WINDOW, days: [...WINDOW.days] } }, null),
      'defer',
      ['outside_window'],
    ],
  ] as const)('%s → %s', (_name, f, verdict, codes) => {
    const v = decideDownload(f);
    expect(v.verdict).toBe(verdict);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
  });

  it('explains in words and keeps the facts it used', () => {
    const v = decideDownload(facts({ still_s: 150, quality: 0.81 }));
    expect(v.reasons[0]?.message).toBe('stationary for 2 min 30 s of the 3 min required (imu)');
    expect(v.checks.filter((c) => c.ok).map((c) => c.message)).toEqual([
      'signal quality 0.81 ≥ 0.6',
      'battery 82 % ≥ 30 %',
    ]);
    expect(v.facts).toMatchObject({
      now: NOW.toISOString(),
      expected_wait: '30 s',
      readings: { status: 'ok', motion: { source: 'imu', age_s: 2 }, signal: { quality: 0.81 } },
    });
  });

  it('every message fits the decision record (≤ 200 characters)', () => {
    const v = decideDownload(facts({ status: 'invalid', problem: 'x'.repeat(500) }));
    expect(v.reasons[0]?.message.length).toBe(200);
  });
});
