// The local wall clock in an IANA zone, sensed by a gate's main and handed to the pure policies.
// Uses the TZ variable with Date's local getters rather than Intl.DateTimeFormat: Intl initialises
// ICU's formatting data, which costs ~17 ms of a state script's cold start on Node 20 (bench/gates.ts).
// Zone names are validated by the config and meta-data schemas before they get here.
import { Weekdays } from '../core/schemas/common.js';
import type { WallClock } from './policy/types.js';

/** `zone` is an IANA name or "local" (the system zone). */
export function wallClock(now: Date, zone: string): WallClock {
  const saved = process.env.TZ;
  if (zone !== 'local') process.env.TZ = zone;
  try {
    const d = new Date(now.getTime());
    // getDay: 0 = Sunday; Weekdays starts on Monday.
    return {
      zone,
      weekday: Weekdays[(d.getDay() + 6) % 7] ?? 'mon',
      minute: d.getHours() * 60 + d.getMinutes(),
      second: d.getSeconds(),
    };
  } finally {
    if (zone !== 'local') {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  }
}

/** The zone a window is evaluated in: its own, or the van's (config `timezone`) when it says "local". */
export function windowZone(windowZone: string, vanZone: string): string {
  return windowZone === 'local' ? vanZone : windowZone;
}
