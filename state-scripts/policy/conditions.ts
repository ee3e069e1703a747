// The conditions shared by Download_Enter (ota.yaml download policy) and ArtifactInstall_Enter (the
// artifact's constraints): stationary long enough, signal, battery or shore power, maintenance window.
// Pure. Unknown or stale readings never pass.
import type { MaintenanceWindow } from '../../core/schemas/common.js';
import { human, type Check, type ReadingsFacts, type WallClock } from './types.js';
import { windowStatus } from './window.js';

export interface Conditions {
  must_be_stationary: boolean;
  stationary_minutes: number;
  /** 0 disables the signal check. */
  min_signal_quality: number;
  /** 0 disables the battery check. */
  min_battery_soc: number;
  shore_power_overrides_battery: boolean;
  maintenance_window: MaintenanceWindow | null;
}

export interface Staleness {
  motion_seconds: number;
  signal_seconds: number;
  power_seconds: number;
}

export interface ConditionFacts {
  now: Date;
  readings: ReadingsFacts;
  staleness: Staleness;
  /** Local wall clock in the window's zone; null when there is no window (or it could not be sensed). */
  wall_clock: WallClock | null;
}

/** A reading may be this far in the future (clock skew between sensord and the gate) before it is refused. */
export const FUTURE_TOLERANCE_S = 60;

const ok = (code: Check['code'], message: string): Check => ({ code, ok: true, message, clears_in_s: null });
const bad = (code: Check['code'], message: string, clears_in_s: number | null = null): Check => ({
  code,
  ok: false,
  message,
  clears_in_s,
});

/** Age check of one readings section: null when fresh, else the failing check. */
function freshness(what: string, at: string, now: Date, limit_s: number): Check | null {
  const age = (now.getTime() - Date.parse(at)) / 1000;
  if (age < -FUTURE_TOLERANCE_S) return bad('stale_readings', `${what} reading is dated ${human(-age)} in the future`);
  if (age > limit_s) return bad('stale_readings', `${what} reading is ${human(age)} old (limit ${human(limit_s)})`);
  return null;
}

export function assessConditions(c: Conditions, f: ConditionFacts): Check[] {
  const checks: Check[] = [];
  const needs = {
    motion: c.must_be_stationary,
    signal: c.min_signal_quality > 0,
    power: c.min_battery_soc > 0,
  };
  const r = f.readings;
  if (r.status !== 'ok' && (needs.motion || needs.signal || needs.power)) {
    checks.push(
      r.status === 'missing'
        ? bad('readings_unknown', 'no readings yet (is vancore-ota sensord running?)')
        : bad('readings_invalid', `readings are unusable: ${r.problem}`),
    );
  } else if (r.status === 'ok') {
    const { motion, signal, power } = r.readings;
    if (needs.motion) {
      if (!motion) checks.push(bad('readings_unknown', 'no motion reading'));
      else {
        const stale = freshness('motion', motion.at, f.now, f.staleness.motion_seconds);
        if (stale) checks.push(stale);
        else if (motion.stationary_since === null) checks.push(bad('moving', `the van is moving (${motion.source})`));
        else {
          const still_s = Math.max(0, (f.now.getTime() - Date.parse(motion.stationary_since)) / 1000);
          const need_s = c.stationary_minutes * 60;
          checks.push(
            still_s >= need_s
              ? ok('moving', `stationary for ${human(still_s)} (${motion.source})`)
              : bad(
                  'settling',
                  `stationary for ${human(still_s)} of the ${human(need_s)} required (${motion.source})`,
                  Math.ceil(need_s - still_s),
                ),
          );
        }
      }
    }
    if (needs.signal) {
      if (!signal) checks.push(bad('readings_unknown', 'no signal reading'));
      else {
        const stale = freshness('signal', signal.at, f.now, f.staleness.signal_seconds);
        if (stale) checks.push(stale);
        else
          checks.push(
            signal.quality >= c.min_signal_quality
              ? ok('signal_low', `signal quality ${signal.quality} ≥ ${c.min_signal_quality}`)
              : bad('signal_low', `signal quality ${signal.quality} is below ${c.min_signal_quality}`),
          );
      }
    }
    if (needs.power) {
      if (!power) checks.push(bad('readings_unknown', 'no power reading'));
      else {
        const stale = freshness('power', power.at, f.now, f.staleness.power_seconds);
        if (stale) checks.push(stale);
        else if (power.shore_power === true && c.shore_power_overrides_battery)
          checks.push(ok('battery_low', 'on shore power'));
        else if (power.battery_soc_pct === null)
          checks.push(bad('readings_unknown', 'battery state of charge unknown and not on shore power'));
        else
          checks.push(
            power.battery_soc_pct >= c.min_battery_soc
              ? ok('battery_low', `battery ${power.battery_soc_pct} % ≥ ${c.min_battery_soc} %`)
              : bad('battery_low', `battery ${power.battery_soc_pct} % is below ${c.min_battery_soc} %`),
          );
      }
    }
  }
  const w = c.maintenance_window;
  if (w) {
    if (!f.wall_clock) checks.push(bad('outside_window', `local time in ${w.timezone} is unknown`));
    else {
      const s = windowStatus(w, f.wall_clock);
      const span = `${w.days.length === 7 ? 'daily' : w.days.join(',')} ${w.start}–${w.end} (${f.wall_clock.zone})`;
      checks.push(
        s.open
          ? ok('outside_window', `inside the maintenance window ${span}`)
          : bad(
              'outside_window',
              `outside the maintenance window ${span}${s.opens_in_s !== null ? `; opens in ${human(s.opens_in_s)}` : ''}`,
              s.opens_in_s,
            ),
      );
    }
  }
  return checks;
}

/** A compact summary of the readings for the journal's facts. */
export function readingsSummary(r: ReadingsFacts, now: Date): Record<string, unknown> {
  if (r.status !== 'ok') return { status: r.status, ...(r.status === 'invalid' ? { problem: r.problem } : {}) };
  const age = (at: string) => Math.round((now.getTime() - Date.parse(at)) / 1000);
  const { motion, signal, power } = r.readings;
  return {
    status: 'ok',
    ...(motion
      ? { motion: { stationary_since: motion.stationary_since, source: motion.source, age_s: age(motion.at) } }
      : {}),
    ...(signal ? { signal: { quality: signal.quality, age_s: age(signal.at) } } : {}),
    ...(power
      ? {
          power: {
            battery_soc_pct: power.battery_soc_pct,
            shore_power: power.shore_power,
            age_s: age(power.at),
          },
        }
      : {}),
  };
}
