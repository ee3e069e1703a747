// The rollout planner: a pure function of the facts (time included) returning the next steps as data.
// The controller senses (store + Mender statistics), calls `planRollout`, runs the steps, and plans again
// until nothing changes. Waves: `internal`, then `pilot`, then fleet waves of wave_percent of the eligible
// fleet vans every wave_interval_hours, each gated on success, soak and health. See docs/rollouts.md.
import { createHash } from 'node:crypto';
import gte from 'semver/functions/gte.js';
import valid from 'semver/functions/valid.js';
import type * as z from 'zod';
import type { RolloutSettings as RolloutSettingsSchema } from '../../core/config/bridge-config.js';
import type { Stage } from '../store/fleet-store.js';
import type { ReleaseComponent, ReleaseDelta } from './release.js';
import { FINAL } from '../lib/deployment-tracker.js';
import { type SoakState, soakFailed, soakHold, soakRegressed } from './soak-gate.js';

/** The rollout settings of the bridge config, frozen into each rollout at its creation. */
export type RolloutSettings = z.output<typeof RolloutSettingsSchema>;

export const RolloutStatuses = ['active', 'paused', 'completed', 'aborted'] as const;
export type RolloutStatus = (typeof RolloutStatuses)[number];

export interface VanFacts {
  deviceId: string;
  /** Stable across a re-provisioned device (a new Mender id): the wave order hashes it. */
  vanId: string;
  stage: Stage;
  hold: boolean;
  excluded: boolean;
  tags: Record<string, string>;
  /** Installed component versions from inventory. */
  components: Record<string, string>;
  /** Inventory health after the update: false when disk, temperature or the last update status is bad. */
  healthy: boolean;
  /** The van's post-commit soak (`vancore.soak.state`); undefined: the van reports none. */
  soak?: SoakState;
  /** The artifact whose commit that soak is about (`vancore.soak.artifact`). */
  soakArtifact?: string;
}

export interface WaveFacts {
  wave: number;
  label: string;
  stage: Stage;
  deviceIds: string[];
  openedAt: string;
  closedAt: string | null;
}

/** Per-device deployment statuses as Mender reports them (`success`, `failure`, `downloading`, …). */
export interface DeploymentFacts {
  name: string;
  wave: number;
  component: string;
  deviceIds: string[];
  status: 'intent' | 'open' | 'finished' | 'aborted';
  createdAt: string;
  outcomes: Record<string, { status: string; finishedAt: string | null }>;
}

export interface RolloutFacts {
  now: Date;
  rolloutId: string;
  release: string;
  status: RolloutStatus;
  settings: RolloutSettings;
  /** In install order (dependencies first). */
  components: ReleaseComponent[];
  vans: VanFacts[];
  waves: WaveFacts[];
  deployments: DeploymentFacts[];
  /** Waves whose failure gate ops acknowledged by resuming: the rate check no longer pauses them. */
  acknowledgedWaves: number[];
}

export type RolloutStep =
  | { kind: 'open_wave'; wave: number; label: string; stage: Stage; deviceIds: string[] }
  | {
      kind: 'create_deployment';
      name: string;
      wave: number;
      component: string;
      artifactName: string;
      deviceIds: string[];
    }
  | { kind: 'close_wave'; wave: number; reason: string }
  | { kind: 'exclude'; deviceIds: string[]; reason: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'complete'; reason: string }
  | { kind: 'wait'; reason: string };

export { FINAL };
export const SUCCEEDED: ReadonlySet<string> = new Set(['success', 'already-installed']);
const HOUR = 3_600_000;
/** The failure rate is judged once this many vans of the wave finished (or all of them did). */
export const MIN_SAMPLE = 10;
const STAGE_ORDER: Stage[] = ['internal', 'pilot', 'fleet'];

/**
 * Deterministic, unique per (rollout, wave, component, artifact): found again by name after a crash. The
 * full artifact's deployment keeps the name it had before delta artifacts existed.
 */
export function deploymentName(
  release: string,
  rolloutId: string,
  wave: number,
  component: string,
  deltaBase?: string,
): string {
  return `vancore ${release} ${rolloutId} w${wave} ${component}${deltaBase ? ` delta-from-${deltaBase}` : ''}`;
}

export interface ArtifactVariant {
  /** The delta's base version; undefined for the full artifact. */
  baseVersion?: string;
  artifactName: string;
  deviceIds: string[];
}

/**
 * Which artifact each van gets: the delta whose base is the version the van runs, else the full
 * artifact. Deltas first (by base version), the full artifact last; empty groups are left out.
 */
/** The delta of `c` built on the version a van runs, if there is one (else the van takes the full artifact). */
export function deltaFor(c: ReleaseComponent, installed: string | undefined): ReleaseDelta | undefined {
  return installed === undefined ? undefined : c.deltas.find((d) => d.base_version === installed);
}

