import { describe, expect, it } from 'vitest';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { REASON_CATALOGUE } from '../../../core/reason-codes.js';
import {
  estimateInstallSeconds,
  planEnergy,
  type EnergyConfig,
  type InstallRun,
} from '../../../state-scripts/policy/energy.js';
import { decideInstall, type InstallFacts } from '../../../state-scripts/policy/install.js';
import { endedRun } from '../../../state-scripts/install-durations.js';
import type { GateJournal } from '../../../core/gate-journal.js';
import { iso, meta, NOW, readings, STALENESS } from './builders.js';

// 1200 Wh battery, 20 % reserve, 25 W hub, rollback as long as the install, 20 % margin, 15 min default:
// need = 25 W × 0.25 h × 2 × 1.2 = 15 Wh; available at SOC s = (s − 20) % × 1200 Wh = 12 Wh per %.
const ENERGY: EnergyConfig = {
  capacity_wh: 1200,
  reserve_pct: 20,
  load_w: 25,
  rollback_factor: 1,
  margin_pct: 20,
  default_install_minutes: 15,
};

const run = (seconds: number, over: Partial<InstallRun> = {}): InstallRun => ({
  component: 'platform',
  artifact_name: 'vancore-platform-0.9.1',
  started_at: iso(86_400_000),
  seconds,
  outcome: 'committed',
  ...over,
});

function facts(
  soc: number | null,
  o: {
    shore?: boolean;
    energy?: Partial<EnergyConfig>;
    history?: InstallRun[];
    min_soc?: number;
    overrides?: boolean;
    meta_s?: number;
    load_w?: number;
    power_age_s?: number;
  } = {},
): InstallFacts {
  const r = readings({ soc, shore: o.shore ?? false, ...(o.power_age_s ? { power_age_s: o.power_age_s } : {}) });
  if (o.load_w !== undefined && r.status === 'ok' && r.readings.power) r.readings.power.load_w = o.load_w;
  return {
    now: NOW,
    meta: meta(o.meta_s ? { expected_install_seconds: o.meta_s } : {}, {
      min_battery_soc: o.min_soc ?? 0,
      ...(o.overrides === undefined ? {} : { shore_power_overrides_battery: o.overrides }),
    }),
    installed: { versions: { platform: '0.9.1' }, problems: [] },
    readings: r,
    staleness: STALENESS,
    wall_clock: null,
    first_attempt_at: NOW,
    wait_budget_seconds: 1800,
    energy: { config: { ...ENERGY, ...o.energy }, history: o.history ?? [] },
  };
}

