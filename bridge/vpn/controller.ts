// The VPN migration controller: sense (our records, inventory VPN state, Mender's per-device statuses)
// → plan (pure, planner.ts) → act. Same execution rules as the rollout controller:
//
// Invariants:
// * Single-flight: at most one tick runs in this process; `tick()` while one runs joins it.
// * With PostgreSQL, a tick first takes its own session advisory lock on a dedicated connection
//   (`pg_try_advisory_lock`, a key distinct from the rollout controller's); a replica without it skips.
// * Deployments go from intent to finished through the deployment tracker (lib/deployment-tracker.ts): the
//   intent (deterministic name, device list) is written before Mender is called, and an intent without a
//   Mender id is looked up by its name before it is created, so a crash never yields a second deployment.
// * Every ops action (create, hold, release, rollback, cancel) and every deployment is in the audit trail.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { VpnMigrationSettings } from '../../core/config/bridge-config.js';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MenderManagementClient } from '../../core/mender/management.js';
import type { FleetStore } from '../store/fleet-store.js';
import { OwnerController } from '../lib/owner-controller.js';
import {
  type MigrationPlanStep,
  type MigrationScope,
  type MigrationSettings,
  MigrationSteps,
  type StepArtifacts,
  attemptsByDevice,
  decideRollback,
  inScope,
  planMigration,
} from './planner.js';
import * as V from './store.js';

