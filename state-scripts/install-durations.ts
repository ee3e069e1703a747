// <state_dir>/install-durations.json: how long this van's installs took, per component, so the install
// gate's energy budget (policy/energy.ts) learns the durations of its own hardware. A run starts at the
// install gate's "proceed" (its journal entry) and ends when ArtifactCommit_Enter decides (committed,
// or failed) or ArtifactInstall_Error runs (failed). Read and written through core/state-dir.ts.
import * as z from 'zod/mini';
import type { GateJournal } from '../core/gate-journal.js';
import { IsoDateTime } from '../core/schemas/common.js';
import { STATE_FILES, readNamedStateJson, stateFilePath } from '../core/state-dir.js';
import { writeStateFileAtomic } from '../core/state-files.js';
import type { InstallRun } from './policy/energy.js';

export const INSTALL_DURATIONS_FILE = STATE_FILES.installDurations.path;
/** Runs kept (oldest dropped): enough for LEARN_FROM_LAST per component on a hub with a few components. */
export const INSTALL_DURATIONS_MAX = 50;

const Run = z.object({
  component: z.string(),
  artifact_name: z.nullable(z.string()),
  started_at: IsoDateTime,
  seconds: z.number().check(z.minimum(0)),
  outcome: z.enum(['committed', 'failed']),
});
const Durations = z.object({ runs: z.array(Run) });

/** Never throws: a missing or broken file is no history (the default duration applies). */
export function readInstallRuns(stateDir: string): InstallRun[] {
  const read = readNamedStateJson(stateDir, 'installDurations', { schema: Durations });
  return read.status === 'ok' ? read.value.runs : [];
}

/**
 * Pure: the run that ends at `now`, when the journal's latest install decision is a "proceed" for this
 * artifact (the install ran). Null when there is nothing to record: no install started, another artifact,
 * or a clock that went backwards.
 */
export function endedRun(
  journal: GateJournal | null,
  artifact: { name?: string; component: string } | undefined,
  outcome: InstallRun['outcome'],
  now: Date,
): InstallRun | null {
  const start = journal?.phases.ArtifactInstall_Enter;
  if (!start || start.verdict !== 'proceed' || !start.artifact?.component) return null;
  if (artifact && (artifact.component !== start.artifact.component || artifact.name !== start.artifact.name))
    return null;
  const seconds = (now.getTime() - Date.parse(start.at)) / 1000;
  if (!(seconds >= 0)) return null;
  return {
    component: start.artifact.component,
    artifact_name: start.artifact.name ?? null,
    started_at: start.at,
    seconds: Math.round(seconds),
    outcome,
  };
}

/** Append a run unless this start is already recorded (a script run twice records once). */
export function recordInstallRun(stateDir: string, run: InstallRun): boolean {
  const runs = readInstallRuns(stateDir);
  if (runs.some((r) => r.started_at === run.started_at && r.artifact_name === run.artifact_name)) return false;
  const next = [...runs, run].slice(-INSTALL_DURATIONS_MAX);
  writeStateFileAtomic(stateFilePath(stateDir, 'installDurations'), `${JSON.stringify({ runs: next })}\n`);
  return true;
}
