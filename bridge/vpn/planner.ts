// The VPN migration planner (issue #9, bridge side): a pure function of the facts (time included) that
// says which van gets which step's artifact now. Steps are data (`create_deployment`, `complete`,
// `wait`); the controller runs them and plans again until only `wait` remains. See docs/vpn-migration.md
// ("Bridge side") for the state machine, the limits and what a rollback means per step.
//
// What the device accepts, the step order and the state each step leaves are core/vpn-steps.ts (the
// same rules the vancore-vpn module refuses a step with): steps in order none → add → verify → cutover
// → retire; a step may be repeated; nothing after `retired`; a step behind the van is refused (except
// one step back from `reverted`).
import { createHash } from 'node:crypto';
import type * as z from 'zod';
import type { VpnMigrationSettings } from '../../core/config/bridge-config.js';
import { type VpnStep, VpnStepsInArtifact } from '../../core/schemas/payload-index.js';
import type { VpnStepName } from '../../core/vpn-state.js';
import { expectedState, nextStep, vpnStepOf } from '../../core/vpn-steps.js';
import { FINAL } from '../lib/deployment-tracker.js';

export type MigrationSettings = z.output<typeof VpnMigrationSettings>;
export const MigrationStatuses = ['active', 'completed', 'cancelled'] as const;
export type MigrationStatus = (typeof MigrationStatuses)[number];
export const MigrationSteps = VpnStepsInArtifact;
export type MigrationStep = VpnStep;
export type StepArtifacts = Record<MigrationStep, string>;
export type Purpose = 'forward' | 'rollback';

export interface VanMigrationFacts {
  deviceId: string;
  vanId: string;
  /** `vancore.vpn.state` / `vancore.vpn.step` from inventory (untrusted: any text, or null). */
  state: string | null;
  step: string | null;
  /** The van's rollout stage and Mender tags (for the migration's scope). */
  stage: string;
  tags: Record<string, unknown>;
  hold: boolean;
  holdReason: string | null;
  /** Failures of attempts created before this time are forgiven (set when ops release a van). */
  resetAt: string | null;
  rollback: RollbackRequest | null;
}

export type RollbackKind = 'redeploy' | 'manual' | 'nothing';
export interface RollbackRequest {
  kind: RollbackKind;
  /** redeploy: the step whose artifact is deployed again. */
  step: MigrationStep | null;
  requestedAt: string;
  detail: string;
}

export interface MigrationDeploymentFacts {
  name: string;
  batch: number;
  step: MigrationStep;
  purpose: Purpose;
  deviceIds: string[];
  status: 'intent' | 'open' | 'finished' | 'aborted';
  createdAt: string;
  /** Per-device Mender statuses, with the bridge-clock time each became final. */
  outcomes: Record<string, { status: string; finishedAt: string | null }>;
}

/**
 * Which vans a migration covers; null: every accepted van. A van is in scope when it matches every
 * criterion given: its stage is one of `stages`, its Mender tag `tag.name` equals `tag.value`, its van id
 * is one of `vans`.
 */
export interface MigrationScope {
  stages?: string[] | undefined;
  tag?: { name: string; value: string } | undefined;
  vans?: string[] | undefined;
}

export function inScope(
  van: Pick<VanMigrationFacts, 'vanId' | 'stage' | 'tags'>,
  scope: MigrationScope | null,
): boolean {
  if (!scope) return true;
  if (scope.stages && !scope.stages.includes(van.stage)) return false;
  if (scope.tag && van.tags[scope.tag.name] !== scope.tag.value) return false;
  if (scope.vans && !scope.vans.includes(van.vanId)) return false;
  return true;
}

/** The vans of `facts` the migration covers: the planner and the report look at these only. */
export function scopedVans(facts: Pick<MigrationFacts, 'vans' | 'scope'>): VanMigrationFacts[] {
  return facts.vans.filter((v) => inScope(v, facts.scope));
}

export interface MigrationFacts {
  now: Date;
  migrationId: string;
  status: MigrationStatus;
  settings: MigrationSettings;
  artifacts: StepArtifacts;
  scope: MigrationScope | null;
  /** Every van the migration may target (accepted, not decommissioned), in scope or not. */
  vans: VanMigrationFacts[];
  deployments: MigrationDeploymentFacts[];
}

export type MigrationPlanStep =
  | {
      kind: 'create_deployment';
      name: string;
      batch: number;
      step: MigrationStep;
      purpose: Purpose;
      artifactName: string;
      deviceIds: string[];
    }
  | { kind: 'complete'; reason: string }
  /** `until`: the plan only waits on time (a daily limit, a soak) and moves again then. */
  | { kind: 'wait'; reason: string; until?: string };