export function artifactVariants(
  c: ReleaseComponent,
  deviceIds: string[],
  vans: ReadonlyMap<string, VanFacts>,
): ArtifactVariant[] {
  const groups = new Map<string, string[]>();
  const full: string[] = [];
  for (const id of deviceIds) {
    const d = deltaFor(c, vans.get(id)?.components[c.component]);
    if (d) groups.set(d.base_version, [...(groups.get(d.base_version) ?? []), id]);
    else full.push(id);
  }
  const out: ArtifactVariant[] = c.deltas
    .filter((d) => groups.has(d.base_version))
    .map((d) => ({
      baseVersion: d.base_version,
      artifactName: d.artifact_name,
      deviceIds: groups.get(d.base_version)!,
    }));
  if (full.length) out.push({ artifactName: c.artifact_name, deviceIds: full });
  return out;
}

/** Stable pseudo-random order of vans for a release (reproducible, different per release). */
export function hashKey(vanId: string, release: string): string {
  return createHash('sha256').update(`${release}\u0000${vanId}`).digest('hex');
}

/**
 * Order vans by hash; with a tag, spread evenly: each van's key is its rank inside its tag group divided by
 * the group size, so every wave takes about the same share of each group.
 */
export function waveOrder(vans: VanFacts[], release: string, spreadByTag?: string): VanFacts[] {
  const keys = new Map(vans.map((v) => [v.deviceId, hashKey(v.vanId, release)]));
  const byHash = [...vans].sort((a, b) => (keys.get(a.deviceId)! < keys.get(b.deviceId)! ? -1 : 1));
  if (!spreadByTag) return byHash;
  const groups = new Map<string, VanFacts[]>();
  for (const v of byHash) {
    const g = v.tags[spreadByTag] ?? '';
    groups.set(g, [...(groups.get(g) ?? []), v]);
  }
  const keyed: { v: VanFacts; key: number; h: string }[] = [];
  for (const list of groups.values())
    list.forEach((v, i) => keyed.push({ v, key: (i + 0.5) / list.length, h: keys.get(v.deviceId)! }));
  return keyed.sort((a, b) => a.key - b.key || (a.h < b.h ? -1 : 1)).map((k) => k.v);
}

interface VanProgress {
  /** Components committed on the van (inventory version or a success outcome). */
  done: Set<string>;
  failures: number;
  /** The van's last outcome in this rollout was a failure. */
  lastFailed: boolean;
}

/** The van is on `version` of a component or a newer one (it would refuse the downgrade): nothing to take. */
export function atLeast(installed: string | undefined, version: string): boolean {
  if (installed === undefined) return false;
  if (installed === version) return true;
  const a = valid(installed);
  const b = valid(version);
  return a !== null && b !== null && gte(a, b);
}

function progressOf(facts: RolloutFacts): Map<string, VanProgress> {
  const out = new Map<string, VanProgress>();
  const get = (id: string) => {
    let p = out.get(id);
    if (!p) out.set(id, (p = { done: new Set(), failures: 0, lastFailed: false }));
    return p;
  };
  for (const v of facts.vans) {
    const p = get(v.deviceId);
    // A van already on this version — or a newer one, which it would refuse to leave (no downgrades,
    // agent-hooks/lib/downgrade.ts) — has nothing to take from this release for that component.
    for (const c of facts.components) if (atLeast(v.components[c.component], c.version)) p.done.add(c.component);
  }
  const ordered = [...facts.deployments].sort((a, b) => a.wave - b.wave);
  for (const d of ordered) {
    for (const [id, o] of Object.entries(d.outcomes)) {
      const p = get(id);
      if (SUCCEEDED.has(o.status)) {
        p.done.add(d.component);
        p.lastFailed = false;
      } else if (o.status === 'failure') {
        p.failures++;
        p.lastFailed = true;
      }
    }
  }
  return out;
}

/** A deployment no longer holds what comes after it (its wave, or the next revert component). */
export function settled(d: DeploymentFacts, now: Date, settings: RolloutSettings): boolean {
  if (d.status === 'finished' || d.status === 'aborted') return true;
  if (d.status === 'intent') return false;
  if (d.deviceIds.every((id) => FINAL.has(d.outcomes[id]?.status ?? ''))) return true;
  // Offline stragglers keep a Mender deployment in progress forever: after a wave interval the wave moves
  // on without them (they stay in Mender's deployment and are not retried here).
  return now.getTime() - Date.parse(d.createdAt) >= settings.wave_interval_hours * HOUR;
}

export const pct = (n: number, of: number) => (of === 0 ? 0 : (100 * n) / of);
export const fmt = (x: number) => x.toFixed(1);

