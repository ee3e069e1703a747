// Maintenance windows, pure: given the local wall clock (sensed by the caller in the window's zone),
// is the window open, and if not, how long until it opens? `end` before `start` runs past midnight,
// counted from the day it opens on; `end` equal to `start` is a full 24 h from `start`.
import { Weekdays } from '../../core/schemas/common.js';
import type { MaintenanceWindow } from '../../core/schemas/common.js';
import type { WallClock } from './types.js';

export interface WindowStatus {
  open: boolean;
  /** Seconds until the next opening when closed (wall-clock arithmetic: a DST change in between is ignored). */
  opens_in_s: number | null;
}

function minuteOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

export function windowStatus(w: Pick<MaintenanceWindow, 'days' | 'start' | 'end'>, now: WallClock): WindowStatus {
  const start = minuteOf(w.start);
  const end = minuteOf(w.end);
  const today = Weekdays.indexOf(now.weekday);
  const opensOn = (offset: number) => w.days.includes(Weekdays[(today + offset + 7) % 7] ?? 'mon');
  const m = now.minute;
  const open =
    start < end ? opensOn(0) && m >= start && m < end : (opensOn(0) && m >= start) || (opensOn(-1) && m < end);
  if (open) return { open: true, opens_in_s: null };
  for (let k = 0; k <= 7; k++) {
    const delta = k * 1440 + start - m;
    if (delta > 0 && opensOn(k)) return { open: false, opens_in_s: delta * 60 - now.second };
  }
  return { open: false, opens_in_s: null };
}
