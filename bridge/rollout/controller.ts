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
import * as R from './store.js';

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
  steps: RolloutStep[];
}

export class RolloutController extends OwnerController<RolloutStep> {
  constructor(private readonly deps: RolloutControllerDeps) {
    super(deps, {
      kind: 'rollout',
      lockKey: LOCK_KEY,
      what: 'rollout',
      logKey: 'rollout',
      stopsAfter: (s) => s.kind === 'pause' || s.kind === 'complete',
    });
  }

  protected async activeIds(): Promise<string[]> {
    return (await R.listRollouts(this.db, 'active')).map((x) => x.id);
  }

  /** The settings a rollout created now freezes (the `rollout create --dry-run` forecast plans with them). */
  get settings(): Readonly<RolloutSettings> {
    return this.deps.settings;
  }

  /** Dry run: the steps the planner would take now. */
  async plan(rolloutId: string): Promise<RolloutStep[]> {
    return planRollout(await R.loadFacts(this.db, rolloutId, this.deps.clock.now()));
  }

  protected async act(rolloutId: string, s: RolloutStep): Promise<void> {
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
      case 'wait':
        return;
    }
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

  async create(release: string, actor: string, reason: string | null): Promise<R.RolloutRecord> {
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
      settings: { ...this.deps.settings },
      created_at: now,
      created_by: actor,
      updated_at: now,
    };
    await R.insertRollout(this.db, rec);
    await R.recordEvent(this.db, { rolloutId: rec.id, at: now, actor, action: 'create', reason, detail: { release } });
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

  /** Resume; the open wave's failure gate counts as acknowledged (it would pause again at once otherwise). */
  async resume(id: string, actor: string, reason: string): Promise<void> {
    const r = await this.#must(id);
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