export function planRollout(facts: RolloutFacts): RolloutStep[] {
  if (facts.status !== 'active') return [{ kind: 'wait', reason: `rollout is ${facts.status}` }];
  const s = facts.settings;
  const progress = progressOf(facts);
  const complete = (id: string) => facts.components.every((c) => progress.get(id)?.done.has(c.component));
  const open = facts.waves.find((w) => w.closedAt === null);
  if (open) return planOpenWave(facts, open, progress, complete);

  // No open wave: open the next one, if it is due.
  const last = facts.waves.at(-1);
  if (last && last.stage === 'fleet' && last.closedAt) {
    const due = Date.parse(last.openedAt) + s.wave_interval_hours * HOUR;
    if (facts.now.getTime() < due)
      return [{ kind: 'wait', reason: `next fleet wave due at ${new Date(due).toISOString()}` }];
  }
  const inWave = new Set(facts.waves.flatMap((w) => w.deviceIds));
  const eligible = facts.vans.filter((v) => !v.hold && !v.excluded);
  const steps: RolloutStep[] = [];

  // Failed vans come back in the next wave until they have failed max_retries + 1 times.
  const toExclude: string[] = [];
  const retries: string[] = [];
  for (const v of eligible) {
    const p = progress.get(v.deviceId)!;
    if (!inWave.has(v.deviceId) || complete(v.deviceId) || !p.lastFailed) continue;
    if (p.failures > s.max_retries_per_van) toExclude.push(v.deviceId);
    else retries.push(v.deviceId);
  }
  if (toExclude.length)
    steps.push({
      kind: 'exclude',
      deviceIds: toExclude,
      reason: `failed ${s.max_retries_per_van + 1} times in rollout ${facts.rolloutId}`,
    });

  const fresh = (stage: Stage) =>
    waveOrder(
      eligible.filter((v) => v.stage === stage && !inWave.has(v.deviceId) && !complete(v.deviceId)),
      facts.release,
      s.spread_by_tag,
    );
  const stagesDone = new Set(facts.waves.map((w) => w.stage));
  const nextWave = (last?.wave ?? 0) + 1;
  for (const stage of STAGE_ORDER) {
    const candidates = fresh(stage);
    if (stage !== 'fleet') {
      if (stagesDone.has(stage) || candidates.length === 0) continue;
      // A later stage already ran: vans moved into this stage afterwards wait for the fleet waves.
      if (STAGE_ORDER.slice(STAGE_ORDER.indexOf(stage) + 1).some((x) => stagesDone.has(x))) continue;
      steps.push({
        kind: 'open_wave',
        wave: nextWave,
        label: stage,
        stage,
        deviceIds: [...candidates.map((v) => v.deviceId), ...retries],
      });
      return steps;
    }
    const fleetSize = eligible.filter((v) => v.stage === 'fleet').length;
    const size = Math.max(1, Math.ceil((s.wave_percent / 100) * fleetSize));
    // Stragglers of earlier stages (moved in after their stage ran) join the fleet waves first.
    const late = [...fresh('internal'), ...fresh('pilot')];
    const pickFrom = [...late, ...candidates];
    const picked = pickFrom.slice(0, Math.max(0, size - retries.length)).map((v) => v.deviceId);
    if (picked.length === 0 && retries.length === 0) {
      steps.push({ kind: 'complete', reason: 'every eligible van has the release or was excluded' });
      return steps;
    }
    const n = facts.waves.filter((w) => w.stage === 'fleet').length + 1;
    steps.push({
      kind: 'open_wave',
      wave: nextWave,
      label: `fleet-${n}`,
      stage: 'fleet',
      deviceIds: [...retries, ...picked],
    });
  }
  return steps;
}

