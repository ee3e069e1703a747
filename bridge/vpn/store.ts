// Queries for VPN migrations over the fleet store (both dialects). The controller senses through
// `loadFacts`; its deployments and audit trail are the tracker's (lib/deployment-tracker.ts, lib/owner-events.ts).
import type { Kysely } from 'kysely';
import * as z from 'zod';
import { VpnMigrationSettings } from '../../core/config/bridge-config.js';
import { VanError } from '../../core/errors.js';
import { Stages } from '../store/fleet-store.js';
import type { Database } from '../store/schema.js';
import { type Owner, loadTracked } from '../lib/deployment-tracker.js';
import { ownerRecords } from '../lib/owner-records.js';
import { type NewOwnerEvent, type OwnerEvent, listOwnerEvents, recordOwnerEvent } from '../lib/owner-events.js';
import { jsonObject } from '../lib/records.js';
import {
  type MigrationDeploymentFacts,
  type MigrationFacts,
  type MigrationSettings,
  type MigrationStatus,
  MigrationStatuses,
  MigrationSteps,
  type RollbackKind,
  type StepArtifacts,
  type VanMigrationFacts,
} from './planner.js';

export const StepArtifactsSchema = z.strictObject({
  add: z.string().min(1).max(256),
  verify: z.string().min(1).max(256),
  cutover: z.string().min(1).max(256),
  retire: z.string().min(1).max(256),
});

const VanIdText = z.string().min(1).max(64);

/** A migration's scope as ops give it (docs/vpn-migration.md "Scope"); every criterion given must hold. */
export const MigrationScopeSchema = z.strictObject({
  stages: z.array(z.enum(Stages)).min(1).optional(),
  tag: z.strictObject({ name: z.string().min(1).max(128), value: z.string().max(256) }).optional(),
  vans: z.array(VanIdText).min(1).max(100_000).optional(),
});

/** As stored and answered; a `MigrationScope` for the planner. */
export type StoredScope = z.infer<typeof MigrationScopeSchema>;

