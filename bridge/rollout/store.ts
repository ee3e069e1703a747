// Queries for releases and rollouts over the fleet store (both dialects). The controller senses through
// `loadFacts`; its deployments and audit trail are the tracker's (lib/deployment-tracker.ts, lib/owner-events.ts).
import type { Kysely } from 'kysely';
import { RolloutSettings as RolloutSettingsSchema } from '../../core/config/bridge-config.js';
import { VanError } from '../../core/errors.js';
import { type Stage, Stages } from '../store/fleet-store.js';
import type { Database } from '../store/schema.js';
import { type Owner, loadTracked } from '../lib/deployment-tracker.js';
import { ownerRecords } from '../lib/owner-records.js';
import { type NewOwnerEvent, listOwnerEvents, recordOwnerEvent } from '../lib/owner-events.js';
import { jsonObject, jsonStrings, parseJson } from '../lib/records.js';
import type { ReleaseReaching } from '../plan.js';
import type { DeploymentFacts, RolloutFacts, RolloutSettings, RolloutStatus, VanFacts, WaveFacts } from './planner.js';
import { type ArtifactFact, ReleaseComponent } from './release.js';
import type { RevertArtifact, RevertFacts } from './revert.js';
import { SoakStates } from '../../core/schemas/inventory.js';
import type { SoakState } from './soak-gate.js';

const CHUNK = 400;

export interface ReleaseRecord {
  name: string;
  components: ReleaseComponent[];
  created_at: string;
  created_by: string;
}

export interface RolloutRecord {
  id: string;
  release: string;
  status: RolloutStatus;
  pause_reason: string | null;
  settings: RolloutSettings;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  reason: string | null;
  detail: unknown;
}

export async function knownArtifacts(db: Kysely<Database>): Promise<ArtifactFact[]> {
  const rows = await db
    .selectFrom('artifacts')
    .select(['id', 'name', 'component', 'version', 'requires_json', 'delta_of'])
    .where('component', 'is not', null)
    .where('version', 'is not', null)
    // Revert artifacts carry a release's component and version too: never a release's own artifact.
    .where('revert_of', 'is', null)
    .execute();
  return rows.map((r) => {
    const req = parseJson(r.requires_json);
    const requires =
      req && typeof req === 'object' && !Array.isArray(req)
        ? Object.fromEntries(Object.entries(req).filter((e): e is [string, string] => typeof e[1] === 'string'))
        : {};
    return {
      id: r.id,
      name: r.name,
      component: r.component!,
      version: r.version!,
      requires,
      deltaOf: r.delta_of ?? null,
    };
  });
}

export async function insertRelease(db: Kysely<Database>, r: ReleaseRecord): Promise<void> {
  const exists = await db.selectFrom('releases').select('name').where('name', '=', r.name).executeTakeFirst();
  if (exists) throw new VanError('CONFLICT', `release ${r.name} exists (releases are immutable)`);
  await db
    .insertInto('releases')
    .values({
      name: r.name,
      components_json: JSON.stringify(r.components),
      created_at: r.created_at,
      created_by: r.created_by,
    })
    .execute();
}

function releaseOf(row: Database['releases']): ReleaseRecord {
  return {
    name: row.name,
    components: ReleaseComponent.array().parse(JSON.parse(row.components_json)),
    created_at: row.created_at,
    created_by: row.created_by,
  };
}

export async function getRelease(db: Kysely<Database>, name: string): Promise<ReleaseRecord | undefined> {
  const row = await db.selectFrom('releases').selectAll().where('name', '=', name).executeTakeFirst();
  return row && releaseOf(row);
}

export async function listReleases(db: Kysely<Database>): Promise<ReleaseRecord[]> {
  return (await db.selectFrom('releases').selectAll().orderBy('created_at', 'desc').execute()).map(releaseOf);
}

function rolloutOf(row: Database['rollouts']): RolloutRecord {
  return {
    id: row.id,
    release: row.release,
    status: row.status as RolloutStatus,
    pause_reason: row.pause_reason,
    settings: RolloutSettingsSchema.parse(JSON.parse(row.settings_json)),
    created_at: row.created_at,
    created_by: row.created_by,
    updated_at: row.updated_at,
  };
}

