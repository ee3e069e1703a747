// The automatic revert of a rollout (issue #20 item 1; docs/rollouts.md "Automatic revert"), pure like the
// planner: `revertTrigger` says when the rollout's `revert` policy is crossed, `planRevert` what to deploy
// to take every van that took the bad release back to the previous one, and `revertNotLanded` which vans
// the revert did not reach (the attention report). The controller (controller.ts) senses and acts.
//
// A van refuses an older version unless the artifact is a signed explicit revert of exactly the version it
// runs (agent-hooks/lib/downgrade.ts), so the revert deploys, per component, the revert artifact built by
// `artifact build --version <previous> --revert-of <bad> --sign-key …` (named
// `vancore-<component>-<previous>-revert-<bad>`), found in the synced artifacts by its meta-data
// (`vancore.component`, `vancore.version`, `vancore.revert_of`).
import type { DeploymentFacts, RolloutFacts, RolloutSettings, VanFacts } from './planner.js';
import { FINAL, MIN_SAMPLE, SUCCEEDED, fmt, pct, settled } from './planner.js';
import type { ReleaseComponent } from './release.js';
import { releaseSoak } from './soak-gate.js';
import { revertArtifactName } from './revert-name.js';

const HOUR = 3_600_000;
/** A component's revert is deployed again to vans that took the bad version late, at most this often. */
export const MAX_REVERT_ROUNDS = 3;

/** The policy is on when either threshold is set. */
export function revertPolicyOn(s: RolloutSettings): boolean {
  return s.revert.failed_pct !== undefined || s.revert.failed_count !== undefined;
}

/** The controller has something to watch on a paused rollout: the thresholds or per-van soak reverts. */
export function revertWatchOn(s: RolloutSettings): boolean {
  return revertPolicyOn(s) || s.revert.soak_regressed_vans;
}

/** Deterministic name of one van's revert after its soak regressed. */
export function soakRevertDeploymentName(rolloutId: string, deviceId: string, component: string): string {
  return `vancore-revert ${rolloutId} van ${deviceId} ${component}`;
}

/**
 * `revert.soak_regressed_vans`: the vans of the rollout that took the whole release and report its soak
 * regressed, not yet given a revert, each get their own revert deployment (round 0, owner kind `revert`)
 * of every changed component's revert artifact — dependents first, one component per van at a time. A
 * missing previous release or revert artifact: nothing (the attention report lists `soak_regressed`).
 */
export function planSoakReverts(f: RevertFacts, rollout: Pick<RolloutFacts, 'components'>): RevertStep[] {
  if (!f.settings.revert.soak_regressed_vans || !f.previous) return [];
  const comps = [...revertedComponents(f)].reverse();
  const steps: RevertStep[] = [];
  for (const v of f.vans) {
    if (releaseSoak(v, rollout.components) !== 'regressed') continue;
    for (const c of comps) {
      if (v.components[c.component] !== c.from) continue;
      const name = soakRevertDeploymentName(f.rolloutId, v.deviceId, c.component);
      if (f.revertDeployments.some((d) => d.deviceIds.includes(v.deviceId) && d.component === c.component)) break;
      const artifact = f.revertArtifacts.find(
        (a) => a.component === c.component && a.version === c.to && a.revertOf === c.from,
      );
      if (!artifact) break;
      steps.push({
        kind: 'create_revert_deployment',
        name,
        round: 0,
        component: c.component,
        artifactName: artifact.name,
        from: c.from,
        to: c.to,
        deviceIds: [v.deviceId],
      });
      break;
    }
  }
  return steps;
}

/**
 * The reason the rollout must be reverted now, or null. Counted over the rollout's updates that became
 * final within the last `window_hours` of the bridge clock: Mender's `failure` outcomes, plus the vans of
 * the rollout that took the whole release and report a post-commit soak regression. `failed_count` halts
 * whatever the rate; `failed_pct` is judged once min(10, targets) updates finished (as the wave's gate).
 */
