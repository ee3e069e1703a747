// Test-data builders with defaults: override only what a case is about.
import type { ConstraintsInput } from '../../core/schemas/artifact-meta.js';

export const T0 = '2026-11-22T10:00:00Z';

export function readingsDoc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    motion: { stationary_since: '2026-11-22T09:55:00Z', source: 'imu', at: T0 },
    signal: {
      quality: 0.78,
      lte: { rsrp_dbm: -95, rsrq_db: -11 },
      wifi: { rssi_dbm: -61 },
      ping: { rtt_ms_p50: 80, loss_pct: 0 },
      at: T0,
    },
    power: { battery_soc_pct: 82, shore_power: false, at: T0 },
    ...over,
  };
}

export function metaDoc(
  over: Record<string, unknown> = {},
  constraints: ConstraintsInput & Record<string, unknown> = {},
): { vancore: Record<string, unknown> } {
  return {
    vancore: {
      component: 'platform',
      version: '0.9.2',
      requires: { platform: '>=0.9.0' },
      constraints: {
        must_be_stationary: true,
        stationary_minutes: 3,
        min_signal_quality: 0.6,
        min_battery_soc: 30,
        shore_power_overrides_battery: true,
        ...constraints,
      },
      validation: { window_seconds: 300, require_cloud: true },
      ...over,
    },
  };
}

/** Mender's attribute list shape, scope `inventory` unless given. */
export function attrs(
  entries: Record<string, unknown>,
  scope = 'inventory',
): { name: string; value: unknown; scope: string }[] {
  return Object.entries(entries).map(([name, value]) => ({ name, value, scope }));
}
