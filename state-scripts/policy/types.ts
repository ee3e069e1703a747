// Shapes shared by the pure gate policies. A policy receives every fact in one plain object (time
// included) and returns a Verdict; only a gate's main maps it to an exit code and writes the journal.
import type { Readings } from '../../core/schemas/readings.js';
import type { GateReason, GateVerdict } from '../../core/schemas/gate.js';
import type { Weekday } from '../../core/schemas/common.js';

// Every reason code a gate can give lives in one catalogue in core/ (issue #15): codes, phases, titles.
import { type ReasonCode } from '../../core/reason-codes.js';
export { ReasonCodes, type ReasonCode } from '../../core/reason-codes.js';

/** One condition a policy looked at, passing or not. */
export interface Check {
  code: ReasonCode;
  ok: boolean;
  message: string;
  /** When failing: seconds until it should clear by itself, if that is predictable (else null). */
  clears_in_s: number | null;
}

export interface Verdict {
  verdict: GateVerdict;
  /** Why: the failing checks, or one summary reason when it proceeds. */
  reasons: GateReason[];
  /** Every check, for the human explanation of `gate check`. */
  checks: Check[];
  /** Plain values the decision used (journaled). */
  facts: Record<string, unknown>;
}

/** What the sensing step found in readings.json. */
export type ReadingsFacts =
  { status: 'ok'; readings: Readings } | { status: 'missing' } | { status: 'invalid'; problem: string };

/** The local wall clock in the zone a maintenance window is defined in. */
export interface WallClock {
  /** The zone it was read in (an IANA name, or "local" for the system zone). */
  zone: string;
  weekday: Weekday;
  /** Minutes since local midnight, 0–1439. */
  minute: number;
  /** Seconds into the current minute, 0–59. */
  second: number;
}

export const MAX_MESSAGE = 200;

export function reason(code: ReasonCode, message: string): GateReason {
  return { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message };
}

export function failing(checks: readonly Check[]): Check[] {
  return checks.filter((c) => !c.ok);
}

export function reasonsOf(checks: readonly Check[]): GateReason[] {
  return checks.map((c) => reason(c.code, c.message));
}

/** "4 s", "2 min 30 s", "12 min", "3 h 5 min": durations for humans. */
export function human(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}
