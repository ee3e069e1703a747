// The rollout controller: sense (our records + Mender's per-device statuses) → plan (pure) → act.
//
// Invariants:
// * Single-flight: at most one tick runs in this process; `tick()` while one runs joins it.
// * With PostgreSQL, a tick first takes a session advisory lock on a dedicated connection
//   (`pg_try_advisory_lock`); a replica that does not get it skips the tick, so two bridges never both act.
// * Deployments go from intent to finished through the deployment tracker (lib/deployment-tracker.ts): the
//   intent (deterministic name, device list) is written before Mender is called, and an intent without a
//   Mender id is looked up by its name before it is created, so a crash never yields a second deployment.
// * Every state change of a rollout is written to its audit trail with who, when and why.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MenderManagementClient } from '../../core/mender/management.js';
import type { FleetStore } from '../store/fleet-store.js';
import { OwnerController } from '../lib/owner-controller.js';
import { type RolloutSettings, type RolloutStep, planRollout } from './planner.js';
import { type RevertStep, planRevert, planSoakReverts, revertTrigger, revertWatchOn } from './revert.js';
import * as R from './store.js';

/** What a rollout's tick may do: the planner's steps, starting its revert, and the revert's own steps. */
export type RolloutControllerStep = RolloutStep | RevertStep | { kind: 'start_revert'; reason: string };

/** The part of the Mender client a rollout uses. */
export type RolloutMender = Pick<
  MenderManagementClient,
  'createDeployment' | 'listDeployments' | 'deploymentDevices' | 'abortDeployment' | 'setTags' | 'collect'
>;

export interface RolloutControllerDeps {
  store: FleetStore;
  mender: RolloutMender;
  clock: Clock;
  settings: Readonly<RolloutSettings>;
  logger?: Logger;
  /** With PostgreSQL: take the advisory lock (default true there). */
  useAdvisoryLock?: boolean;
}

/** Arbitrary but fixed: the advisory lock key of the rollout controller. */
const LOCK_KEY = 0x76616e63; // "vanc"

export interface TickReport {
  ran: boolean;
  steps: RolloutControllerStep[];
}

export class RolloutController extends OwnerController<RolloutControllerStep> {
  constructor(private readonly deps: RolloutControllerDeps) {
    super(deps, {
      kind: 'rollout',
      lockKey: LOCK_KEY,
      what: 'rollout',
      logKey: 'rollout',
      stopsAfter: (s) => s.kind === 'pause' || s.kind === 'complete',
    });
  }

  /**
   * Active rollouts; paused ones too while their revert policy is on and they were not reverted (their open
   * Mender deployments go on, and their failures count); and every rollout whose revert is running.
   */
  protected async activeIds(): Promise<string[]> {
    const reverts = await R.listReverts(this.db);
    const reverted = new Set(reverts.map((r) => r.rollout_id));
    const ids = (await R.listRollouts(this.db))
      .filter(
        (r) => r.status === 'active' || (r.status === 'paused' && revertWatchOn(r.settings) && !reverted.has(r.id)),
      )
      .map((r) => r.id);
    for (const r of reverts) if (r.status === 'active' && !ids.includes(r.rollout_id)) ids.push(r.rollout_id);
    return ids;
  }

  /** The rollout's deployments, and its revert's (the fleet revert's and single vans' after their soak). */
  protected override async refresh(id: string): Promise<void> {
    await this.tracker.refresh(R.rolloutOwner(id));
    await this.tracker.refresh(R.revertOwner(id));
  }

  /** The settings a rollout created now freezes (the `rollout create --dry-run` forecast plans with them). */
  get settings(): Readonly<RolloutSettings> {
    return this.deps.settings;
  }

  /** Dry run: the steps the controller would take now. */
  async plan(rolloutId: string): Promise<RolloutControllerStep[]> {
    return planWithRevert(this.db, rolloutId, this.deps.clock.now());
  }

