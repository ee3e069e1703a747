// The gate decision journal in <state_dir>: written by the gates (state-scripts), read by sensord
// and by the inventory script, which publishes it as `vancore.gate.*`. File names and the reader live
// here because two product folders share them (ARCHITECTURE.md: they share only through core/).
import { join } from 'node:path';
import * as z from 'zod/mini';
import { GatePhase } from './schemas/common.js';
import { GateDecision } from './schemas/gate.js';
import { formatCodes, formatReasonLine } from './reason-codes.js';
import { readStateJson, STATE_FILES } from './state-dir.js';

/** Latest decision overall and per phase (atomically replaced). */
export const GATE_JOURNAL_FILE = STATE_FILES.gateJournal.path;
/** One decision per line (JSON Lines), newest last. */
export const GATE_HISTORY_FILE = STATE_FILES.gateHistory.path;
/** The previous history file: when the current one reaches the limit it is renamed to this. */
export const GATE_HISTORY_PREVIOUS_FILE = STATE_FILES.gateHistoryPrevious.path;
/** Lines per history file; with the previous file kept, at most twice this many decisions are on disk. */
export const GATE_HISTORY_MAX_LINES = 500;

export const GateJournal = z.object({
  /** The most recent decision of any phase: what support sees first. */
  last: GateDecision,
  phases: z.object({
    Download_Enter: z.optional(GateDecision),
    Sync_Leave: z.optional(GateDecision),
    ArtifactInstall_Enter: z.optional(GateDecision),
    ArtifactCommit_Enter: z.optional(GateDecision),
  }),
  /** Lines in the current history file (drives rotation without re-reading it). */
  history_lines: z.int().check(z.minimum(0)),
  /**
   * What the inventory publishes as `vancore.gate.*`: the latest decision's phase, state and reason
   * codes, with the reason line of the first decision that had them. The C++ client pushes inventory
   * only when it changed (RECIPE-current §3.3) and its Sync_Leave gate runs at every sync, so the
   * published values must change exactly when the phase, state, codes or artifact do — not when a
   * message's numbers (an age, a signal quality) move.
   */
  published: z.optional(
    z.object({
      phase: GatePhase,
      state: GateDecision.shape.state,
      codes: z.array(z.string()),
      artifact: z.optional(z.string()),
      reason: z.string(),
      since: z.string(),
    }),
  ),
});
export type GateJournal = z.infer<typeof GateJournal>;

/**
 * Read `<stateDir>/gate.json`. Absent → null. A corrupt file is also null (with the problem), since
 * readers (inventory, sensord) must keep working; the next gate run rewrites it. Synchronous: a small
 * local file, read by short-lived hooks.
 */
export function readGateJournal(stateDir: string): { journal: GateJournal | null; problem?: string } {
  // Never through a link, never a FIFO or device, bounded (core/state-dir.ts, issue #16 item 8).
  const read = readStateJson(join(stateDir, GATE_JOURNAL_FILE), {
    schema: GateJournal,
    maxBytes: STATE_FILES.gateJournal.maxBytes,
  });
  if (read.status === 'ok') return { journal: read.value };
  return read.status === 'missing' ? { journal: null } : { journal: null, problem: read.problem };
}

/** Inventory values for `vancore.gate.*` from the latest decision (reason capped at 256 characters). */
export function gateInventoryValues(journal: GateJournal | null): {
  state: GateDecision['state'] | undefined;
  phase: GatePhase | 'none';
  reason: string;
  /** `vancore.gate.codes`: comma-separated, in the gate's order; '' when the decision had none. */
  codes: string;
  since: string | undefined;
} {
  if (!journal) return { state: undefined, phase: 'none', reason: '', codes: '', since: undefined };
  const p = journal.published;
  if (p)
    return {
      state: p.state,
      phase: p.phase,
      reason: p.reason.slice(0, 256),
      codes: formatCodes(p.codes),
      since: p.since,
    };
  const d = journal.last;
  return {
    state: d.state,
    phase: d.phase,
    reason: gateReasonLine(d).slice(0, 256),
    codes: formatCodes(d.reasons.map((r) => r.code)),
    since: d.since,
  };
}

/** One line: `moving, signal_low: the van is moving (imu, 4 s ago); …`. */
export function gateReasonLine(d: Pick<GateDecision, 'reasons'>): string {
  return formatReasonLine(d.reasons);
}

/** Pure: the journal's `published` view after decision `d` (kept while phase, state, codes and artifact stay). */
export function publishedAfter(
  prev: GateJournal['published'],
  d: Pick<GateDecision, 'phase' | 'state' | 'reasons' | 'since' | 'artifact'>,
): NonNullable<GateJournal['published']> {
  const codes = d.reasons.map((r) => r.code);
  const artifact = d.artifact?.name;
  if (
    prev &&
    prev.phase === d.phase &&
    prev.state === d.state &&
    prev.artifact === artifact &&
    prev.codes.join(',') === codes.join(',')
  )
    return prev;
  return {
    phase: d.phase,
    state: d.state,
    codes,
    ...(artifact ? { artifact } : {}),
    reason: gateReasonLine(d),
    since: d.since,
  };
}
