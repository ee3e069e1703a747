// Shared act-step of the gates: verdict → decision record (journal) → exit code.
import { readGateJournal } from '../../core/gate-journal.js';
import type { Clock } from '../../core/clock.js';
import type { GatePhase } from '../../core/schemas/common.js';
import type { GateDecision } from '../../core/schemas/gate.js';
import type { Log } from '../log.js';
import { recordDecision, sinceFor, toDecision } from '../journal.js';
import type { Verdict } from '../policy/types.js';

export interface GateOptions {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  log: Log;
  /** --config; else the environment's rules (env.ts). */
  configPath?: string;
  /** --readings: read this file instead of <state_dir>/readings.json. */
  readingsFile?: string;
  /** --meta-data: read this file instead of the in-flight artifact's. */
  metaDataFile?: string;
  /** Write the journal and the install-wait record (the bundled scripts); `gate check` only reads. */
  record: boolean;
  /** Use the parsed-config cache (the bundled scripts); `gate check` always parses. Default true. */
  configCache?: boolean;
  /** ArtifactCommit_Enter: override the artifact's validation window (gate check). */
  windowSeconds?: number;
  /** Progress lines for long work (the validation window). */
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface GateOutcome {
  decision: GateDecision;
  verdict: Verdict;
  exitCode: 0 | 1 | 21;
}

export function finish(
  phase: GatePhase,
  verdict: Verdict,
  at: Date,
  stateDir: string,
  o: Pick<GateOptions, 'record'>,
  artifact?: GateDecision['artifact'],
  client?: GateDecision['client'],
): GateOutcome {
  const d = { ...toDecision(phase, verdict, at, artifact), ...(client ? { client } : {}) };
  let decision: GateDecision;
  if (o.record) decision = recordDecision(stateDir, d);
  else {
    const { journal } = readGateJournal(stateDir);
    decision = { ...d, since: sinceFor(journal?.phases[phase], d) };
  }
  return { decision, verdict, exitCode: decision.exit_code };
}