export const AttentionCodes = [
  'step_failed',
  'reverted',
  'unexpected_state',
  'manual_rollback',
  'rollback_failed',
] as const;
export type AttentionCode = (typeof AttentionCodes)[number];

/** Where one van stands in the migration, and why. */
export type VanVerdict =
  | { kind: 'done' }
  | { kind: 'in_flight'; step: MigrationStep; purpose: Purpose; since: string; stuck: boolean }
  | { kind: 'awaiting_inventory'; step: MigrationStep; purpose: Purpose; since: string; stuck: boolean }
  | { kind: 'ready'; step: MigrationStep; failures: number }
  | { kind: 'soaking'; step: MigrationStep; until: string }
  | { kind: 'rollback_ready'; step: MigrationStep }
  | { kind: 'rolled_back'; detail: string }
  | { kind: 'held'; reason: string }
  | { kind: 'attention'; code: AttentionCode; detail: string };

export { FINAL };
const SUCCEEDED = new Set(['success', 'already-installed']);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function deploymentName(migrationId: string, batch: number, step: MigrationStep, purpose: Purpose): string {
  return `vancore-vpn ${migrationId} b${batch} ${step}${purpose === 'rollback' ? ' rollback' : ''}`;
}

function hashKey(vanId: string, migrationId: string): string {
  return createHash('sha256').update(`${migrationId}\u0000${vanId}`).digest('hex');
}

interface Attempt {
  step: MigrationStep;
  purpose: Purpose;
  createdAt: string;
  /** Final Mender status, or undefined while in flight. */
  status: string | undefined;
  finishedAt: string | null;
}

/** Every attempt per device, oldest first. */
export function attemptsByDevice(deployments: MigrationDeploymentFacts[]): Map<string, Attempt[]> {
  const out = new Map<string, Attempt[]>();
  const sorted = [...deployments].sort((a, b) => a.batch - b.batch || (a.createdAt < b.createdAt ? -1 : 1));
  for (const d of sorted) {
    for (const id of d.deviceIds) {
      const o = d.outcomes[id];
      let status = o && FINAL.has(o.status) ? o.status : undefined;
      // A deployment that ended without this device's final status (aborted, or not listed) is over for it.
      if (status === undefined && (d.status === 'finished' || d.status === 'aborted')) status = 'aborted';
      const list = out.get(id) ?? [];
      list.push({
        step: d.step,
        purpose: d.purpose,
        createdAt: d.createdAt,
        status,
        finishedAt: o?.finishedAt ?? null,
      });
      out.set(id, list);
    }
  }
  return out;
}

const ageOver = (since: string, now: Date, hours: number) => now.getTime() - Date.parse(since) >= hours * HOUR;

