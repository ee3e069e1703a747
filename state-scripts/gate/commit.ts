// ArtifactCommit_Enter: the validation window. One run of the script covers the whole window:
// sample the health checks and cloud reachability every `validation.check_interval_seconds`, let
// planCommit say when to sample next and when the window is passed (0) or failed (1 → rollback).
// The client's StateScriptTimeoutSeconds (default 3600 s) must exceed the window (docs/gates.md).
import { join } from 'node:path';
import { inFlightHeaderDir, readMetaFacts } from '../artifact-facts.js';
import { loadSetup } from '../env.js';
import {
  AGENT_HEALTH_RUNNER,
  cloudReachable,
  isExecutable,
  nodeCommandRunner,
  runAgentHealth,
  runHealthCheck,
  type CommandRunner,
} from '../health.js';
import { readGateJournal } from '../../core/gate-journal.js';
import { endedRun, recordInstallRun } from '../install-durations.js';
import { cloudTarget, readMenderServer } from '../../core/mender-conf.js';
import { planCommit, type CommitFacts } from '../policy/commit.js';
import type { Check } from '../policy/types.js';
import { showDecision } from '../ha/gate-hooks.js';
import { finish, type GateOptions, type GateOutcome } from './common.js';

/** Cloud probe: per-try timeout and tries per sample (one lost packet on LTE must not roll back). */
const CLOUD_TIMEOUT_MS = 5000;
const CLOUD_ATTEMPTS = 3;

/** The install's duration for the energy budget (install-durations.ts); bookkeeping never fails the gate. */
function recordDuration(
  stateDir: string,
  artifact: { name?: string; component: string } | undefined,
  committed: boolean,
  now: Date,
  o: Pick<GateOptions, 'log'>,
): void {
  try {
    const run = endedRun(readGateJournal(stateDir).journal, artifact, committed ? 'committed' : 'failed', now);
    if (run) recordInstallRun(stateDir, run);
  } catch (e) {
    o.log.warn({ err: e }, 'could not record the install duration');
  }
}

export async function runCommitGate(o: GateOptions & { runner?: CommandRunner }): Promise<GateOutcome> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  const started = o.clock.now();
  const header = inFlightHeaderDir(setup.menderDataDir);
  const meta = readMetaFacts(
    o.metaDataFile ?? join(header, 'meta-data'),
    o.metaDataFile ? null : join(header, 'artifact_name'),
  );
  const v = setup.config.validation;
  const cloud = cloudTarget(v.cloud_url ?? setup.config.mender.server_url, readMenderServer(setup.paths));
  const requireCloud = meta.status === 'ok' && meta.meta.vancore.validation.require_cloud;
  // With the agent hooks installed, their runner does the ota.yaml checks and the compose bundles'
  // containers; without them, the gate runs the ota.yaml checks itself.
  const agentRunner = setup.paths.resolve(AGENT_HEALTH_RUNNER);
  const useAgent = isExecutable(agentRunner);
  const checked = [
    ...(useAgent ? ['vancore-ota-health'] : v.health_checks.map((h) => h.name)),
    ...(requireCloud && cloud ? ['cloud'] : []),
  ];
  const runner = o.runner ?? nodeCommandRunner;
  const facts: CommitFacts = {
    now: started,
    meta,
    cloud_target: cloud?.url ?? null,
    check_interval_seconds: v.check_interval_seconds,
    window_override_seconds: o.windowSeconds ?? null,
    started_at: started,
    samples: 0,
    last_sample_at: null,
    failures: [],
    checked,
  };
  for (;;) {
    facts.now = o.clock.now();
    const step = planCommit(facts);
    if (step.kind === 'done') {
      const artifact =
        meta.status === 'ok'
          ? {
              ...(meta.artifact_name ? { name: meta.artifact_name } : {}),
              component: meta.meta.vancore.component,
              version: meta.meta.vancore.version,
            }
          : undefined;
      if (o.record) recordDuration(setup.stateDir, artifact, step.verdict.verdict === 'proceed', facts.now, o);
      const out = finish('ArtifactCommit_Enter', step.verdict, facts.now, setup.stateDir, o, artifact);
      if (o.record) await showDecision(setup, out, o.log);
      return out;
    }
    if (step.in_ms > 0) await o.clock.sleep(step.in_ms);
    if (o.signal?.aborted) throw new Error('interrupted during the validation window');
    const signal = o.signal ? { signal: o.signal } : {};
    const health = useAgent
      ? [runAgentHealth(agentRunner, setup.configPath, runner, o.signal)]
      : v.health_checks.map(async (h) => [await runHealthCheck(h, runner, o.signal)]);
    const results: Check[] = (
      await Promise.all([
        ...health,
        ...(requireCloud && cloud
          ? [
              cloudReachable(cloud, { timeoutMs: CLOUD_TIMEOUT_MS, attempts: CLOUD_ATTEMPTS, ...signal }).then((c) => [
                c,
              ]),
            ]
          : []),
      ])
    ).flat();
    facts.samples += 1;
    facts.last_sample_at = o.clock.now();
    facts.failures = results.filter((r) => !r.ok);
    const elapsed = Math.round((facts.last_sample_at.getTime() - started.getTime()) / 1000);
    o.progress?.(
      `validation sample ${facts.samples} at +${elapsed} s: ${
        results.length ? results.map((r) => `${r.ok ? 'ok' : 'FAILED'} ${r.message}`).join('; ') : 'nothing to check'
      }`,
    );
  }
}
