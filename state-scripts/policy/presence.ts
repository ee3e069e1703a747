// Presence and consent as gate inputs (issue #21), pure. What the people in the van said through Home
// Assistant: someone is in the van, someone is sleeping, the heating runs through the hub, or the owner
// pressed "postpone". The first three hold the update while they are on. A postponement is honoured
// within a budget per pending update (max_count presses, max_hours from the first one); once the budget
// is used up the update goes at the next safe window, whatever the control says.
// HA not answering never holds an update (docs/home-assistant.md): an unknown input passes, noted.
import { human, type Check } from './types.js';

/** One binary input: true/false, null when HA could not say, undefined when not configured. */
export type Binary = boolean | null | undefined;

export interface PostponeBudget {
  /** Presses honoured so far for the pending update. */
  count: number;
  /** When the first postponement of this pending update was honoured. */
  first_at: string | null;
  /** last_changed of the control's `on` state counted last (one press = one on-transition). */
  last_press: string | null;
}

export const EMPTY_BUDGET: PostponeBudget = { count: 0, first_at: null, last_press: null };

export interface PostponeLimits {
  max_count: number;
  max_hours: number;
}

export interface PostponeInput {
  on: boolean;
  /** HA's last_changed of the control's current state. */
  changed_at: string | null;
}

export interface PresenceFacts {
  now: Date;
  occupied: Binary;
  sleeping: Binary;
  heating: Binary;
  /** undefined = not configured; null = HA could not say. */
  postpone: PostponeInput | null | undefined;
  budget: PostponeBudget;
  limits: PostponeLimits;
  /** The budget restarts when an update ends after `first_at` (last-update.json `at`). */
  last_update_end: string | null;
}

/** Pure: the budget after this look at the control (a new press is counted once). */
export function nextPostponeBudget(
  f: Pick<PresenceFacts, 'now' | 'postpone' | 'budget' | 'last_update_end'>,
): PostponeBudget {
  let b = f.budget;
  // An update ended since the first postponement: that postponed update is gone, a new one starts afresh.
  if (b.first_at !== null && f.last_update_end !== null && Date.parse(f.last_update_end) > Date.parse(b.first_at)) {
    b = EMPTY_BUDGET;
  }
  const p = f.postpone;
  if (!p?.on) return b;
  const press = p.changed_at ?? 'unknown';
  if (press === b.last_press) return b;
  return { count: b.count + 1, first_at: b.first_at ?? f.now.toISOString(), last_press: press };
}

const ok = (code: Check['code'], message: string): Check => ({ code, ok: true, message, clears_in_s: null });
const bad = (code: Check['code'], message: string, clears_in_s: number | null = null): Check => ({
  code,
  ok: false,
  message,
  clears_in_s,
});

/** Pure: the presence and consent checks; `f.budget` is the budget after nextPostponeBudget. */
export function assessPresence(f: PresenceFacts): Check[] {
  const checks: Check[] = [];
  const unknown: string[] = [];
  const binary = (v: Binary, code: Check['code'], what: string, on: string, off: string) => {
    if (v === undefined) return;
    if (v === null) unknown.push(what);
    else checks.push(v ? bad(code, on) : ok(code, off));
  };
  binary(f.sleeping, 'someone_sleeping', 'sleeping', 'someone is sleeping in the van', 'nobody is sleeping');
  binary(f.occupied, 'van_occupied', 'occupied', 'someone is in the van', 'the van is empty');
  binary(
    f.heating,
    'heating_on_hub',
    'heating',
    'the heating runs through the hub',
    'the heating does not need the hub',
  );
  const p = f.postpone;
  if (p === null) unknown.push('postpone');
  else if (p?.on) {
    const { count, first_at } = f.budget;
    const used_s = first_at === null ? 0 : Math.max(0, (f.now.getTime() - Date.parse(first_at)) / 1000);
    const limit_s = f.limits.max_hours * 3600;
    if (count > f.limits.max_count || used_s >= limit_s) {
      checks.push(
        ok(
          'postpone_budget_exhausted',
          `postponed ${Math.min(count, f.limits.max_count)} times over ${human(used_s)}: the budget (${f.limits.max_count} times or ${human(limit_s)}) is used up, the update goes at the next safe window`,
        ),
      );
    } else {
      checks.push(
        bad(
          'owner_postponed',
          `the owner postponed the update (${count} of ${f.limits.max_count}; ${human(limit_s - used_s)} of postponement left)`,
          Math.ceil(limit_s - used_s),
        ),
      );
    }
  }
  if (unknown.length) {
    checks.push(
      ok('presence_unknown', `Home Assistant did not say (${unknown.join(', ')}): not holding the update for it`),
    );
  }
  return checks;
}

/** The presence facts as plain values for the journal. */
export function presenceSummary(f: PresenceFacts): Record<string, unknown> {
  return {
    ...(f.occupied !== undefined ? { occupied: f.occupied } : {}),
    ...(f.sleeping !== undefined ? { sleeping: f.sleeping } : {}),
    ...(f.heating !== undefined ? { heating: f.heating } : {}),
    ...(f.postpone !== undefined ? { postpone: f.postpone, postpone_budget: f.budget } : {}),
  };
}