/** Pure: where a van stands. `attempts` are its attempts in this migration, oldest first. */
export function vanVerdict(van: VanMigrationFacts, attempts: Attempt[], s: MigrationSettings, now: Date): VanVerdict {
  const flying = attempts.find((a) => a.status === undefined);
  if (flying)
    return {
      kind: 'in_flight',
      step: flying.step,
      purpose: flying.purpose,
      since: flying.createdAt,
      stuck: ageOver(flying.createdAt, now, s.stuck_hours),
    };
  const at = vpnStepOf(van.step);
  const verifiedAt = (step: VpnStepName) => at === step && van.state === expectedState(step);

  // Ops asked for a rollback: it comes before anything else (and the van is held).
  const rb = van.rollback;
  if (rb) {
    if (rb.kind === 'manual') return { kind: 'attention', code: 'manual_rollback', detail: rb.detail };
    if (rb.kind === 'nothing' || rb.step === null) return { kind: 'rolled_back', detail: rb.detail };
    const mine = attempts.filter(
      (a) => a.purpose === 'rollback' && a.step === rb.step && a.createdAt >= rb.requestedAt,
    );
    const last = mine.at(-1);
    if (!last) return { kind: 'rollback_ready', step: rb.step };
    if (verifiedAt(rb.step)) return { kind: 'rolled_back', detail: `${rb.step} deployed again: ${rb.detail}` };
    if (last.status !== undefined && SUCCEEDED.has(last.status)) {
      const since = last.finishedAt ?? last.createdAt;
      return {
        kind: 'awaiting_inventory',
        step: rb.step,
        purpose: 'rollback',
        since,
        stuck: ageOver(since, now, s.stuck_hours),
      };
    }
    return {
      kind: 'attention',
      code: 'rollback_failed',
      detail: `rollback deployment of ${rb.step} ended ${last.status ?? '?'}`,
    };
  }
  if (van.hold) return { kind: 'held', reason: van.holdReason ?? 'held by ops' };
  if (at === 'retire' && van.state === 'retired') return { kind: 'done' };
  if (at !== undefined && van.state === 'reverted') {
    const undone = nextStep(at);
    return {
      kind: 'attention',
      code: 'reverted',
      detail:
        `the deadman reverted ${undone ?? '?'} to ${at}; not retried: the van still provides the ${undone ?? '?'} ` +
        `artifact (Mender would answer already-installed) — roll it back to ${at}, then release it`,
    };
  }
  if (at === undefined || !verifiedAt(at))
    return {
      kind: 'attention',
      code: 'unexpected_state',
      detail: `inventory says vpn state ${van.state ?? 'none'} at step ${van.step ?? 'none'}`,
    };
  const target = nextStep(at);
  if (!target) return { kind: 'done' };
  const counted = attempts.filter(
    (a) => a.purpose === 'forward' && a.step === target && (van.resetAt === null || a.createdAt >= van.resetAt),
  );
  const last = counted.at(-1);
  if (last?.status !== undefined && SUCCEEDED.has(last.status)) {
    // Mender says done, the inventory does not show it yet (or never will: stuck after stuck_hours).
    const since = last.finishedAt ?? last.createdAt;
    return {
      kind: 'awaiting_inventory',
      step: target,
      purpose: 'forward',
      since,
      stuck: ageOver(since, now, s.stuck_hours),
    };
  }
  // Any other final status counts: `failure` (the client rolled back), `noartifact`, `aborted` in Mender —
  // else such a van would be redeployed at every batch.
  const failed = counted.filter((a) => a.status !== undefined && !SUCCEEDED.has(a.status));
  const failures = failed.length;
  if (failures > s.max_retries_per_van)
    return {
      kind: 'attention',
      code: 'step_failed',
      detail: `${target} failed ${failures} time${failures === 1 ? '' : 's'} (last: ${failed.at(-1)?.status ?? '?'}; van stays at ${at})`,
    };
  if (target === 'retire') {
    const cut = attempts
      .filter((a) => a.step === 'cutover' && a.status !== undefined && SUCCEEDED.has(a.status))
      .at(-1);
    const from = cut?.finishedAt ?? cut?.createdAt;
    if (from) {
      const until = Date.parse(from) + s.retire_soak_hours * HOUR;
      if (now.getTime() < until) return { kind: 'soaking', step: target, until: new Date(until).toISOString() };
    }
  }
  return { kind: 'ready', step: target, failures };
}

export function planMigration(facts: MigrationFacts): MigrationPlanStep[] {
  if (facts.status !== 'active') return [{ kind: 'wait', reason: `migration is ${facts.status}` }];
  const s = facts.settings;
  const now = facts.now;
  const attempts = attemptsByDevice(facts.deployments);
  const vans = scopedVans(facts);
  const verdicts = vans.map((v) => ({ van: v, verdict: vanVerdict(v, attempts.get(v.deviceId) ?? [], s, now) }));
  const batch = Math.max(0, ...facts.deployments.map((d) => d.batch)) + 1;
  const steps: MigrationPlanStep[] = [];
  const deploy = (step: MigrationStep, purpose: Purpose, deviceIds: string[]) =>
    steps.push({
      kind: 'create_deployment',
      name: deploymentName(facts.migrationId, batch, step, purpose),
      batch,
      step,
      purpose,
      artifactName: facts.artifacts[step],
      deviceIds,
    });

  // Rollbacks ops asked for go out at once: they are not new steps and do not count against the limits.
  for (const step of MigrationSteps) {
    const ids = verdicts
      .filter((x) => x.verdict.kind === 'rollback_ready' && x.verdict.step === step)
      .map((x) => x.van.deviceId);
    if (ids.length) deploy(step, 'rollback', ids.sort());
  }

  // Capacity: forward starts in the last 24 h (rolling), overall and per step.
  const windowStart = now.getTime() - DAY;
  const starts: { at: number; step: MigrationStep }[] = [];
  for (const d of facts.deployments)
    if (d.purpose === 'forward' && Date.parse(d.createdAt) > windowStart)
      for (let i = 0; i < d.deviceIds.length; i++) starts.push({ at: Date.parse(d.createdAt), step: d.step });
  let free = s.daily_batch_limit - starts.length;
  const stepFree = Object.fromEntries(
    MigrationSteps.map((st) => {
      const lim = s.step_daily_limit[st];
      return [st, lim === undefined ? Infinity : lim - starts.filter((x) => x.step === st).length];
    }),
  ) as Record<MigrationStep, number>;

  // Vans further along go first (finish vans rather than start new ones), then by a stable hash.
  const ready = verdicts
    .filter((x): x is { van: VanMigrationFacts; verdict: Extract<VanVerdict, { kind: 'ready' }> } => {
      return x.verdict.kind === 'ready';
    })
    .map((x) => ({ ...x, key: hashKey(x.van.vanId, facts.migrationId) }))
    .sort(
      (a, b) =>
        MigrationSteps.indexOf(b.verdict.step) - MigrationSteps.indexOf(a.verdict.step) || (a.key < b.key ? -1 : 1),
    );
  const picked = new Map<MigrationStep, string[]>();
  const blocked = new Set<MigrationStep | 'all'>();
  for (const r of ready) {
    const st = r.verdict.step;
    if (free <= 0) {
      blocked.add('all');
      break;
    }
    if (stepFree[st] <= 0) {
      blocked.add(st);
      continue;
    }
    free--;
    stepFree[st]--;
    picked.set(st, [...(picked.get(st) ?? []), r.van.deviceId]);
  }
  for (const st of [...MigrationSteps].reverse()) {
    const ids = picked.get(st);
    if (ids?.length) deploy(st, 'forward', ids.sort());
  }
  if (steps.length) return steps;

  // Nothing to deploy now: say why, and when time alone will change that.
  const times: number[] = [];
  if (blocked.size) {
    const relevant = starts.filter((x) => blocked.has('all') || blocked.has(x.step)).map((x) => x.at);
    if (relevant.length) times.push(Math.min(...relevant) + DAY);
  }
  for (const x of verdicts) if (x.verdict.kind === 'soaking') times.push(Date.parse(x.verdict.until));
  const count = (kind: VanVerdict['kind']) => verdicts.filter((x) => x.verdict.kind === kind).length;
  const done = count('done');
  if (done === vans.length && vans.length > 0)
    return [{ kind: 'complete', reason: `all ${done} vans retired Tailscale SaaS` }];
  const summary =
    `${done} done, ${count('in_flight')} deploying, ${count('awaiting_inventory')} awaiting inventory, ` +
    `${count('soaking')} soaking, ${count('ready')} ready, ${count('held')} held, ${count('attention')} need attention`;
  if (times.length) {
    const until = new Date(Math.min(...times)).toISOString();
    const why = blocked.size ? 'daily limit reached' : 'soaking before retire';
    return [{ kind: 'wait', reason: `${why}: next batch at ${until} (${summary})`, until }];
  }
  return [{ kind: 'wait', reason: summary }];
}

