import { describe, expect, it } from 'vitest';
import { decideInstall, requirementChecks, type InstallFacts } from '../../../state-scripts/policy/install.js';
import { meta, NOW, readings, STALENESS, wall } from './builders.js';

const MIN = 60_000;

function facts(over: Partial<InstallFacts> = {}): InstallFacts {
  return {
    now: NOW,
    meta: meta(),
    installed: { versions: { platform: '0.9.1', app: '1.4.0' }, problems: [] },
    readings: readings(),
    staleness: STALENESS,
    wall_clock: null,
    first_attempt_at: NOW,
    wait_budget_seconds: 1800,
    ...over,
  };
}

const waited = (ms: number) => new Date(NOW.getTime() - ms);

describe('decideInstall (pure)', () => {
  it.each([
    ['all met', facts(), 'proceed', ['conditions_met']],
    ['moving, first attempt → retry (21)', facts({ readings: readings({ still_s: null }) }), 'retry', ['moving']],
    [
      'moving, 29 min into a 30 min budget → retry',
      facts({ readings: readings({ still_s: null }), first_attempt_at: waited(29 * MIN) }),
      'retry',
      ['moving'],
    ],
    [
      'moving, budget used up → fail (1)',
      facts({ readings: readings({ still_s: null }), first_attempt_at: waited(30 * MIN) }),
      'fail',
      ['wait_budget_exhausted', 'moving'],
    ],
    [
      'budget 0: no waiting at all',
      facts({ readings: readings({ soc: 5 }), wait_budget_seconds: 0 }),
      'fail',
      ['wait_budget_exhausted', 'battery_low'],
    ],
    [
      'stale readings are waited for, not passed',
      facts({ readings: readings({ motion_age_s: 600 }) }),
      'retry',
      ['stale_readings'],
    ],
    [
      'artifact stricter than the spec: 70 % battery',
      facts({ meta: meta({}, { min_battery_soc: 90 }) }),
      'retry',
      ['battery_low'],
    ],
    [
      'artifact allows moving',
      facts({ meta: meta({}, { must_be_stationary: false }), readings: readings({ still_s: null }) }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'requires platform >=0.9.0, installed 0.8.4 → fail at once',
      facts({ installed: { versions: { platform: '0.8.4' }, problems: [] } }),
      'fail',
      ['requires_unmet'],
    ],
    [
      'required component not installed',
      facts({ meta: meta({ requires: { vpn: '>=1.0.0' } }) }),
      'fail',
      ['requires_unmet'],
    ],
    [
      'no versions recorded while something is required',
      facts({ installed: { versions: {}, problems: [] } }),
      'fail',
      ['requires_unmet'],
    ],
    [
      'versions.json broken while something is required',
      facts({ installed: { versions: {}, problems: ['/s/versions.json: not JSON'] } }),
      'fail',
      ['versions_unknown'],
    ],
    [
      'no versions recorded, nothing required',
      facts({ installed: { versions: {}, problems: [] }, meta: meta({ requires: {} }) }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'requirement unmet beats waiting',
      facts({ installed: { versions: { platform: '0.8.0' }, problems: [] }, readings: readings({ still_s: null }) }),
      'fail',
      ['requires_unmet'],
    ],
    [
      'bad meta-data',
      facts({
        meta: { status: 'invalid', problem: 'meta-data vancore.version: must be a semantic version such as 1.4.0' },
      }),
      'fail',
      ['meta_data_invalid'],
    ],
    [
      'artifact window closed for hours',
      facts({
        meta: meta(
          {},
          { maintenance_window: { days: ['sun'], start: '01:00', end: '05:00', timezone: 'Europe/Berlin' } },
        ),
        wall_clock: wall('mon', '12:00'),
      }),
      'retry',
      ['outside_window'],
    ],
  ] as const)('%s → %s', (_name, f, verdict, codes) => {
    const v = decideInstall(f);
    expect(v.verdict).toBe(verdict);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
  });

  it('keeps the artifact and the wait in its facts', () => {
    const v = decideInstall(facts({ readings: readings({ still_s: null }), first_attempt_at: waited(5 * MIN) }));
    expect(v.facts).toMatchObject({
      artifact: { name: 'vancore-platform-0.9.2', component: 'platform', version: '0.9.2' },
      requires: { platform: '>=0.9.0' },
      waited_s: 300,
      wait_budget_s: 1800,
    });
  });

  it.each([
    [{ platform: '>=0.9.0' }, { platform: '0.9.0' }, [true]],
    [{ platform: '>=0.9.0 <1.0.0' }, { platform: '1.0.0' }, [false]],
    [{ platform: '^0.9.0', app: '~1.4.0' }, { platform: '0.9.7', app: '1.5.0' }, [true, false]],
    [{ platform: '>=1.0.0' }, { platform: '1.0.0-rc.1' }, [false]],
    [{ platform: '>=0.9.0' }, { platform: '1.0.0-rc.1' }, [true]],
  ])('requires %j with %j installed', (requires, versions, oks) => {
    expect(requirementChecks(requires, { versions, problems: [] }).map((c) => c.ok)).toEqual(oks);
  });
});
