// Test-data builders for the gate policies: defaults are a van that may update; override what a case is about.
import { ArtifactMetaData } from '../../../core/schemas/artifact-meta.js';
import type { Readings } from '../../../core/schemas/readings.js';
import type { Conditions } from '../../../state-scripts/policy/conditions.js';
import type { MetaFacts } from '../../../state-scripts/policy/install.js';
import type { ReadingsFacts, WallClock } from '../../../state-scripts/policy/types.js';
import { metaDoc } from '../../helpers/builders.js';

export const NOW = new Date('2026-11-22T10:00:00Z');
export const iso = (msAgo: number, now = NOW) => new Date(now.getTime() - msAgo).toISOString();

export interface ReadingsSpec {
  /** Seconds the van has been still; null = moving; undefined section = absent. */
  still_s?: number | null;
  motion_age_s?: number;
  quality?: number;
  signal_age_s?: number;
  soc?: number | null;
  shore?: boolean | null;
  power_age_s?: number;
  omit?: ('motion' | 'signal' | 'power')[];
}

export function readings(s: ReadingsSpec = {}, now = NOW): ReadingsFacts {
  const r: Readings = {};
  const omit = new Set(s.omit ?? []);
  if (!omit.has('motion')) {
    const still = s.still_s === undefined ? 600 : s.still_s;
    r.motion = {
      stationary_since: still === null ? null : iso(still * 1000, now),
      source: 'imu',
      at: iso((s.motion_age_s ?? 2) * 1000, now),
    };
  }
  if (!omit.has('signal')) r.signal = { quality: s.quality ?? 0.78, at: iso((s.signal_age_s ?? 10) * 1000, now) };
  if (!omit.has('power')) {
    r.power = {
      battery_soc_pct: s.soc === undefined ? 82 : s.soc,
      shore_power: s.shore === undefined ? false : s.shore,
      at: iso((s.power_age_s ?? 10) * 1000, now),
    };
  }
  return { status: 'ok', readings: r };
}

export const SPEC_CONDITIONS: Conditions = {
  must_be_stationary: true,
  stationary_minutes: 3,
  min_signal_quality: 0.6,
  min_battery_soc: 30,
  shore_power_overrides_battery: true,
  maintenance_window: null,
};

export const STALENESS = { motion_seconds: 30, signal_seconds: 120, power_seconds: 300 };

export function wall(weekday: WallClock['weekday'], hhmm: string, second = 0, zone = 'Europe/Berlin'): WallClock {
  const [h, m] = hhmm.split(':').map(Number);
  return { zone, weekday, minute: (h ?? 0) * 60 + (m ?? 0), second };
}

export function meta(
  over: Record<string, unknown> = {},
  constraints: Record<string, unknown> = {},
  name = 'vancore-platform-0.9.2',
): MetaFacts {
  return { status: 'ok', meta: ArtifactMetaData.parse(metaDoc(over, constraints)), artifact_name: name };
}