describe('energy budget in decideInstall (pure)', () => {
  it.each([
    ['21 %: 12 Wh above the reserve < 15 Wh', facts(21), 'retry', ['energy_budget']],
    ['22 %: 24 Wh ≥ 15 Wh', facts(22), 'proceed', ['conditions_met']],
    ['at the reserve: nothing available', facts(20), 'retry', ['energy_budget']],
    ['below the reserve', facts(5), 'retry', ['energy_budget']],
    ['shore power overrides a flat battery', facts(5, { shore: true }), 'proceed', ['conditions_met']],
    [
      'shore power does not override when the artifact says so',
      facts(5, { shore: true, overrides: false }),
      'retry',
      ['energy_budget'],
    ],
    [
      'no capacity configured: no budget, SOC threshold only (0 here)',
      facts(5, { energy: { capacity_wh: null } }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'no capacity configured: the old threshold still holds',
      facts(25, { energy: { capacity_wh: null }, min_soc: 30 }),
      'retry',
      ['battery_low'],
    ],
    ['both on: threshold fails, budget passes', facts(25, { min_soc: 30 }), 'retry', ['battery_low']],
    ['both on: threshold passes, budget fails', facts(21, { min_soc: 10 }), 'retry', ['energy_budget']],
    ['both on, both fail: both codes', facts(21, { min_soc: 30 }), 'retry', ['battery_low', 'energy_budget']],
    [
      'learned: 1 h installs need 60 Wh, 48 Wh at 24 %',
      facts(24, { history: [run(3600)] }),
      'retry',
      ['energy_budget'],
    ],
    ['learned: 72 Wh at 26 % covers 60 Wh', facts(26, { history: [run(3600)] }), 'proceed', ['conditions_met']],
    [
      'learned from the same component only',
      facts(22, { history: [run(3600, { component: 'app' })] }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'failed runs are not learned from',
      facts(22, { history: [run(3600, { outcome: 'failed' })] }),
      'proceed',
      ['conditions_met'],
    ],
    [
      "the artifact's duration wins over learned",
      facts(26, { history: [run(60)], meta_s: 7200 }),
      'retry',
      ['energy_budget'],
    ],
    ['a live load above load_w counts', facts(22, { load_w: 50 }), 'retry', ['energy_budget']],
    ['a live load below load_w does not lower it', facts(21, { load_w: 5 }), 'retry', ['energy_budget']],
    [
      'no margin, no rollback: 6.25 Wh ≤ 12 Wh',
      facts(21, { energy: { margin_pct: 0, rollback_factor: 0 } }),
      'proceed',
      ['conditions_met'],
    ],
    ['battery unknown off shore power', facts(null), 'retry', ['readings_unknown']],
    ['stale power reading', facts(80, { power_age_s: 3600 }), 'retry', ['stale_readings']],
    [
      'stale power reading said once when the threshold also sees it',
      facts(80, { power_age_s: 3600, min_soc: 30 }),
      'retry',
      ['stale_readings'],
    ],
  ] as const)('%s → %s %j', (_name, f, verdict, codes) => {
    const v = decideInstall(f);
    expect(v.verdict).toBe(verdict);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
  });

  it('states need vs available Wh, and the figures in the facts', () => {
    const v = decideInstall(facts(21));
    expect(v.reasons[0]?.message).toBe(
      'needs 15 Wh (25 W × 15 min (default) × (1 + 1 rollback) + 20 %), has 12 Wh above the 20 % reserve (21 % of 1200 Wh)',
    );
    expect(v.facts.energy).toEqual({
      capacity_wh: 1200,
      reserve_pct: 20,
      load_w: 25,
      load_source: 'config',
      duration_s: 900,
      duration_source: 'default',
      rollback_factor: 1,
      margin_pct: 20,
      need_wh: 15,
      soc_pct: 21,
      available_wh: 12,
    });
    expect(REASON_CATALOGUE.energy_budget.phases).toContain('install');
  });

  it('an energy deferral past the wait budget fails like any soft condition', () => {
    const v = decideInstall({ ...facts(21), first_attempt_at: new Date(NOW.getTime() - 1800_000) });
    expect(v.verdict).toBe('fail');
    expect(v.reasons.map((r) => r.code)).toEqual(['wait_budget_exhausted', 'energy_budget']);
  });

  it('is off without capacity: no check, no facts', () => {
    const f = facts(50, { energy: { capacity_wh: null } });
    expect(
      planEnergy({ config: f.energy!.config, component: 'platform', meta_install_seconds: null, history: [] }, f, true),
    ).toBeNull();
    expect(decideInstall(f).facts.energy).toBeUndefined();
  });
});

describe('estimateInstallSeconds (pure)', () => {
  it.each([
    ['nothing known → default', null, [], { seconds: 900, source: 'default' }],
    ['meta-data', 1200, [run(60)], { seconds: 1200, source: 'meta_data' }],
    [
      'learned: the longest of the last five',
      null,
      [run(9999), run(100), run(300), run(200), run(120), run(250)],
      { seconds: 300, source: 'learned', samples: 5 },
    ],
    [
      'learned: other components ignored',
      null,
      [run(500, { component: 'app' }), run(200)],
      { seconds: 200, source: 'learned', samples: 1 },
    ],
    ['only failed runs → default', null, [run(500, { outcome: 'failed' })], { seconds: 900, source: 'default' }],
  ] as const)('%s', (_n, metaS, history, want) => {
    expect(estimateInstallSeconds('platform', metaS, history, 15)).toEqual(want);
  });
});

describe('ota.yaml energy defaults', () => {
  it('are documented values, off until capacity_wh is set', () => {
    expect(DeviceConfig.parse({}).energy).toEqual({
      capacity_wh: null,
      reserve_pct: 20,
      load_w: 25,
      rollback_factor: 1,
      margin_pct: 20,
      default_install_minutes: 15,
    });
    expect(DeviceConfig.safeParse({ energy: { capacity_wh: 0 } }).success).toBe(false);
    expect(DeviceConfig.safeParse({ energy: { capacity_wh: 1200, reserve: 20 } }).success).toBe(false);
  });
});

describe('endedRun (pure)', () => {
  const journal = (verdict: 'proceed' | 'retry', name = 'vancore-platform-0.9.2'): GateJournal => {
    const d = {
      phase: 'ArtifactInstall_Enter' as const,
      verdict,
      state: verdict === 'proceed' ? ('open' as const) : ('deferred' as const),
      exit_code: verdict === 'proceed' ? (0 as const) : (21 as const),
      reasons: [{ code: 'conditions_met' as const, message: 'ok' }],
      facts: {},
      at: iso(600_000),
      since: iso(600_000),
      artifact: { name, component: 'platform', version: '0.9.2' },
    };
    return { last: d, phases: { ArtifactInstall_Enter: d }, history_lines: 1 };
  };
  const art = { name: 'vancore-platform-0.9.2', component: 'platform' };

  it.each([
    ['proceeded 10 min ago', journal('proceed'), art, 600],
    ['never proceeded', journal('retry'), art, null],
    ['another artifact', journal('proceed', 'vancore-platform-0.9.1'), art, null],
    ['no journal', null, art, null],
  ] as const)('%s', (_n, j, a, seconds) => {
    const r = endedRun(j, a, 'committed', NOW);
    expect(r?.seconds ?? null).toBe(seconds);
  });
});
