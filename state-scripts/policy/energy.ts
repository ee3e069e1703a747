// The install gate's energy budget (issue #20), pure. A van far from a workshop must never be left
// half-updated with a flat battery, so the battery above the living reserve must cover the install AND
// a rollback, with a margin:
//
//   available = (SOC − reserve_pct) / 100 × capacity_wh
//   need      = load_w × duration_h × (1 + rollback_factor) × (1 + margin_pct / 100)
//
// proceed when available ≥ need; shore power overrides (when the artifact lets shore power override the
// battery). The load is the larger of the configured `load_w` and a live `power.load_w` reading; the
// duration comes from the artifact's meta-data, else this van's own past installs of the component,
// else the configured default. With no `capacity_wh` the budget is off and only the artifact's
// `min_battery_soc` threshold applies (conditions.ts); when both are on, both must pass.
import type { ConditionFacts } from './conditions.js';
import type { Check } from './types.js';

export interface EnergyConfig {
  /** null = no energy budget (the old SOC threshold alone). */
  capacity_wh: number | null;
  reserve_pct: number;
  load_w: number;
  rollback_factor: number;
  margin_pct: number;
  default_install_minutes: number;
}

/** One finished install on this van (state-scripts/install-durations.ts keeps them). */
export interface InstallRun {
  component: string;
  artifact_name: string | null;
  started_at: string;
  seconds: number;
  outcome: 'committed' | 'failed';
}

/** Learn from this many of the component's latest committed installs (the longest of them counts). */
export const LEARN_FROM_LAST = 5;

export type DurationSource = 'meta_data' | 'learned' | 'default';

export interface DurationEstimate {
  seconds: number;
  source: DurationSource;
  /** learned: how many past installs it is the longest of. */
  samples?: number;
}

/**
 * Pure: the expected install duration. The artifact's own figure wins; else the longest of this van's
 * last LEARN_FROM_LAST committed installs of the same component (the longest: a budget must not be
 * short, and a van's installs vary with its disk and link); else the configured default. Failed runs
 * are not learned from: they stopped early (or only then rolled back), so they say little of a full one.
 */
export function estimateInstallSeconds(
  component: string,
  meta_seconds: number | null | undefined,
  history: readonly InstallRun[],
  default_minutes: number,
): DurationEstimate {
  if (meta_seconds !== null && meta_seconds !== undefined && meta_seconds > 0) {
    return { seconds: meta_seconds, source: 'meta_data' };
  }
  const learned = history
    .filter((r) => r.component === component && r.outcome === 'committed' && r.seconds > 0)
    .slice(-LEARN_FROM_LAST);
  if (learned.length > 0) {
    return { seconds: Math.max(...learned.map((r) => r.seconds)), source: 'learned', samples: learned.length };
  }
  return { seconds: default_minutes * 60, source: 'default' };
}

export interface EnergyFacts {
  config: EnergyConfig;
  /** The artifact's component (its past installs are learned from). */
  component: string;
  /** The artifact's `expected_install_seconds`, when it carries one. */
  meta_install_seconds: number | null;
  /** This van's finished installs, oldest first. */
  history: readonly InstallRun[];
}

export interface EnergyPlan {
  check: Check;
  /** For the journal: the figures the check used (absent when it could not compute them). */
  facts: Record<string, unknown>;
}

/** "12.5 Wh", "96 Wh": one decimal below 100 Wh, whole numbers above. */
export function wh(x: number): string {
  const v = x < 100 ? Math.round(x * 10) / 10 : Math.round(x);
  return `${v} Wh`;
}

const ok = (message: string): Check => ({ code: 'energy_budget', ok: true, message, clears_in_s: null });

/**
 * Pure: the energy budget check, or null when it is off (no capacity configured). Unknown, stale or
 * invalid power readings fail with the readings' own codes (the battery threshold says the same, and
 * decideInstall keeps one of each code).
 */
export function planEnergy(
  e: EnergyFacts,
  f: Pick<ConditionFacts, 'now' | 'readings' | 'staleness'>,
  shore_power_overrides: boolean,
): EnergyPlan | null {
  const c = e.config;
  if (c.capacity_wh === null) return null;
  const bad = (code: Check['code'], message: string): EnergyPlan => ({
    check: { code, ok: false, message, clears_in_s: null },
    facts: {},
  });
  if (f.readings.status === 'missing') return bad('readings_unknown', 'no readings: the energy budget is unknown');
  if (f.readings.status === 'invalid') return bad('readings_invalid', `readings are unusable: ${f.readings.problem}`);
  const power = f.readings.readings.power;
  if (!power) return bad('readings_unknown', 'no power reading: the energy budget is unknown');
  const age_s = (f.now.getTime() - Date.parse(power.at)) / 1000;
  if (age_s > f.staleness.power_seconds || age_s < -60) {
    return bad('stale_readings', 'the power reading is too old (or in the future) for the energy budget');
  }
  const estimate = estimateInstallSeconds(e.component, e.meta_install_seconds, e.history, c.default_install_minutes);
  const load_w = Math.max(c.load_w, power.load_w ?? 0);
  const need_wh = load_w * (estimate.seconds / 3600) * (1 + c.rollback_factor) * (1 + c.margin_pct / 100);
  const facts: Record<string, unknown> = {
    capacity_wh: c.capacity_wh,
    reserve_pct: c.reserve_pct,
    load_w,
    load_source: power.load_w !== undefined && power.load_w > c.load_w ? 'reading' : 'config',
    duration_s: Math.round(estimate.seconds),
    duration_source: estimate.source,
    ...(estimate.samples !== undefined ? { duration_samples: estimate.samples } : {}),
    rollback_factor: c.rollback_factor,
    margin_pct: c.margin_pct,
    need_wh: Math.round(need_wh * 10) / 10,
  };
  if (power.shore_power === true && shore_power_overrides) {
    return { check: ok(`on shore power (the update needs ${wh(need_wh)})`), facts: { ...facts, shore_power: true } };
  }
  if (power.battery_soc_pct === null) {
    return bad('readings_unknown', 'battery state of charge unknown and not on shore power: no energy budget');
  }
  const available_wh = (Math.max(0, power.battery_soc_pct - c.reserve_pct) / 100) * c.capacity_wh;
  const all = { ...facts, soc_pct: power.battery_soc_pct, available_wh: Math.round(available_wh * 10) / 10 };
  const how = `${load_w} W × ${Math.round(estimate.seconds / 60)} min (${estimate.source.replace('_', '-')}) × (1 + ${c.rollback_factor} rollback) + ${c.margin_pct} %`;
  const has = `${wh(available_wh)} above the ${c.reserve_pct} % reserve (${power.battery_soc_pct} % of ${wh(c.capacity_wh)})`;
  return available_wh >= need_wh
    ? { check: ok(`energy: needs ${wh(need_wh)}, has ${has}`), facts: all }
    : {
        check: {
          code: 'energy_budget',
          ok: false,
          message: `needs ${wh(need_wh)} (${how}), has ${has}`,
          clears_in_s: null,
        },
        facts: all,
      };
}