/** `getRollout(db, id)`, `listRollouts(db, status?)` (oldest first). */
export const { get: getRollout, list: listRollouts } = ownerRecords<'rollouts', RolloutRecord, RolloutStatus>(
  'rollouts',
  rolloutOf,
);

export async function insertRollout(db: Kysely<Database>, r: RolloutRecord): Promise<void> {
  await db
    .insertInto('rollouts')
    .values({
      id: r.id,
      release: r.release,
      status: r.status,
      pause_reason: r.pause_reason,
      settings_json: JSON.stringify(r.settings),
      created_at: r.created_at,
      created_by: r.created_by,
      updated_at: r.updated_at,
    })
    .execute();
}

export async function setRolloutStatus(
  db: Kysely<Database>,
  id: string,
  status: RolloutStatus,
  pauseReason: string | null,
  now: string,
): Promise<void> {
  await db
    .updateTable('rollouts')
    .set({ status, pause_reason: pauseReason, updated_at: now })
    .where('id', '=', id)
    .execute();
}

export async function recordEvent(
  db: Kysely<Database>,
  e: Omit<NewOwnerEvent, 'kind' | 'ownerId' | 'deviceId'> & { rolloutId: string },
): Promise<void> {
  const { rolloutId, ...rest } = e;
  await recordOwnerEvent(db, { kind: 'rollout', ownerId: rolloutId, ...rest });
}

export async function listEvents(db: Kysely<Database>, rolloutId: string, afterId = 0): Promise<AuditEvent[]> {
  return (await listOwnerEvents(db, 'rollout', rolloutId, afterId)).map(({ device_id: _, ...e }) => e);
}

export async function loadWaves(db: Kysely<Database>, rolloutId: string): Promise<WaveFacts[]> {
  const rows = await db
    .selectFrom('rollout_waves')
    .selectAll()
    .where('rollout_id', '=', rolloutId)
    .orderBy('wave')
    .execute();
  return rows.map((w) => ({
    wave: w.wave,
    label: w.label,
    stage: w.stage as Stage,
    deviceIds: jsonStrings(w.device_ids_json),
    openedAt: w.opened_at,
    closedAt: w.closed_at,
  }));
}

export interface StoredDeployment extends DeploymentFacts {
  menderId: string | null;
  artifactName: string;
}

export const rolloutOwner = (rolloutId: string): Owner => ({ kind: 'rollout', id: rolloutId });

/** The rollout's deployments (the tracker's records: round = wave, subject = component). */
export async function loadDeployments(db: Kysely<Database>, rolloutId: string): Promise<StoredDeployment[]> {
  return (await loadTracked(db, rolloutOwner(rolloutId))).map(({ round, subject, purpose: _, ...d }) => ({
    ...d,
    wave: round,
    component: subject,
  }));
}

/** Every van a rollout may target: accepted (or not yet known otherwise) and not decommissioned. */
export async function loadVans(db: Kysely<Database>): Promise<VanFacts[]> {
  const vans = await db
    .selectFrom('vans')
    .select([
      'device_id',
      'van_id',
      'stage',
      'hold',
      'excluded',
      'tags_json',
      'disk_ok',
      'temp_ok',
      'soak_state',
      'soak_artifact',
    ])
    .where('decommissioned', '=', 0)
    .where((eb) => eb.or([eb('auth_status', 'is', null), eb('auth_status', '=', 'accepted')]))
    .execute();
  const comps = await db.selectFrom('van_components').select(['device_id', 'component', 'version']).execute();
  const byVan = new Map<string, Record<string, string>>();
  for (const c of comps) {
    const m = byVan.get(c.device_id) ?? {};
    m[c.component] = c.version;
    byVan.set(c.device_id, m);
  }
  return vans.map((v) => {
    return {
      deviceId: v.device_id,
      vanId: v.van_id,
      stage: (Stages as readonly string[]).includes(v.stage) ? (v.stage as Stage) : 'fleet',
      hold: v.hold === 1,
      excluded: v.excluded === 1,
      tags: Object.fromEntries(
        Object.entries(jsonObject(v.tags_json)).filter((e): e is [string, string] => typeof e[1] === 'string'),
      ),
      components: byVan.get(v.device_id) ?? {},
      healthy: v.disk_ok !== 0 && v.temp_ok !== 0,
      ...soakOf(v),
    };
  });
}