  protected async act(rolloutId: string, s: RolloutControllerStep): Promise<void> {
    const now = this.now();
    const db = this.db;
    switch (s.kind) {
      case 'open_wave':
        await db
          .insertInto('rollout_waves')
          .values({
            rollout_id: rolloutId,
            wave: s.wave,
            label: s.label,
            stage: s.stage,
            device_ids_json: JSON.stringify(s.deviceIds),
            opened_at: now,
            closed_at: null,
          })
          .execute();
        await R.recordEvent(db, {
          rolloutId,
          at: now,
          actor: 'controller',
          action: 'open_wave',
          reason: `${s.label}: ${s.deviceIds.length} vans`,
          detail: { wave: s.wave, label: s.label, vans: s.deviceIds.length },
        });
        return;
      case 'close_wave':
        await db
          .updateTable('rollout_waves')
          .set({ closed_at: now })
          .where('rollout_id', '=', rolloutId)
          .where('wave', '=', s.wave)
          .execute();
        await R.recordEvent(db, {
          rolloutId,
          at: now,
          actor: 'controller',
          action: 'close_wave',
          reason: s.reason,
          detail: { wave: s.wave },
        });
        return;
      case 'create_deployment': {
        // The intent first (the tracker): a crash after it finds the deployment again by its name.
        await this.tracker.start(
          R.rolloutOwner(rolloutId),
          {
            name: s.name,
            round: s.wave,
            subject: s.component,
            purpose: 'forward',
            artifactName: s.artifactName,
            deviceIds: s.deviceIds,
          },
          async () => {
            await R.recordEvent(db, {
              rolloutId,
              at: now,
              actor: 'controller',
              action: 'deploy',
              reason: `${s.component} → ${s.deviceIds.length} vans`,
              detail: { wave: s.wave, name: s.name, artifact: s.artifactName, vans: s.deviceIds.length },
            });
          },
        );
        return;
      }
      case 'exclude':
        await R.setVanFlags(db, s.deviceIds, { excluded: true }, now);
        await R.recordEvent(db, {
          rolloutId,
          at: now,
          actor: 'controller',
          action: 'exclude',
          reason: s.reason,
          detail: { devices: s.deviceIds },
        });
        return;
      case 'pause':
        await R.setRolloutStatus(db, rolloutId, 'paused', s.reason, now);
        await R.recordEvent(db, {
          rolloutId,
          at: now,
          actor: 'controller',
          action: 'pause',
          reason: s.reason,
          detail: { wave: await this.#openWave(rolloutId) },
        });
        this.deps.logger?.warn({ rollout: rolloutId, reason: s.reason }, 'rollout paused');
        return;
      case 'complete':
        await R.setRolloutStatus(db, rolloutId, 'completed', null, now);
        await R.recordEvent(db, { rolloutId, at: now, actor: 'controller', action: 'complete', reason: s.reason });
        return;
      case 'start_revert':
        await this.#startRevert(rolloutId, 'controller', s.reason, null);
        return;
      case 'create_revert_deployment':
        await this.tracker.start(
          R.revertOwner(rolloutId),
          {
            name: s.name,
            round: s.round,
            subject: s.component,
            purpose: 'revert',
            artifactName: s.artifactName,
            deviceIds: s.deviceIds,
          },
          async () => {
            await R.recordEvent(db, {
              rolloutId,
              at: now,
              actor: 'controller',
              action: 'revert_deploy',
              reason: `${s.component} ${s.from} → ${s.to} → ${s.deviceIds.length} vans`,
              detail: { name: s.name, round: s.round, artifact: s.artifactName, vans: s.deviceIds.length },
            });
          },
        );
        return;
      case 'finish_revert':
        await R.finishRevert(db, rolloutId, now);
        await R.recordEvent(db, {
          rolloutId,
          at: now,
          actor: 'controller',
          action: 'revert_finished',
          reason: s.reason,
          detail: { landed: s.landed, not_landed: s.notLanded },
        });
        return;
      case 'wait':
        return;
    }
  }

  /**
   * Start the revert: stop the bad release (abort the rollout's open Mender deployments, pause it), record
   * the revert and its audit event; the next plan deploys the revert artifacts (planRevert).
   */
  async #startRevert(rolloutId: string, actor: string, reason: string, to: string | null): Promise<boolean> {
    const db = this.db;
    const r = await this.#must(rolloutId);
    const previous = to ?? (await R.previousRelease(db, r));
    const now = this.now();
    // Aborting is what every revert wants first, and it is idempotent; the claim decides who records
    // the revert when two start at once (ops by hand on one replica, the controller on the leader).
    const aborted = await this.tracker.abort(R.rolloutOwner(rolloutId), true);
    const claimed = await R.insertRevert(db, {
      rollout_id: rolloutId,
      release: r.release,
      previous_release: previous,
      status: 'active',
      reason,
      started_by: actor,
      started_at: now,
      finished_at: null,
    });
    if (!claimed) return false;
    if (r.status === 'active' || r.status === 'paused')
      await R.setRolloutStatus(
        db,
        rolloutId,
        'paused',
        `reverted to ${previous ?? '(no previous release)'}: ${reason}`,
        now,
      );
    await R.recordEvent(db, {
      rolloutId,
      at: now,
      actor,
      action: 'revert',
      reason,
      detail: { release: r.release, previous, aborted },
    });
    this.deps.logger?.warn({ rollout: rolloutId, previous, reason }, 'rollout reverted');
    return true;
  }

