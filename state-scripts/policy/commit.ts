// ArtifactCommit_Enter, pure: the validation window. The gate's main samples the health checks and
// cloud reachability; this planner says when to sample next and when the window has been passed or
// failed. Any failed sample fails the window (exit 1 → Mender rolls back and reports failure).
import type { MetaFacts } from './install.js';
import { human, reason, reasonsOf, type Check, type Verdict } from './types.js';

export interface CommitFacts {
  now: Date;
  meta: MetaFacts;
  /** The target of the cloud reachability check; null when none is configured. */
  cloud_target: string | null;
  check_interval_seconds: number;
  /** Overrides the artifact's window (gate check --window-seconds); null = the artifact's. */
  window_override_seconds: number | null;
  started_at: Date;
  samples: number;
  last_sample_at: Date | null;
  /** Failed checks seen so far (the first failing sample ends the window). */
  failures: Check[];
  /** Names of what each sample checks, for the journal. */
  checked: string[];
}

export type CommitStep = { kind: 'sample'; in_ms: number } | { kind: 'done'; verdict: Verdict };

export function planCommit(f: CommitFacts): CommitStep {
  const fail = (checks: Check[], facts: Record<string, unknown>): CommitStep => ({
    kind: 'done',
    verdict: { verdict: 'fail', reasons: reasonsOf(checks), checks, facts },
  });
  if (f.meta.status !== 'ok') {
    return fail([{ code: 'meta_data_invalid', ok: false, message: f.meta.problem, clears_in_s: null }], {});
  }
  const v = f.meta.meta.vancore;
  const window_s = f.window_override_seconds ?? v.validation.window_seconds;
  const facts = {
    artifact: { name: f.meta.artifact_name, component: v.component, version: v.version },
    window_s,
    require_cloud: v.validation.require_cloud,
    cloud_target: f.cloud_target,
    checked: f.checked,
    started_at: f.started_at.toISOString(),
    samples: f.samples,
  };
  if (v.validation.require_cloud && f.cloud_target === null) {
    return fail(
      [
        {
          code: 'cloud_target_unknown',
          ok: false,
          message:
            'cloud reachability is required but no server is configured (validation.cloud_url, mender.server_url or ServerURL in mender.conf)',
          clears_in_s: null,
        },
      ],
      facts,
    );
  }
  if (f.failures.length > 0) return fail(f.failures, facts);
  const end = f.started_at.getTime() + window_s * 1000;
  if (f.last_sample_at === null) return { kind: 'sample', in_ms: 0 };
  if (f.last_sample_at.getTime() >= end) {
    return {
      kind: 'done',
      verdict: {
        verdict: 'proceed',
        reasons: [
          reason(
            'validation_passed',
            `${f.checked.length ? f.checked.join(', ') : 'nothing to check'} held for ${human(window_s)} (${f.samples} samples)`,
          ),
        ],
        checks: [],
        facts,
      },
    };
  }
  const next = Math.min(f.last_sample_at.getTime() + f.check_interval_seconds * 1000, end);
  return { kind: 'sample', in_ms: Math.max(0, next - f.now.getTime()) };
}