function planOpenWave(
  facts: RolloutFacts,
  wave: WaveFacts,
  progress: Map<string, VanProgress>,
  complete: (id: string) => boolean,
): RolloutStep[] {
  const s = facts.settings;
  const deps = facts.deployments.filter((d) => d.wave === wave.wave);

  // Failure gate: failures (a rollback reports `failure` too) among the wave's finished vans.
  let failed = 0;
  let finished = 0;
  for (const d of deps)
    for (const id of d.deviceIds) {
      const st = d.outcomes[id]?.status;
      if (st === 'failure') failed++;
      if (st !== undefined && (st === 'failure' || SUCCEEDED.has(st))) finished++;
    }
  const targets = new Set(deps.flatMap((d) => d.deviceIds)).size;
  const vanById = new Map(facts.vans.map((v) => [v.deviceId, v]));
  if (!facts.acknowledgedWaves.includes(wave.wave)) {
    // Post-commit soak regressions count as failed updates of their wave (soak-gate.ts).
    const regressed = soakRegressed(wave, vanById, complete, facts.components).length;
    failed += regressed;
    const rate = pct(failed, finished);
    const reason = `wave ${wave.label}: ${failed} of ${finished} finished updates failed (${fmt(rate)} %)${regressed ? `, ${regressed} of them soak regressions` : ''}`;
    // max_failures_per_wave halts whatever the rate; the rate is judged once a sample has finished.
    if (failed >= s.max_failures_per_wave)
      return [{ kind: 'pause', reason: `${reason}: at least ${s.max_failures_per_wave} failures in one wave` }];
    if (finished > 0 && finished >= Math.min(MIN_SAMPLE, targets) && rate > s.max_failure_percent)
      return [{ kind: 'pause', reason: `${reason}: over ${s.max_failure_percent} %` }];
    // Health regression: vans that took the whole release and now report bad health.
    const vans = new Map(facts.vans.map((v) => [v.deviceId, v]));
    const updated = wave.deviceIds.filter((id) => complete(id) && deps.length > 0);
    const sick = updated.filter((id) => vans.get(id)?.healthy === false);
    if (
      updated.length >= Math.min(MIN_SAMPLE, wave.deviceIds.length) &&
      pct(sick.length, updated.length) > s.max_failure_percent
    )
      return [
        {
          kind: 'pause',
          reason: `wave ${wave.label}: health regressed on ${sick.length} of ${updated.length} updated vans`,
        },
      ];
  }

  // Components in dependency order; the next component goes only to vans that committed every previous
  // one, once the previous component's deployments have settled. One deployment per (wave, component,
  // artifact): the delta artifact to the vans on its base version, the full one to the rest (issue #17).
  const vans = new Map(facts.vans.map((v) => [v.deviceId, v]));
  for (const [k, c] of facts.components.entries()) {
    const mine = deps.filter((x) => x.component === c.component);
    const targeted = new Set(mine.flatMap((d) => d.deviceIds));
    const before = facts.components.slice(0, k);
    const ids = wave.deviceIds.filter((id) => {
      const p = progress.get(id);
      return !targeted.has(id) && !p?.done.has(c.component) && before.every((b) => p?.done.has(b.component));
    });
    // A deployment made earlier for this component (a crash between the variants, or vans that
    // committed the previous component late) leaves its name taken: those vans wait for a later wave.
    for (const v of artifactVariants(c, ids, vans)) {
      const name = deploymentName(facts.release, facts.rolloutId, wave.wave, c.component, v.baseVersion);
      if (mine.some((d) => d.name === name)) continue;
      return [
        {
          kind: 'create_deployment',
          name,
          wave: wave.wave,
          component: c.component,
          artifactName: v.artifactName,
          deviceIds: v.deviceIds,
        },
      ];
    }
    if (mine.some((d) => !settled(d, facts.now, s)))
      return [{ kind: 'wait', reason: `wave ${wave.label}: ${c.component} deploying` }];
  }

  // Everything settled: the advance gate (success share — a soak regression is no success —, then soak).
  const succeeded = wave.deviceIds.filter(
    (id) => complete(id) && !soakFailed(vanById.get(id), facts.components),
  ).length;
  const share = pct(succeeded, wave.deviceIds.length);
  if (share < s.advance_success_percent) {
    return [
      {
        kind: 'pause',
        reason: `wave ${wave.label}: only ${succeeded} of ${wave.deviceIds.length} vans succeeded (${fmt(share)} % < ${s.advance_success_percent} %)`,
      },
    ];
  }
  const soakMs =
    wave.stage === 'fleet' ? 0 : (wave.stage === 'internal' ? s.soak_hours.internal : s.soak_hours.pilot) * HOUR;
  const lastSuccess = Math.max(
    Date.parse(wave.openedAt),
    ...deps.flatMap((d) =>
      Object.values(d.outcomes)
        .filter((o) => SUCCEEDED.has(o.status) && o.finishedAt)
        .map((o) => Date.parse(o.finishedAt!)),
    ),
  );
  const deviceSoak = soakHold(wave, vanById, complete, facts.components, lastSuccess, facts.now, s);
  if (deviceSoak && 'wait' in deviceSoak) return [{ kind: 'wait', reason: deviceSoak.wait }];
  const soakEnd = lastSuccess + soakMs;
  if (facts.now.getTime() < soakEnd)
    return [{ kind: 'wait', reason: `wave ${wave.label}: soaking until ${new Date(soakEnd).toISOString()}` }];
  return [
    {
      kind: 'close_wave',
      wave: wave.wave,
      reason: `${succeeded} of ${wave.deviceIds.length} vans succeeded (${fmt(share)} %) and stayed healthy${deviceSoak ? deviceSoak.note : ''}`,
    },
  ];
}