export function revertTrigger(facts: RolloutFacts): string | null {
  const p = facts.settings.revert;
  if (!revertPolicyOn(facts.settings)) return null;
  const since = facts.now.getTime() - p.window_hours * HOUR;
  let failed = 0;
  let finished = 0;
  const targets = new Set<string>();
  const took = new Map<string, Set<string>>();
  for (const d of facts.deployments) {
    for (const id of d.deviceIds) targets.add(id);
    for (const [id, o] of Object.entries(d.outcomes)) {
      if (SUCCEEDED.has(o.status)) took.set(id, (took.get(id) ?? new Set()).add(d.component));
      if (o.finishedAt === null || Date.parse(o.finishedAt) < since) continue;
      if (o.status === 'failure') {
        failed++;
        finished++;
      } else if (o.status === 'success') finished++;
    }
  }
  // Soak regressions: vans that committed the whole release and now report it regressed (item 2).
  const regressed = facts.vans.filter(
    (v) =>
      releaseSoak(v, facts.components) === 'regressed' &&
      facts.components.every((c) => took.get(v.deviceId)?.has(c.component)),
  ).length;
  failed += regressed;
  const what = `${failed} of ${finished} finished updates failed in the last ${p.window_hours} h (${fmt(pct(failed, finished))} %)${regressed ? `, ${regressed} of them soak regressions` : ''}`;
  if (p.failed_count !== undefined && failed >= p.failed_count)
    return `revert policy crossed: ${what}: at least ${p.failed_count}`;
  if (
    p.failed_pct !== undefined &&
    finished > 0 &&
    finished >= Math.min(MIN_SAMPLE, targets.size) &&
    pct(failed, finished) > p.failed_pct
  )
    return `revert policy crossed: ${what}: over ${p.failed_pct} %`;
  return null;
}

/** A revert artifact as synced from Mender. */
export interface RevertArtifact {
  name: string;
  component: string;
  /** The version it installs (the previous one). */
  version: string;
  /** The version it takes the component back from (the bad one). */
  revertOf: string;
}

export interface RevertDeploymentFacts extends DeploymentFacts {
  /** The revert round of its component (1, then again for vans that took the bad version late). */
  round: number;
  /** As tracked (the status view shows them; the planner does not read them). */
  artifactName?: string;
  menderId?: string | null;
}

export interface RevertFacts {
  now: Date;
  rolloutId: string;
  settings: RolloutSettings;
  /** The bad release (the rollout's) in install order. */
  release: { name: string; components: ReleaseComponent[] };
  /** The release the vans go back to; null when there is none to go back to. */
  previous: { name: string; components: ReleaseComponent[] } | null;
  vans: VanFacts[];
  /** The rollout's own deployments: who took the bad release. */
  rolloutDeployments: DeploymentFacts[];
  /** The revert's deployments (owner kind `revert`). */
  revertDeployments: RevertDeploymentFacts[];
  revertArtifacts: RevertArtifact[];
}

export type RevertStep =
  | {
      kind: 'create_revert_deployment';
      name: string;
      round: number;
      component: string;
      artifactName: string;
      /** The bad version → the previous one. */
      from: string;
      to: string;
      deviceIds: string[];
    }
  | { kind: 'finish_revert'; reason: string; landed: number; notLanded: string[] }
  | { kind: 'wait'; reason: string };

/** Deterministic and unique across owners (`vancore-revert …`): Mender's deployment is found again by it. */
export function revertDeploymentName(rolloutId: string, round: number, component: string): string {
  return `vancore-revert ${rolloutId} r${round} ${component}`;
}

/** What a revert takes back per component: the bad release's components the previous release had at another version. */
export function revertedComponents(f: Pick<RevertFacts, 'release' | 'previous'>): {
  component: string;
  from: string;
  to: string;
}[] {
  if (!f.previous) return [];
  const prev = new Map(f.previous.components.map((c) => [c.component, c.version]));
  return f.release.components.flatMap((c) => {
    const to = prev.get(c.component);
    return to === undefined || to === c.version ? [] : [{ component: c.component, from: c.version, to }];
  });
}

/** Components of the bad release the previous release lacks: nothing to go back to. */
function newComponents(f: Pick<RevertFacts, 'release' | 'previous'>): string[] {
  if (!f.previous) return [];
  const prev = new Set(f.previous.components.map((c) => c.component));
  return f.release.components.map((c) => c.component).filter((c) => !prev.has(c));
}

/** Vans that took `component` at `from` in this rollout (a success outcome) or run it (inventory). */
function tookIt(f: RevertFacts, component: string, from: string): Set<string> {
  const out = new Set<string>();
  for (const d of f.rolloutDeployments)
    if (d.component === component)
      for (const [id, o] of Object.entries(d.outcomes)) if (o.status === 'success') out.add(id);
  for (const v of f.vans) if (v.components[component] === from) out.add(v.deviceId);
  return out;
}

/**
 * Per component in reverse install order (dependents first), one deployment of its revert artifact to the
 * vans that took the bad version; the next component once the previous one's deployments settled. Vans
 * that took the bad version after a round was made get another round (at most MAX_REVERT_ROUNDS). When
 * every round settled and no van is left to target: finish, naming the vans the revert did not reach.
 */