export interface MigrationRecord {
  id: string;
  status: MigrationStatus;
  artifacts: StepArtifacts;
  settings: MigrationSettings;
  /** null: every accepted van. */
  scope: StoredScope | null;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export type MigrationEvent = OwnerEvent;

function recordOf(row: Database['vpn_migrations']): MigrationRecord {
  return {
    id: row.id,
    status: z.enum(MigrationStatuses).parse(row.status),
    artifacts: StepArtifactsSchema.parse(JSON.parse(row.artifacts_json)),
    settings: VpnMigrationSettings.parse(JSON.parse(row.settings_json)),
    scope: row.scope_json === null ? null : MigrationScopeSchema.parse(JSON.parse(row.scope_json)),
    created_at: row.created_at,
    created_by: row.created_by,
    updated_at: row.updated_at,
  };
}

/** `getMigration(db, id)`, `listMigrations(db, status?)` (oldest first). */
export const { get: getMigration, list: listMigrations } = ownerRecords<
  'vpn_migrations',
  MigrationRecord,
  MigrationStatus
>('vpn_migrations', recordOf);

export async function insertMigration(db: Kysely<Database>, r: MigrationRecord): Promise<void> {
  await db
    .insertInto('vpn_migrations')
    .values({
      id: r.id,
      status: r.status,
      artifacts_json: JSON.stringify(r.artifacts),
      settings_json: JSON.stringify(r.settings),
      scope_json: r.scope === null ? null : JSON.stringify(r.scope),
      created_at: r.created_at,
      created_by: r.created_by,
      updated_at: r.updated_at,
    })
    .execute();
}

export async function setMigrationStatus(
  db: Kysely<Database>,
  id: string,
  status: MigrationStatus,
  now: string,
): Promise<void> {
  await db.updateTable('vpn_migrations').set({ status, updated_at: now }).where('id', '=', id).execute();
}

export async function recordEvent(
  db: Kysely<Database>,
  e: Omit<NewOwnerEvent, 'kind' | 'ownerId'> & { migrationId: string },
): Promise<void> {
  const { migrationId, ...rest } = e;
  await recordOwnerEvent(db, { kind: 'vpn', ownerId: migrationId, ...rest });
}

export async function listEvents(db: Kysely<Database>, migrationId: string): Promise<MigrationEvent[]> {
  return listOwnerEvents(db, 'vpn', migrationId);
}

export interface StoredMigrationDeployment extends MigrationDeploymentFacts {
  menderId: string | null;
  artifactName: string;
}

export const migrationOwner = (migrationId: string): Owner => ({ kind: 'vpn', id: migrationId });

/** The migration's deployments (the tracker's records: round = batch, subject = step), by batch and name. */
export async function loadDeployments(db: Kysely<Database>, migrationId: string): Promise<StoredMigrationDeployment[]> {
  const rows = (await loadTracked(db, migrationOwner(migrationId))).map(({ round, subject, purpose, ...d }) => ({
    ...d,
    batch: round,
    step: z.enum(MigrationSteps).parse(subject),
    purpose: purpose === 'rollback' ? ('rollback' as const) : ('forward' as const),
  }));
  return rows.sort((a, b) => a.batch - b.batch || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Vans a migration may target: accepted (or not yet known to auth) and not decommissioned. */
const eligible = (db: Kysely<Database>) =>
  db
    .selectFrom('vans')
    .where('decommissioned', '=', 0)
    .where((eb) => eb.or([eb('auth_status', 'is', null), eb('auth_status', '=', 'accepted')]));

/** What a new migration's scope is checked against. */
export async function eligibleVans(
  db: Kysely<Database>,
): Promise<Pick<VanMigrationFacts, 'vanId' | 'stage' | 'tags'>[]> {
  const rows = await eligible(db).select(['van_id', 'stage', 'tags_json']).execute();
  return rows.map((v) => ({ vanId: v.van_id, stage: v.stage, tags: jsonObject(v.tags_json) }));
}

/** Every van a migration may target, with ops' per-van records (its scope is applied by `scopedVans`). */
export async function loadVans(db: Kysely<Database>, migrationId: string): Promise<VanMigrationFacts[]> {
  const vans = await eligible(db)
    .select(['device_id', 'van_id', 'stage', 'tags_json', 'vpn_state', 'vpn_step'])
    .orderBy('van_id')
    .execute();
  const recs = new Map(
    (await db.selectFrom('vpn_migration_vans').selectAll().where('migration_id', '=', migrationId).execute()).map(
      (r) => [r.device_id, r],
    ),
  );
  return vans.map((v) => {
    const r = recs.get(v.device_id);
    const kind = z.enum(['redeploy', 'manual', 'nothing']).safeParse(r?.rollback_kind);
    const step = z.enum(MigrationSteps).safeParse(r?.rollback_step);
    return {
      deviceId: v.device_id,
      vanId: v.van_id,
      stage: v.stage,
      tags: jsonObject(v.tags_json),
      state: v.vpn_state,
      step: v.vpn_step,
      hold: r?.hold === 1,
      holdReason: r?.hold_reason ?? null,
      resetAt: r?.reset_at ?? null,
      rollback:
        kind.success && r?.rollback_requested_at
          ? {
              kind: kind.data,
              step: step.success ? step.data : null,
              requestedAt: r.rollback_requested_at,
              detail: r.rollback_detail ?? '',
            }
          : null,
    };
  });
}

export async function loadFacts(db: Kysely<Database>, migrationId: string, now: Date): Promise<MigrationFacts> {
  const m = await getMigration(db, migrationId);
  if (!m) throw new VanError('NOT_FOUND', `no vpn migration ${migrationId}`);
  return {
    now,
    migrationId,
    status: m.status,
    settings: m.settings,
    artifacts: m.artifacts,
    scope: m.scope,
    vans: await loadVans(db, migrationId),
    deployments: await loadDeployments(db, migrationId),
  };
}

/** Write ops' per-van record (created on first use). */
export async function setVanRecord(
  db: Kysely<Database>,
  migrationId: string,
  deviceId: string,
  set: {
    hold?: boolean;
    hold_reason?: string | null;
    reset_at?: string | null;
    rollback?: { kind: RollbackKind; step: string | null; requestedAt: string; detail: string } | null;
  },
  now: string,
): Promise<void> {
  const values = {
    ...(set.hold !== undefined ? { hold: set.hold ? 1 : 0 } : {}),
    ...(set.hold_reason !== undefined ? { hold_reason: set.hold_reason } : {}),
    ...(set.reset_at !== undefined ? { reset_at: set.reset_at } : {}),
    ...(set.rollback !== undefined
      ? {
          rollback_kind: set.rollback?.kind ?? null,
          rollback_step: set.rollback?.step ?? null,
          rollback_requested_at: set.rollback?.requestedAt ?? null,
          rollback_detail: set.rollback?.detail ?? null,
        }
      : {}),
    updated_at: now,
  };
  await db
    .insertInto('vpn_migration_vans')
    .values({ migration_id: migrationId, device_id: deviceId, hold: 0, ...values })
    .onConflict((oc) => oc.columns(['migration_id', 'device_id']).doUpdateSet(values))
    .execute();
}