  async #openWave(rolloutId: string): Promise<number | null> {
    const w = await this.db
      .selectFrom('rollout_waves')
      .select('wave')
      .where('rollout_id', '=', rolloutId)
      .where('closed_at', 'is', null)
      .executeTakeFirst();
    return w?.wave ?? null;
  }

  // ---- ops actions --------------------------------------------------------------------------------

  /**
   * `policy.revert` replaces the config's `rollout.revert` for this rollout (`{}` turns it off); the
   * settings are frozen into the rollout.
   */
  async create(
    release: string,
    actor: string,
    reason: string | null,
    policy: { revert?: RolloutSettings['revert'] } = {},
  ): Promise<R.RolloutRecord> {
    if (!(await R.getRelease(this.db, release))) throw new VanError('NOT_FOUND', `no release ${release}`);
    const running = (await R.listRollouts(this.db)).filter((r) => r.status === 'active' || r.status === 'paused');
    if (running.length)
      throw new VanError(
        'CONFLICT',
        `rollout ${running[0]!.id} (${running[0]!.release}) is still ${running[0]!.status}`,
      );
    const now = this.now();
    const rec: R.RolloutRecord = {
      id: `r${randomBytes(5).toString('hex')}`,
      release,
      status: 'active',
      pause_reason: null,
      settings: { ...this.deps.settings, ...(policy.revert ? { revert: policy.revert } : {}) },
      created_at: now,
      created_by: actor,
      updated_at: now,
    };
    await R.insertRollout(this.db, rec);
    await R.recordEvent(this.db, {
      rolloutId: rec.id,
      at: now,
      actor,
      action: 'create',
      reason,
      detail: { release, revert: rec.settings.revert },
    });
    return rec;
  }

  async #must(id: string): Promise<R.RolloutRecord> {
    const r = await R.getRollout(this.db, id);
    if (!r) throw new VanError('NOT_FOUND', `no rollout ${id}`);
    return r;
  }

  async pause(id: string, actor: string, reason: string): Promise<void> {
    const r = await this.#must(id);
    if (r.status !== 'active') throw new VanError('CONFLICT', `rollout ${id} is ${r.status}`);
    const now = this.now();
    await R.setRolloutStatus(this.db, id, 'paused', `paused by ${actor}: ${reason}`, now);
    await R.recordEvent(this.db, { rolloutId: id, at: now, actor, action: 'pause', reason });
  }

  /** Refused once the rollout was reverted: its release is the bad one; start a new rollout instead. */
  async #notReverted(id: string): Promise<void> {
    const rev = await R.getRevert(this.db, id);
    if (rev)
      throw new VanError(
        'CONFLICT',
        rev.previous_release === null && rev.status === 'active'
          ? `rollout ${id} was reverted at ${rev.started_at} with no previous release to go back to: name one with --to RELEASE`
          : `rollout ${id} was reverted to ${rev.previous_release ?? '(no previous release)'} at ${rev.started_at}: abort it and roll out a fixed release`,
      );
  }

  /**
   * `rollout revert`: what the policy does, by hand — pause, abort the open deployments, and deploy the
   * previous release's revert artifacts to every van that took this one. Any status; once per rollout.
   * A revert that found no previous release (the fleet's first rollout) waits for one: `--to` then names
   * it, once.
   */
  async revert(id: string, actor: string, reason: string, to: string | null = null): Promise<void> {
    const r = await this.#must(id);
    if (to !== null && to === r.release)
      throw new VanError('CONFLICT', `rollout ${id} rolls out ${to}: name another release to go back to`);
    if (to !== null && !(await R.getRelease(this.db, to))) throw new VanError('NOT_FOUND', `no release ${to}`);
    const rev = await R.getRevert(this.db, id);
    if (rev?.status === 'active' && rev.previous_release === null && to !== null) {
      const now = this.now();
      if (!(await R.setRevertPrevious(this.db, id, to, now))) await this.#notReverted(id);
      if (r.status === 'paused')
        await R.setRolloutStatus(this.db, id, 'paused', `reverted to ${to}: ${rev.reason}`, now);
      await R.recordEvent(this.db, {
        rolloutId: id,
        at: now,
        actor,
        action: 'revert',
        reason,
        detail: { release: r.release, previous: to, named_later: true },
      });
      return;
    }
    await this.#notReverted(id);
    // Checked above, but another replica or the controller may have claimed it since: 409, not a 500.
    if (!(await this.#startRevert(id, actor, reason, to))) await this.#notReverted(id);
  }

  /** Resume; the open wave's failure gate counts as acknowledged (it would pause again at once otherwise). */
  async resume(id: string, actor: string, reason: string): Promise<void> {
    const r = await this.#must(id);
    await this.#notReverted(id);
    if (r.status !== 'paused') throw new VanError('CONFLICT', `rollout ${id} is ${r.status}`);
    const now = this.now();
    await R.setRolloutStatus(this.db, id, 'active', null, now);
    await R.recordEvent(this.db, {
      rolloutId: id,
      at: now,
      actor,
      action: 'resume',
      reason,
      detail: { wave: await this.#openWave(id) },
    });
  }

  /** Close the open wave now, skipping its remaining gate (soak, success share). */
  async advance(id: string, actor: string, reason: string): Promise<void> {
    const r = await this.#must(id);
    await this.#notReverted(id);
    if (r.status !== 'active' && r.status !== 'paused') throw new VanError('CONFLICT', `rollout ${id} is ${r.status}`);
    const wave = await this.#openWave(id);
    const now = this.now();
    if (wave !== null)
      await this.db
        .updateTable('rollout_waves')
        .set({ closed_at: now })
        .where('rollout_id', '=', id)
        .where('wave', '=', wave)
        .execute();
    if (r.status === 'paused') await R.setRolloutStatus(this.db, id, 'active', null, now);
    await R.recordEvent(this.db, { rolloutId: id, at: now, actor, action: 'advance', reason, detail: { wave } });
  }

  /** Abort: stop planning and abort every open Mender deployment of the rollout. */
  async abort(id: string, actor: string, reason: string): Promise<{ aborted: string[] }> {
    const r = await this.#must(id);
    if (r.status === 'completed' || r.status === 'aborted')
      throw new VanError('CONFLICT', `rollout ${id} is ${r.status}`);
    const now = this.now();
    await R.setRolloutStatus(this.db, id, 'aborted', `aborted by ${actor}: ${reason}`, now);
    const aborted = await this.tracker.abort(R.rolloutOwner(id));
    await R.recordEvent(this.db, { rolloutId: id, at: now, actor, action: 'abort', reason, detail: { aborted } });
    return { aborted };
  }
}

/**
 * The controller's plan for one rollout: its running revert's steps; else the revert when the policy is
 * crossed (checked first, also while paused: open deployments keep reporting); else the planner's steps.
 */
export async function planWithRevert(
  db: FleetStore['db'],
  rolloutId: string,
  now: Date,
): Promise<RolloutControllerStep[]> {
  const facts = await R.loadFacts(db, rolloutId, now);
  const rev = await R.getRevert(db, rolloutId);
  if (rev?.status === 'active') {
    const r = (await R.getRollout(db, rolloutId))!;
    return planRevert(await R.loadRevertFacts(db, r, rev, now, facts.vans));
  }
  if (!rev && (facts.status === 'active' || facts.status === 'paused')) {
    const reason = revertTrigger(facts);
    if (reason) return [{ kind: 'start_revert', reason }];
    // revert.soak_regressed_vans: each van whose soak of the release regressed goes back on its own.
    if (facts.settings.revert.soak_regressed_vans) {
      const r = (await R.getRollout(db, rolloutId))!;
      const previous = await R.previousRelease(db, r);
      const steps = planSoakReverts(
        await R.loadRevertFacts(db, r, { release: r.release, previous_release: previous }, now, facts.vans),
        facts,
      );
      if (steps.length) return steps;
    }
  }
  return planRollout(facts);
}
