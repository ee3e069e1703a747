// The post-commit soak (issue #20 item 2; docs/agent-hooks.md "Post-commit soak"): an update can fail
// hours after it committed. After each commit the van keeps watching its health for `soak.hours`
// (default 24) and records the verdict in <state_dir>/soak.json, which the inventory script reports as
// `vancore.soak.state` (watching | passed | regressed | off), `.artifact`, `.reason`, `.since`; the bridge
// counts a regression against the rollout wave that contains the van (docs/rollouts.md).
//
// `evaluateSoak` is pure: the previous record, one observation and the limits in, the next record out.
// A regression (or a pass) is final for that commit; the next commit starts a new soak.
import * as z from 'zod/mini';
import { IsoDateTime } from '../../core/schemas/common.js';
import { SoakStates } from '../../core/schemas/inventory.js';
import { formatReasonLine } from '../../core/reason-codes.js';
import type { LastUpdate } from '../../core/versions.js';

export const SoakRecord = z.object({
  /** The commit watched: the artifact and when it committed (last-update.json). */
  artifact_name: z.string().check(z.minLength(1), z.maxLength(256)),
  committed_at: IsoDateTime,
  /** watching → passed at `until`, or regressed as soon as a limit is crossed; off when soak.hours is 0. */
  state: z.enum(SoakStates),
  until: IsoDateTime,
  /** The reason line of a regression (`soak_container_restarts: …`). */
  reason: z.optional(z.string().check(z.maxLength(256))),
  checked_at: IsoDateTime,
  /** Containers' restart counts when the soak started: later restarts are counted against these. */
  restarts_at_start: z.record(z.string(), z.int()),
  /** Health checks have been failing since (cleared by a passing round). */
  failing_since: z.optional(IsoDateTime),
  /** The last round that reached the Mender server. */
  cloud_ok_at: IsoDateTime,
});
export type SoakRecord = z.infer<typeof SoakRecord>;

export interface SoakLimits {
  /** How long after a commit the van watches; 0 = off. */
  hours: number;
  /** Container restarts since the commit (all containers together) that count as a regression. */
  max_container_restarts: number;
  /** Health checks failing this long without a passing round in between. */
  health_failing_minutes: number;
  /** No contact with the Mender server for this long. */
  cloud_lost_hours: number;
}

export interface SoakObservation {
  at: Date;
  /** The last VanCore update (last-update.json): only a `success` starts a soak. */
  lastUpdate: LastUpdate | null;
  /** Names of the failing health checks (ota.yaml checks, containers, bundle probes); empty = healthy. */
  failingChecks: string[];
  /**
   * Restart count per container now (`docker inspect` RestartCount); null when docker could not say (no
   * restart is judged, and no baseline is taken, from an unknown).
   */
  restarts: Record<string, number> | null;
  /** The Mender server answered this round. */
  cloudOk: boolean;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

/** The next record, or null when there is no commit to watch (and none was watched). */
export function evaluateSoak(prev: SoakRecord | null, o: SoakObservation, limits: SoakLimits): SoakRecord | null {
  const at = o.at.toISOString();
  const u = o.lastUpdate;
  const fresh =
    u?.status === 'success' && (prev === null || prev.artifact_name !== u.artifact_name || prev.committed_at !== u.at);
  if (fresh) {
    const until = new Date(Date.parse(u.at) + limits.hours * HOUR).toISOString();
    const start: SoakRecord = {
      artifact_name: u.artifact_name,
      committed_at: u.at,
      state: limits.hours <= 0 ? 'off' : 'watching',
      until,
      checked_at: at,
      restarts_at_start: { ...o.restarts },
      cloud_ok_at: at,
    };
    // The first round also judges (a container may have restarted between the commit and this round: it
    // is not counted, the baseline is now).
    return start.state === 'off' ? start : judge(start, o, limits);
  }
  if (prev === null) return null;
  if (prev.state !== 'watching') return prev;
  return judge(prev, o, limits);
}

function judge(prev: SoakRecord, o: SoakObservation, limits: SoakLimits): SoakRecord {
  const at = o.at.toISOString();
  const now = o.at.getTime();
  const next: SoakRecord = { ...prev, checked_at: at };
  if (o.cloudOk) next.cloud_ok_at = at;
  if (o.failingChecks.length === 0) delete next.failing_since;
  else next.failing_since = prev.failing_since ?? at;

  const reasons: { code: string; message: string }[] = [];
  // Each container counts from the first round that saw it: one first seen now (docker did not answer
  // before, or it was created since) or recreated (its count went down) takes its count now as its start.
  const base = { ...prev.restarts_at_start };
  for (const [name, n] of Object.entries(o.restarts ?? {})) {
    const b = base[name];
    if (b === undefined || n < b) base[name] = n;
  }
  next.restarts_at_start = base;
  const restarted = Object.entries(o.restarts ?? {})
    .map(([name, n]) => [name, n - (base[name] ?? n)] as const)
    .filter(([, n]) => n > 0);
  const total = restarted.reduce((a, [, n]) => a + n, 0);
  if (total >= limits.max_container_restarts)
    reasons.push({
      code: 'soak_container_restarts',
      message: `${total} container restarts since the commit (${restarted.map(([c, n]) => `${c} ${n}`).join(', ')})`,
    });
  if (next.failing_since && now - Date.parse(next.failing_since) >= limits.health_failing_minutes * MIN)
    reasons.push({
      code: 'soak_health_failing',
      message: `${o.failingChecks.join(', ')} failing for ${Math.floor((now - Date.parse(next.failing_since)) / MIN)} min`,
    });
  if (now - Date.parse(next.cloud_ok_at) >= limits.cloud_lost_hours * HOUR)
    reasons.push({
      code: 'soak_cloud_lost',
      message: `no contact with the Mender server for ${((now - Date.parse(next.cloud_ok_at)) / HOUR).toFixed(1)} h`,
    });
  if (reasons.length > 0) return { ...next, state: 'regressed', reason: formatReasonLine(reasons).slice(0, 256) };
  if (now >= Date.parse(prev.until)) return { ...next, state: 'passed' };
  return next;
}

/** The inventory keys of a soak record (undefined = left out). */
export function soakInventoryValues(r: SoakRecord | null): Record<string, string | undefined> {
  if (!r) return {};
  return {
    'vancore.soak.state': r.state,
    'vancore.soak.artifact': r.artifact_name,
    'vancore.soak.reason': r.state === 'regressed' ? r.reason : undefined,
    'vancore.soak.since': r.committed_at,
  };
}