export type RollbackDecision =
  { ok: true; kind: RollbackKind; step: MigrationStep | null; detail: string } | { ok: false; reason: string };

/**
 * Pure: what "roll this van back one step" can mean, given where inventory says it is. vancore-vpn has
 * no backward step (`stepAllowed` refuses a step behind the van), so a committed add or cut-over can
 * only be undone by hand; a van the deadman reverted gets the step it went back to deployed again (a
 * repeat, which the module accepts), which makes that step its clean, committed state.
 */
export function decideRollback(van: VanMigrationFacts, inFlight: boolean): RollbackDecision {
  if (inFlight)
    return {
      ok: false,
      reason: `van ${van.vanId} has a migration deployment in flight (Mender OSS cannot abort it for one van): hold it and roll back once it ended`,
    };
  const at = vpnStepOf(van.step);
  if (at === undefined) return { ok: false, reason: `van ${van.vanId} reports no usable vpn step` };
  if (van.state === 'reverted') {
    if (at === 'none')
      return {
        ok: true,
        kind: 'nothing',
        step: null,
        detail: 'the deadman already undid add: the van is on SaaS only',
      };
    return { ok: true, kind: 'redeploy', step: at, detail: `the deadman reverted the van to ${at}` };
  }
  if (van.state !== expectedState(at))
    return { ok: false, reason: `van ${van.vanId} is in vpn state ${van.state ?? 'none'} at ${at}: fix it by hand` };
  switch (at) {
    case 'none':
      return { ok: false, reason: `van ${van.vanId} has not started the migration: nothing to roll back` };
    case 'add':
      return {
        ok: true,
        kind: 'manual',
        step: null,
        detail:
          'vancore-vpn has no step that removes a committed add: on the van stop tailscaled-headscale.service, ' +
          'log the Headscale node out and remove its state dir (SaaS was never touched)',
      };
    case 'verify':
      return { ok: true, kind: 'nothing', step: null, detail: 'verify changed nothing on the van: it stays dual' };
    case 'cutover':
      return {
        ok: true,
        kind: 'manual',
        step: null,
        detail:
          'vancore-vpn has no step back from a committed cut-over: on the van start tailscaled.service (SaaS) and ' +
          "set the Headscale instance secondary (tailscale set --accept-dns=false), as the deadman's revert does",
      };
    case 'retire':
      return { ok: false, reason: `van ${van.vanId} retired SaaS (its state is deleted): a rollback is impossible` };
  }
}
