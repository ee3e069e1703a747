// ArtifactInstall_Error: runs after any failure in the ArtifactInstall state, including the client
// giving up on our 21s when its StateScriptRetryTimeoutSeconds ran out before our wait budget did.
// It ends the wait record, and if the last word in the journal was still "retry", records that the
// client gave up, so support does not see a van "deferred" forever. Its exit code is ignored by Mender.
import { readGateJournal } from '../../core/gate-journal.js';
import { loadSetup } from '../env.js';
import { endedRun, recordInstallRun } from '../install-durations.js';
import { clearInstallWait } from '../install-wait.js';
import { recordDecision, toDecision } from '../journal.js';
import { reason } from '../policy/types.js';
import { showInstallFailed } from '../ha/gate-hooks.js';
import type { GateOptions } from './common.js';

export async function runInstallErrorHook(o: GateOptions): Promise<void> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  clearInstallWait(setup.stateDir);
  const { journal } = readGateJournal(setup.stateDir);
  const last = journal?.phases.ArtifactInstall_Enter;
  // An install that started and failed: its duration is kept (not learned from, policy/energy.ts).
  const run = endedRun(journal, last?.artifact, 'failed', o.clock.now());
  if (run) recordInstallRun(setup.stateDir, run);
  await showInstallFailed(setup, o.log, last);
  if (!last || last.verdict !== 'retry') return;
  const d = toDecision(
    'ArtifactInstall_Enter',
    {
      verdict: 'fail',
      reasons: [
        reason(
          'retry_time_limit',
          'the client stopped retrying (StateScriptRetryTimeoutSeconds) before the conditions cleared',
        ),
        ...last.reasons,
      ],
      checks: [],
      facts: { ...last.facts, ended_by: 'ArtifactInstall_Error' },
    },
    o.clock.now(),
    last.artifact,
  );
  recordDecision(setup.stateDir, d);
}