/** The van's soak as reported (the gates judge whether it is about the release: soak-gate.ts). */
function soakOf(v: { soak_state?: string | null; soak_artifact?: string | null }): {
  soak?: SoakState;
  soakArtifact?: string;
} {
  const state = (SoakStates as readonly string[]).includes(v.soak_state ?? '') ? (v.soak_state as SoakState) : null;
  if (state === null) return {};
  return { soak: state, ...(v.soak_artifact ? { soakArtifact: v.soak_artifact } : {}) };
}

export async function loadFacts(db: Kysely<Database>, rolloutId: string, now: Date): Promise<RolloutFacts> {
  const r = await getRollout(db, rolloutId);
  if (!r) throw new VanError('NOT_FOUND', `no rollout ${rolloutId}`);
  const release = await getRelease(db, r.release);
  if (!release) throw new VanError('INTERNAL', `rollout ${rolloutId}: release ${r.release} is gone`);
  const acks = await db
    .selectFrom('owner_events')
    .select('detail_json')
    .where('owner_kind', '=', 'rollout')
    .where('owner_id', '=', rolloutId)
    .where('action', '=', 'resume')
    .execute();
  return {
    now,
    rolloutId,
    release: r.release,
    status: r.status,
    settings: r.settings,
    components: release.components,
    vans: await loadVans(db),
    waves: await loadWaves(db, rolloutId),
    deployments: await loadDeployments(db, rolloutId),
    acknowledgedWaves: acks.flatMap((a) => {
      const d = parseJson(a.detail_json) as { wave?: unknown } | null;
      return typeof d?.wave === 'number' ? [d.wave] : [];
    }),
  };
}

export async function setVanFlags(
  db: Kysely<Database>,
  deviceIds: string[],
  set: { stage?: Stage; hold?: boolean; excluded?: boolean },
  now: string,
): Promise<void> {
  const values = {
    ...(set.stage !== undefined ? { stage: set.stage } : {}),
    ...(set.hold !== undefined ? { hold: set.hold ? 1 : 0 } : {}),
    ...(set.excluded !== undefined ? { excluded: set.excluded ? 1 : 0 } : {}),
    updated_at: now,
  };
  for (let i = 0; i < deviceIds.length; i += CHUNK)
    await db
      .updateTable('vans')
      .set(values)
      .where('device_id', 'in', deviceIds.slice(i, i + CHUNK))
      .execute();
}

/** Which rollout's release reached a van (for its update plan); see `ReleaseReaching` in bridge/plan.ts. */
export async function releaseReaching(db: Kysely<Database>, deviceId: string): Promise<ReleaseReaching> {
  const rollouts = (await listRollouts(db)).sort((a, b) => b.created_at.localeCompare(a.created_at));
  if (rollouts.length === 0) return { kind: 'none' };
  // An aborted rollout's release is not a target (and does not bring back "newest artifacts" either).
  for (const r of rollouts.filter((x) => x.status !== 'aborted')) {
    const waves = await loadWaves(db, r.id);
    if (!waves.some((w) => w.deviceIds.includes(deviceId))) continue;
    const release = await getRelease(db, r.release);
    if (release)
      return { kind: 'release', name: release.name, artifactIds: release.components.map((c) => c.artifact_id) };
  }
  return { kind: 'not-reached' };
}

// ---- the automatic revert (revert.ts) ------------------------------------------------------------------

export interface RevertRecord {
  rollout_id: string;
  release: string;
  previous_release: string | null;
  status: 'active' | 'finished';
  reason: string;
  started_by: string;
  started_at: string;
  finished_at: string | null;
}

