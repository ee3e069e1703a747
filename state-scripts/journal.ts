// Writing the decision journal (core/gate-journal.ts has the files and the reader): gate.json keeps
// the latest decision per phase, with `since` carried over while a phase stays in the same state
// for the same artifact; gate-history.jsonl keeps every decision, rotated at GATE_HISTORY_MAX_LINES.
// Only the gates write it, one at a time (Mender runs state scripts sequentially).
import { renameSync } from 'node:fs';
import { appendStateFile, ensureStateDir } from '../core/state-files.js';
import { join } from 'node:path';
import {
  GATE_HISTORY_FILE,
  GATE_HISTORY_MAX_LINES,
  GATE_HISTORY_PREVIOUS_FILE,
  GATE_JOURNAL_FILE,
  publishedAfter,
  readGateJournal,
  type GateJournal,
} from '../core/gate-journal.js';
import type { GatePhase } from '../core/schemas/common.js';
import { verdictOutcome, type GateDecision } from '../core/schemas/gate.js';
import { writeStateFileAtomic } from '../core/state-files.js';
import type { Verdict } from './policy/types.js';

/** The one place a verdict becomes a decision record (exit code and state via core's verdictOutcome). */
export function toDecision(
  phase: GatePhase,
  v: Verdict,
  at: Date,
  artifact?: GateDecision['artifact'],
): Omit<GateDecision, 'since'> {
  const { exit_code, state } = verdictOutcome[v.verdict];
  return {
    phase,
    verdict: v.verdict,
    state,
    exit_code,
    reasons: v.reasons,
    facts: v.facts,
    at: at.toISOString(),
    ...(artifact ? { artifact } : {}),
  };
}

/** Pure: `since` of a new decision given the previous one of the same phase. */
export function sinceFor(prev: GateDecision | undefined, next: Omit<GateDecision, 'since'>): string {
  if (prev && prev.state === next.state && prev.artifact?.name === next.artifact?.name) return prev.since;
  return next.at;
}

/** Pure: does `next` say what the phase's previous decision said (state, reason codes, artifact)? */
export function repeats(prev: GateDecision | undefined, next: Omit<GateDecision, 'since'>): boolean {
  return (
    prev !== undefined &&
    prev.state === next.state &&
    prev.artifact?.name === next.artifact?.name &&
    prev.reasons.map((r) => r.code).join(',') === next.reasons.map((r) => r.code).join(',')
  );
}

/**
 * Record a decision; returns it with `since` filled in. The C++ client's download gate (Sync_Leave)
 * runs at every sync, deployment or not (docs/gates.md): a Sync_Leave decision that repeats the
 * previous one updates gate.json but adds no history line, so the history keeps weeks of install and
 * commit decisions instead of days of "still moving".
 */
export function recordDecision(stateDir: string, d: Omit<GateDecision, 'since'>): GateDecision {
  ensureStateDir(stateDir);
  const { journal: before } = readGateJournal(stateDir);
  const decision: GateDecision = { ...d, since: sinceFor(before?.phases[d.phase], d) };
  let lines = before?.history_lines ?? 0;
  const quiet = d.phase === 'Sync_Leave' && repeats(before?.phases.Sync_Leave, d);
  if (!quiet && lines >= GATE_HISTORY_MAX_LINES) {
    try {
      renameSync(join(stateDir, GATE_HISTORY_FILE), join(stateDir, GATE_HISTORY_PREVIOUS_FILE));
    } catch {
      // no current file: nothing to rotate
    }
    lines = 0;
  }
  if (!quiet) {
    appendStateFile(join(stateDir, GATE_HISTORY_FILE), `${JSON.stringify(decision)}\n`);
    lines += 1;
  }
  const journal: GateJournal = {
    last: decision,
    phases: { ...before?.phases, [d.phase]: decision },
    history_lines: lines,
    published: publishedAfter(before?.published, decision),
  };
  writeStateFileAtomic(join(stateDir, GATE_JOURNAL_FILE), `${JSON.stringify(journal, null, 1)}\n`);
  return decision;
}