/** The config's `vpn` defaults (other keys of that section dropped) with the caller's overrides, checked. */
function frozenSettings(base: Readonly<MigrationSettings>, overrides: Partial<MigrationSettings>): MigrationSettings {
  const merged: Partial<MigrationSettings> = { ...base, ...overrides };
  const picked = Object.fromEntries(
    Object.keys(VpnMigrationSettings.shape).map((k) => [k, merged[k as keyof MigrationSettings]]),
  );
  const r = VpnMigrationSettings.safeParse(picked);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new VanError('INPUT_INVALID', `settings.${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

export type VpnMigrationMender = Pick<
  MenderManagementClient,
  'createDeployment' | 'listDeployments' | 'deploymentDevices' | 'collect'
>;

export interface VpnMigrationControllerDeps {
  store: FleetStore;
  mender: VpnMigrationMender;
  clock: Clock;
  /** The `vpn` section of the bridge config: defaults of a new migration. */
  settings: Readonly<MigrationSettings>;
  logger?: Logger;
  useAdvisoryLock?: boolean;
}

/** Arbitrary but fixed, and not the rollout controller's: "vanv". */
const LOCK_KEY = 0x76616e76;

export interface MigrationTickReport {
  ran: boolean;
  steps: MigrationPlanStep[];
}

export class VpnMigrationController extends OwnerController<MigrationPlanStep> {
  constructor(private readonly deps: VpnMigrationControllerDeps) {
    super(deps, {
      kind: 'vpn',
      lockKey: LOCK_KEY,
      what: 'vpn migration',
      logKey: 'migration',
      stopsAfter: (s) => s.kind === 'complete',
    });
  }

  protected async activeIds(): Promise<string[]> {
    return (await V.listMigrations(this.db, 'active')).map((x) => x.id);
  }

  /** Dry run: the steps the planner would take now. */
  async plan(migrationId: string): Promise<MigrationPlanStep[]> {
    return planMigration(await V.loadFacts(this.db, migrationId, this.deps.clock.now()));
  }

  protected async act(migrationId: string, s: MigrationPlanStep): Promise<void> {
    const now = this.now();
    const db = this.db;
    switch (s.kind) {
      case 'create_deployment':
        // The intent first (the tracker): a crash after it finds the deployment again by its name.
        await this.tracker.start(
          V.migrationOwner(migrationId),
          {
            name: s.name,
            round: s.batch,
            subject: s.step,
            purpose: s.purpose,
            artifactName: s.artifactName,
            deviceIds: s.deviceIds,
          },
          async () => {
            await V.recordEvent(db, {
              migrationId,
              at: now,
              actor: 'controller',
              action: s.purpose === 'rollback' ? 'deploy_rollback' : 'deploy',
              reason: `batch ${s.batch}: ${s.step} → ${s.deviceIds.length} vans`,
              detail: {
                batch: s.batch,
                name: s.name,
                step: s.step,
                artifact: s.artifactName,
                vans: s.deviceIds.length,
              },
            });
          },
        );
        return;
      case 'complete':
        await V.setMigrationStatus(db, migrationId, 'completed', now);
        await V.recordEvent(db, { migrationId, at: now, actor: 'controller', action: 'complete', reason: s.reason });
        return;
      case 'wait':
        return;
    }
  }

  // ---- ops actions --------------------------------------------------------------------------------

  /**
   * Start a migration. `artifacts` must be synced `vancore-vpn` artifacts, one per step, and an artifact
   * whose meta-data records its step must carry that step (older builds record none: accepted, and the
   * report notes it). `scope` (null: every accepted van) must name known vans and cover at least one.
   */
  async create(
    artifacts: StepArtifacts,
    overrides: Partial<MigrationSettings>,
    actor: string,
    reason: string | null,
    scope: V.StoredScope | null = null,
  ): Promise<V.MigrationRecord> {
    const names = MigrationSteps.map((s) => artifacts[s]);
    if (new Set(names).size !== names.length)
      throw new VanError('INPUT_INVALID', 'artifacts: each step needs its own artifact');
    const known = await this.db
      .selectFrom('artifacts')
      .select(['name', 'payload_type', 'vpn_step'])
      .where('name', 'in', names)
      .execute();
    for (const step of MigrationSteps) {
      const rows = known.filter((k) => k.name === artifacts[step]);
      if (rows.length === 0)
        throw new VanError('INPUT_INVALID', `artifacts.${step}: no synced artifact named ${artifacts[step]}`);
      if (rows.some((r) => r.payload_type !== 'vancore-vpn'))
        throw new VanError('INPUT_INVALID', `artifacts.${step}: ${artifacts[step]} is not a vancore-vpn artifact`);
      const other = rows.find((r) => (r.vpn_step ?? null) !== null && r.vpn_step !== step);
      if (other)
        throw new VanError('INPUT_INVALID', `artifacts.${step}: ${artifacts[step]} carries step ${other.vpn_step}`);
    }
    if (scope) await this.#checkScope(scope);
    const running = (await V.listMigrations(this.db, 'active'))[0];
    if (running) throw new VanError('CONFLICT', `vpn migration ${running.id} is still active`);
    const now = this.now();
    const rec: V.MigrationRecord = {
      id: `m${randomBytes(5).toString('hex')}`,
      status: 'active',
      artifacts,
      settings: frozenSettings(this.deps.settings, overrides),
      scope,
      created_at: now,
      created_by: actor,
      updated_at: now,
    };
    await V.insertMigration(this.db, rec);
    await V.recordEvent(this.db, {
      migrationId: rec.id,
      at: now,
      actor,
      action: 'create',
      reason,
      detail: { artifacts, settings: rec.settings, ...(scope ? { scope } : {}) },
    });
    return rec;
  }

  /** A scope names only known vans and covers at least one. */
  async #checkScope(scope: MigrationScope): Promise<void> {
    const vans = await V.eligibleVans(this.db);
    if (scope.vans) {
      const known = new Set(vans.map((v) => v.vanId));
      const unknown = [...new Set(scope.vans)].filter((id) => !known.has(id));
      if (unknown.length) {
        const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, … (${unknown.length} in all)` : '');
        throw new VanError('INPUT_INVALID', `scope.vans: no accepted van ${shown}`);
      }
    }
    if (!vans.some((v) => inScope(v, scope))) throw new VanError('INPUT_INVALID', 'scope: no accepted van is in it');
  }

  async #must(id: string): Promise<V.MigrationRecord> {
    const m = await V.getMigration(this.db, id);
    if (!m) throw new VanError('NOT_FOUND', `no vpn migration ${id}`);
    return m;
  }

  async #van(id: string, vanId: string) {
    const van = (await V.loadVans(this.db, id)).find((v) => v.vanId === vanId);
    if (!van) throw new VanError('NOT_FOUND', `no van ${vanId}`);
    const m = await this.#must(id);
    if (!inScope(van, m.scope))
      throw new VanError('NOT_FOUND', `van ${vanId} is not in the scope of vpn migration ${id}`);
    return van;
  }

  async cancel(id: string, actor: string, reason: string): Promise<void> {
    const m = await this.#must(id);
    if (m.status !== 'active') throw new VanError('CONFLICT', `vpn migration ${id} is ${m.status}`);
    const now = this.now();
    await V.setMigrationStatus(this.db, id, 'cancelled', now);
    await V.recordEvent(this.db, { migrationId: id, at: now, actor, action: 'cancel', reason });
  }

  /** Hold: no further step for the van (a deployment already in flight finishes). */
  async hold(id: string, vanId: string, actor: string, reason: string): Promise<void> {
    await this.#must(id);
    const van = await this.#van(id, vanId);
    const now = this.now();
    await V.setVanRecord(this.db, id, van.deviceId, { hold: true, hold_reason: `${actor}: ${reason}` }, now);
    await V.recordEvent(this.db, { migrationId: id, deviceId: van.deviceId, at: now, actor, action: 'hold', reason });
  }

  /** Release: clear hold and rollback request, and forgive earlier failures (the van may be retried). */
  async release(id: string, vanId: string, actor: string, reason: string): Promise<void> {
    await this.#must(id);
    const van = await this.#van(id, vanId);
    const now = this.now();
    await V.setVanRecord(
      this.db,
      id,
      van.deviceId,
      { hold: false, hold_reason: null, reset_at: now, rollback: null },
      now,
    );
    await V.recordEvent(this.db, {
      migrationId: id,
      deviceId: van.deviceId,
      at: now,
      actor,
      action: 'release',
      reason,
    });
  }

  /** Roll a van back one step (what that means per step: `decideRollback`); the van is held. */
  async rollback(id: string, vanId: string, actor: string, reason: string): Promise<{ kind: string; detail: string }> {
    const m = await this.#must(id);
    if (m.status !== 'active') throw new VanError('CONFLICT', `vpn migration ${id} is ${m.status}`);
    const van = await this.#van(id, vanId);
    const attempts = attemptsByDevice(await V.loadDeployments(this.db, id)).get(van.deviceId) ?? [];
    const d = decideRollback(
      van,
      attempts.some((a) => a.status === undefined),
    );
    if (!d.ok) throw new VanError('CONFLICT', d.reason);
    const now = this.now();
    await V.setVanRecord(
      this.db,
      id,
      van.deviceId,
      {
        hold: true,
        hold_reason: `rolled back by ${actor}: ${reason}`,
        rollback: { kind: d.kind, step: d.step, requestedAt: now, detail: d.detail },
      },
      now,
    );
    await V.recordEvent(this.db, {
      migrationId: id,
      deviceId: van.deviceId,
      at: now,
      actor,
      action: 'rollback',
      reason,
      detail: { kind: d.kind, step: d.step, detail: d.detail },
    });
    return { kind: d.kind, detail: d.detail };
  }
}