export const revertOwner = (rolloutId: string): Owner => ({ kind: 'revert', id: rolloutId });

export async function getRevert(db: Kysely<Database>, rolloutId: string): Promise<RevertRecord | undefined> {
  const r = await db.selectFrom('rollout_reverts').selectAll().where('rollout_id', '=', rolloutId).executeTakeFirst();
  return r && { ...r, status: r.status === 'finished' ? 'finished' : 'active' };
}

export async function listReverts(db: Kysely<Database>, status?: RevertRecord['status']): Promise<RevertRecord[]> {
  let q = db.selectFrom('rollout_reverts').selectAll();
  if (status) q = q.where('status', '=', status);
  return (await q.orderBy('started_at').execute()).map((r) => ({
    ...r,
    status: r.status === 'finished' ? 'finished' : 'active',
  }));
}

/**
 * Claims the rollout's revert: false when another request or replica claimed it first (the primary key
 * is the rollout, so exactly one claim lands on either backend).
 */
export async function insertRevert(db: Kysely<Database>, r: RevertRecord): Promise<boolean> {
  const res = await db
    .insertInto('rollout_reverts')
    .values({ ...r, updated_at: r.started_at })
    .onConflict((oc) => oc.column('rollout_id').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Names the release a waiting revert goes back to; false when it already had one (set meanwhile). */
export async function setRevertPrevious(
  db: Kysely<Database>,
  rolloutId: string,
  previous: string,
  now: string,
): Promise<boolean> {
  const res = await db
    .updateTable('rollout_reverts')
    .set({ previous_release: previous, updated_at: now })
    .where('rollout_id', '=', rolloutId)
    .where('previous_release', 'is', null)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function finishRevert(db: Kysely<Database>, rolloutId: string, now: string): Promise<void> {
  await db
    .updateTable('rollout_reverts')
    .set({ status: 'finished', finished_at: now, updated_at: now })
    .where('rollout_id', '=', rolloutId)
    .execute();
}

/** The release a revert goes back to: the newest rollout of another release that completed before this one started. */
export async function previousRelease(db: Kysely<Database>, rollout: RolloutRecord): Promise<string | null> {
  const before = (await listRollouts(db, 'completed'))
    .filter((r) => r.created_at < rollout.created_at && r.release !== rollout.release)
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  return before[0]?.release ?? null;
}

/** Synced revert artifacts (`vancore.revert_of` set). */
export async function revertArtifacts(db: Kysely<Database>): Promise<RevertArtifact[]> {
  const rows = await db
    .selectFrom('artifacts')
    .select(['name', 'component', 'version', 'revert_of'])
    .where('revert_of', 'is not', null)
    .where('component', 'is not', null)
    .where('version', 'is not', null)
    .execute();
  return rows.map((r) => ({ name: r.name, component: r.component!, version: r.version!, revertOf: r.revert_of! }));
}

export async function loadRevertFacts(
  db: Kysely<Database>,
  rollout: RolloutRecord,
  revert: Pick<RevertRecord, 'release' | 'previous_release'>,
  now: Date,
  vans?: VanFacts[],
): Promise<RevertFacts> {
  const release = await getRelease(db, revert.release);
  if (!release) throw new VanError('INTERNAL', `revert of ${rollout.id}: release ${revert.release} is gone`);
  const previous = revert.previous_release ? await getRelease(db, revert.previous_release) : undefined;
  return {
    now,
    rolloutId: rollout.id,
    settings: rollout.settings,
    release: { name: release.name, components: release.components },
    previous: previous ? { name: previous.name, components: previous.components } : null,
    vans: vans ?? (await loadVans(db)),
    rolloutDeployments: await loadDeployments(db, rollout.id),
    revertDeployments: (await loadTracked(db, revertOwner(rollout.id))).map(({ round, subject, purpose: _, ...d }) => ({
      ...d,
      wave: 0,
      round,
      component: subject,
    })),
    revertArtifacts: await revertArtifacts(db),
  };
}