export function planRevert(f: RevertFacts): RevertStep[] {
  if (!f.previous)
    return [
      {
        kind: 'wait',
        reason: `revert of ${f.release.name}: no previous release to go back to (no completed rollout before this one; give one with rollout revert --to)`,
      },
    ];
  const comps = revertedComponents(f);
  for (const c of [...comps].reverse()) {
    const mine = f.revertDeployments.filter((d) => d.component === c.component);
    const open = mine.find((d) => !settled(d, f.now, f.settings));
    if (open) return [{ kind: 'wait', reason: `revert of ${c.component} ${c.from} → ${c.to} deploying` }];
    const targeted = new Set(mine.flatMap((d) => d.deviceIds));
    const reverted = new Set(f.vans.filter((v) => v.components[c.component] === c.to).map((v) => v.deviceId));
    const ids = [...tookIt(f, c.component, c.from)].filter((id) => !targeted.has(id) && !reverted.has(id)).sort();
    if (ids.length === 0) continue;
    const round = Math.max(0, ...mine.map((d) => d.round)) + 1;
    if (round > MAX_REVERT_ROUNDS) continue;
    const artifact = f.revertArtifacts.find(
      (a) => a.component === c.component && a.version === c.to && a.revertOf === c.from,
    );
    if (!artifact)
      return [
        {
          kind: 'wait',
          reason: `revert of ${c.component} ${c.from} → ${c.to}: no revert artifact in Mender (build ${revertArtifactName(c.component, c.to, c.from)}: vancore-ota artifact build … --version ${c.to} --revert-of ${c.from} --sign-key …, and upload it)`,
        },
      ];
    return [
      {
        kind: 'create_revert_deployment',
        name: revertDeploymentName(f.rolloutId, round, c.component),
        round,
        component: c.component,
        artifactName: artifact.name,
        from: c.from,
        to: c.to,
        deviceIds: ids,
      },
    ];
  }
  const notLanded = revertNotLanded(f, true).map((x) => x.deviceId);
  const targets = new Set(f.revertDeployments.flatMap((d) => d.deviceIds));
  const fresh = newComponents(f);
  return [
    {
      kind: 'finish_revert',
      reason:
        `${targets.size - notLanded.filter((id) => targets.has(id)).length} of ${targets.size} vans back on ${f.previous.name}` +
        (notLanded.length ? `; ${notLanded.length} not (attention report: revert_not_landed)` : '') +
        (fresh.length ? `; ${fresh.join(', ')} not in ${f.previous.name}: left as is` : ''),
      landed: targets.size - notLanded.filter((id) => targets.has(id)).length,
      notLanded,
    },
  ];
}

/**
 * Vans the revert did not take back, with why: its revert deployment ended without success on the van,
 * or (`finished`: the revert is over) the van still runs a bad version, or no revert artifact exists.
 */
export function revertNotLanded(f: RevertFacts, finished: boolean): { deviceId: string; detail: string }[] {
  const out = new Map<string, string>();
  if (!f.previous) {
    for (const c of f.release.components)
      for (const v of f.vans)
        if (v.components[c.component] === c.version && !out.has(v.deviceId))
          out.set(
            v.deviceId,
            `rollout ${f.rolloutId} was reverted but has no previous release to go back to; runs ${c.component} ${c.version}`,
          );
    return [...out].map(([deviceId, detail]) => ({ deviceId, detail }));
  }
  const vans = new Map(f.vans.map((v) => [v.deviceId, v]));
  for (const c of revertedComponents(f)) {
    const mine = f.revertDeployments.filter((d) => d.component === c.component);
    const lastOutcome = new Map<string, string>();
    for (const d of [...mine].sort((a, b) => a.round - b.round))
      for (const id of d.deviceIds) lastOutcome.set(id, d.outcomes[id]?.status ?? 'pending');
    const hasArtifact = f.revertArtifacts.some(
      (a) => a.component === c.component && a.version === c.to && a.revertOf === c.from,
    );
    for (const id of tookIt(f, c.component, c.from)) {
      if (out.has(id)) continue;
      const v = vans.get(id);
      if (v?.components[c.component] === c.to) continue;
      const o = lastOutcome.get(id);
      // Mender says it landed (the van's inventory may not have caught up yet).
      if (o !== undefined && SUCCEEDED.has(o)) continue;
      if (o !== undefined && FINAL.has(o)) {
        out.set(id, `revert of ${c.component} ${c.from} → ${c.to} ended ${o} (rollout ${f.rolloutId})`);
        continue;
      }
      if (o === undefined && !hasArtifact) {
        out.set(
          id,
          `runs ${c.component} ${c.from} of reverted rollout ${f.rolloutId}: no revert artifact ${revertArtifactName(c.component, c.to, c.from)} in Mender`,
        );
        continue;
      }
      if (finished)
        out.set(
          id,
          o === undefined
            ? `still runs ${c.component} ${c.from} after the revert of rollout ${f.rolloutId} finished`
            : `revert of ${c.component} ${c.from} → ${c.to} still ${o} after the revert of rollout ${f.rolloutId} finished`,
        );
    }
  }
  return [...out].map(([deviceId, detail]) => ({ deviceId, detail }));
}
