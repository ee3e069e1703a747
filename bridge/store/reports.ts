// Read side of the fleet records: the queries behind the reports API and `vancore-ota report`.
// Each takes the database and an explicit `now`, never reads a clock.
import { monthVerdicts } from './data-ledger.js';
import { type Kysely, sql } from 'kysely';
import { parseClientAttribute } from '../../core/schemas/client.js';
import { shownStatus } from '../lib/waiting.js';
import { attention, type AttentionFacts, type AttentionItem, type AttentionThresholds } from '../rules/attention.js';
import type { Database, VansTable } from './schema.js';
import { revertNotLanded } from '../rollout/revert.js';
import { getRollout, listReverts, loadRevertFacts, loadVans } from '../rollout/store.js';
import { formatReasonLine, parseCodes } from '../../core/reason-codes.js';

export interface VanFilter {
  stage?: string | undefined;
  component?: string | undefined;
  version?: string | undefined;
  gateState?: string | undefined;
  /** Only vans on (true) or off (false) the attention list. */
  needsAttention?: boolean | undefined;
  includeDecommissioned?: boolean | undefined;
  /** Van ids containing this text, case-insensitive. */
  search?: string | undefined;
}

/** Orders of the van list: a column, `-` first for descending. */
export const VanSorts = [
  'van_id',
  '-van_id',
  'stage',
  '-stage',
  'gate_state',
  '-gate_state',
  'gate_since',
  '-gate_since',
  'last_check_in',
  '-last_check_in',
] as const;
export type VanSort = (typeof VanSorts)[number];

// The attention rules and their types live in bridge/rules/attention.ts (pure); this module loads facts.
export {
  AttentionCodes,
  type AttentionCode,
  type AttentionItem,
  type AttentionThresholds,
} from '../rules/attention.js';

export interface VanSummary {
  van_id: string;
  device_id: string;
  stage: string;
  hold: boolean;
  device_type: string | null;
  artifact_name: string | null;
  auth_status: string | null;
  components: Record<string, string>;
  gate: { state: string | null; phase: string | null; reason: string | null; codes: string[]; since: string | null };
  health: {
    disk_ok: boolean | null;
    temp_ok: boolean | null;
    signal_quality: number | null;
    battery_soc: number | null;
    shore_power: boolean | null;
    last_update_status: string | null;
  };
  vpn: { state: string | null; step: string | null };
  client: { flavour: string; version: string; reported: string } | null;
  last_check_in: string | null;
  decommissioned: boolean;
}

function clientOf(reported: string | null): VanSummary['client'] {
  const info = reported ? parseClientAttribute(reported) : undefined;
  return info && reported ? { flavour: info.flavour, version: info.version, reported } : null;
}

/** Device statuses after which Mender asks nothing more of the van. */
const FINAL_DEVICE_STATUSES = new Set([
  'success',
  'failure',
  'aborted',
  'noartifact',
  'already-installed',
  'decommissioned',
]);

const bool = (v: number | null): boolean | null => (v === null ? null : v === 1);
const days = (n: number) => n * 86_400_000;

function summary(v: VansTable, components: Record<string, string>): VanSummary {
  return {
    van_id: v.van_id,
    device_id: v.device_id,
    stage: v.stage,
    hold: v.hold === 1,
    device_type: v.device_type,
    artifact_name: v.artifact_name,
    auth_status: v.auth_status,
    components,
    gate: {
      state: v.gate_state,
      phase: v.gate_phase,
      reason: v.gate_reason,
      codes: parseCodes(v.gate_codes),
      since: v.gate_since,
    },
    health: {
      disk_ok: bool(v.disk_ok),
      temp_ok: bool(v.temp_ok),
      signal_quality: v.signal_quality === null ? null : Number(v.signal_quality),
      battery_soc: v.battery_soc === null ? null : Number(v.battery_soc),
      shore_power: bool(v.shore_power),
      last_update_status: v.last_update_status,
    },
    vpn: { state: v.vpn_state, step: v.vpn_step },
    client: clientOf(v.client),
    last_check_in: v.last_check_in,
    decommissioned: v.decommissioned === 1,
  };
}

async function componentsOf(db: Kysely<Database>, deviceIds: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (let i = 0; i < deviceIds.length; i += 500) {
    const rows = await db
      .selectFrom('van_components')
      .select(['device_id', 'component', 'version'])
      .where('device_id', 'in', deviceIds.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(r.device_id, { ...out.get(r.device_id), [r.component]: r.version });
  }
  return out;
}

export async function listVans(
  db: Kysely<Database>,
  filter: VanFilter,
  page: { page: number; perPage: number; sort?: VanSort | undefined },
  attention?: ReadonlySet<string>,
): Promise<{ items: VanSummary[]; total: number }> {
  let q = db.selectFrom('vans');
  if (filter.search) {
    const like = `%${filter.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where(sql<boolean>`lower(vans.van_id) like ${like} escape '\\'`);
  }
  if (!filter.includeDecommissioned) q = q.where('vans.decommissioned', '=', 0);
  if (filter.stage) q = q.where('vans.stage', '=', filter.stage);
  if (filter.gateState) q = q.where('vans.gate_state', '=', filter.gateState);
  if (filter.component) {
    const { component, version } = filter;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('van_components')
          .select('van_components.device_id')
          .whereRef('van_components.device_id', '=', 'vans.device_id')
          .where('van_components.component', '=', component)
          .$if(version !== undefined, (sq) => sq.where('van_components.version', '=', version!)),
      ),
    );
  }
  if (filter.needsAttention !== undefined && attention) {
    const ids = [...attention];
    if (filter.needsAttention)
      q = ids.length ? q.where('vans.device_id', 'in', ids) : q.where('vans.device_id', '=', '\u0000none');
    else if (ids.length) q = q.where('vans.device_id', 'not in', ids);
  }
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const sort = page.sort ?? 'van_id';
  const column = sort.replace(/^-/, '') as 'van_id' | 'stage' | 'gate_state' | 'gate_since' | 'last_check_in';
  const rows = await q
    .selectAll('vans')
    .orderBy(`vans.${column}`, sort.startsWith('-') ? 'desc' : 'asc')
    .$if(column !== 'van_id', (o) => o.orderBy('vans.van_id'))
    .limit(page.perPage)
    .offset((page.page - 1) * page.perPage)
    .execute();
  const comps = await componentsOf(
    db,
    rows.map((r) => r.device_id),
  );
  return { items: rows.map((r) => summary(r, comps.get(r.device_id) ?? {})), total };
}

export interface VanDetail extends VanSummary {
  first_seen: string;
  mender_group: string | null;
  tags: Record<string, unknown>;
  health_history: {
    at: string;
    battery_soc: number | null;
    signal_quality: number | null;
    disk_ok: boolean | null;
    temp_ok: boolean | null;
    shore_power: boolean | null;
  }[];
  gate_history: {
    recorded_at: string;
    state: string;
    phase: string | null;
    reason: string | null;
    codes: string[];
    since: string | null;
  }[];
  updates: {
    deployment_id: string;
    deployment: string;
    artifact_name: string;
    /** Mender's status, or `waiting` (lib/waiting.ts). */
    status: string;
    mender_status: string;
    waiting?: { gate_state: string; reason: string | null };
    started: string | null;
    finished: string | null;
    log_available: boolean;
  }[];
  quarantined: { scope: string; name: string; reason: string; count: number; last_seen: string }[];
  /** Replacement hubs that took this van id over from a decommissioned/rejected device, newest first. */
  takeovers: { at: string; old_device_id: string; new_device_id: string }[];
  attention: AttentionItem[];
}

export async function getVan(
  db: Kysely<Database>,
  vanId: string,
  attention: AttentionItem[],
): Promise<VanDetail | undefined> {
  const v = await db.selectFrom('vans').selectAll().where('van_id', '=', vanId).executeTakeFirst();
  if (!v) return undefined;
  const comps = await componentsOf(db, [v.device_id]);
  const health = await db
    .selectFrom('health_reports')
    .selectAll()
    .where('device_id', '=', v.device_id)
    .orderBy('id', 'desc')
    .limit(20)
    .execute();
  const gates = await db
    .selectFrom('gate_history')
    .selectAll()
    .where('device_id', '=', v.device_id)
    .orderBy('id', 'desc')
    .limit(20)
    .execute();
  const updates = await db
    .selectFrom('deployment_devices')
    .innerJoin('deployments', 'deployments.id', 'deployment_devices.deployment_id')
    .select([
      'deployments.id as deployment_id',
      'deployments.name as deployment',
      'deployments.artifact_name',
      'deployment_devices.status',
      'deployment_devices.started',
      'deployment_devices.finished',
      'deployment_devices.log_available',
      'deployments.created',
    ])
    .where('deployment_devices.device_id', '=', v.device_id)
    .orderBy('deployments.created', 'desc')
    .limit(50)
    .execute();
  const quarantined = await db
    .selectFrom('quarantine')
    .select(['scope', 'name', 'reason', 'count', 'last_seen'])
    .where('device_id', '=', v.device_id)
    .orderBy('last_seen', 'desc')
    .execute();
  const takeovers = await db
    .selectFrom('van_takeovers')
    .select(['at', 'old_device_id', 'new_device_id'])
    .where('van_id', '=', vanId)
    .orderBy('id', 'desc')
    .limit(20)
    .execute();
  return {
    ...summary(v, comps.get(v.device_id) ?? {}),
    first_seen: v.first_seen,
    mender_group: v.mender_group,
    tags: JSON.parse(v.tags_json) as Record<string, unknown>,
    health_history: health.map((h) => ({
      at: h.at,
      battery_soc: h.battery_soc === null ? null : Number(h.battery_soc),
      signal_quality: h.signal_quality === null ? null : Number(h.signal_quality),
      disk_ok: bool(h.disk_ok),
      temp_ok: bool(h.temp_ok),
      shore_power: bool(h.shore_power),
    })),
    gate_history: gates.map((g) => ({
      recorded_at: g.recorded_at,
      state: g.state,
      phase: g.phase,
      reason: g.reason,
      codes: parseCodes(g.codes),
      since: g.since,
    })),
    updates: updates.map((u) => ({
      deployment_id: u.deployment_id,
      deployment: u.deployment,
      artifact_name: u.artifact_name,
      ...shownStatus(u.status, { state: v.gate_state, reason: v.gate_reason }),
      mender_status: u.status,
      started: u.started,
      finished: u.finished,
      log_available: u.log_available === 1,
    })),
    quarantined: quarantined.map((q) => ({ ...q, count: Number(q.count) })),
    takeovers,
    attention: attention.filter((a) => a.device_id === v.device_id),
  };
}

/** The facts every attention rule reads, loaded once (the rules are pure: bridge/rules/attention.ts). */
export async function loadAttentionFacts(
  db: Kysely<Database>,
  now: Date,
  dataBudgetBytes: number | null,
): Promise<AttentionFacts> {
  const vans = await db.selectFrom('vans').selectAll().where('decommissioned', '=', 0).execute();
  const failures = await db
    .selectFrom('deployment_devices')
    .innerJoin('deployments', 'deployments.id', 'deployment_devices.deployment_id')
    .select(['deployment_devices.device_id', 'deployments.artifact_name'])
    .where('deployment_devices.status', '=', 'failure')
    .execute();
  const manualVpnRollbacks = await db
    .selectFrom('vpn_migration_vans')
    .select(['device_id', 'migration_id', 'rollback_step', 'rollback_detail'])
    .where('rollback_kind', '=', 'manual')
    .execute();
  const downloading = await db
    .selectFrom('deployment_devices')
    .select(['device_id', 'started', 'deployment_id'])
    .where('status', '=', 'downloading')
    .execute();
  const rules = await db
    .selectFrom('artifacts')
    .select(['component', 'version', 'requires_json'])
    .where('component', 'is not', null)
    .execute();
  const requires = new Map(
    rules.map((r) => [`${r.component}@${r.version}`, JSON.parse(r.requires_json) as Record<string, string>]),
  );
  const components = await componentsOf(
    db,
    vans.map((v) => v.device_id),
  );
  const data = await monthVerdicts(db, now, dataBudgetBytes);
  const revertsNotLanded = [];
  const reverts = await listReverts(db);
  // The fleet's facts once for every revert, on the report's clock.
  const fleet = reverts.length > 0 ? await loadVans(db) : [];
  for (const rev of reverts) {
    const rollout = await getRollout(db, rev.rollout_id);
    if (!rollout) continue;
    const f = await loadRevertFacts(db, rollout, rev, now, fleet);
    for (const x of revertNotLanded(f, rev.status === 'finished'))
      revertsNotLanded.push({ device_id: x.deviceId, detail: x.detail });
  }
  return { vans, failures, downloading, manualVpnRollbacks, requires, components, data, revertsNotLanded };
}

/** Every rule of the attention report, over the whole (non-decommissioned) fleet. */
export async function attentionReport(
  db: Kysely<Database>,
  t: AttentionThresholds,
  now: Date,
): Promise<AttentionItem[]> {
  return attention(await loadAttentionFacts(db, now, t.data_budget_bytes ?? null), t, now);
}

export interface FleetReport {
  vans_total: number;
  by_stage: Record<string, number>;
  gate_states: Record<string, number>;
  versions: Record<string, { version: string; vans: number }[]>;
  outcomes: { day: string; success: number; failure: number; aborted: number; already_installed: number }[];
  /** Deferred vans grouped by their set of reason codes: one bucket per cause, whatever the words said. */
  deferral_reasons: { reason: string; codes: string[]; vans: number }[];
  updates_in_progress: Record<string, number>;
  deferral_codes: { code: string; vans: number }[];
  quarantined_attributes: number;
  quarantined_records: Record<string, number>;
}

export async function fleetReport(db: Kysely<Database>, now: Date, windowDays = 30): Promise<FleetReport> {
  const live = db.selectFrom('vans').where('decommissioned', '=', 0);
  const total = Number((await live.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const stages = await live
    .select(['stage', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('stage')
    .execute();
  const gates = await live
    .select(['gate_state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('gate_state')
    .execute();
  const versions = await db
    .selectFrom('van_components')
    .innerJoin('vans', 'vans.device_id', 'van_components.device_id')
    .where('vans.decommissioned', '=', 0)
    .select(['van_components.component', 'van_components.version', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['van_components.component', 'van_components.version'])
    .execute();
  const since = new Date(now.getTime() - days(windowDays)).toISOString();
  const finished = await db
    .selectFrom('deployment_devices')
    .select(['finished', 'status'])
    .where('finished', '>=', since)
    .execute();
  const reasons = await live
    .select(['gate_codes', (eb) => eb.fn.countAll<number>().as('n')])
    .where('gate_state', '=', 'deferred')
    .groupBy('gate_codes')
    .execute();
  const q = await db
    .selectFrom('quarantine')
    .select((eb) => eb.fn.sum<number>('count').as('n'))
    .where('scope', 'not like', 'record:%')
    .executeTakeFirst();
  const records = await db
    .selectFrom('quarantine')
    .select(['name', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('scope', 'like', 'record:%')
    .groupBy('name')
    .execute();
  // Open deployments' device statuses with the van's gate: a held van counts as waiting.
  const open = await db
    .selectFrom('deployment_devices')
    .innerJoin('deployments', 'deployments.id', 'deployment_devices.deployment_id')
    .innerJoin('vans', 'vans.device_id', 'deployment_devices.device_id')
    .select(['deployment_devices.status', 'vans.gate_state', 'vans.gate_reason'])
    .where('deployments.status', '!=', 'finished')
    .where('vans.decommissioned', '=', 0)
    .execute();
  const inProgress: Record<string, number> = {};
  for (const o of open) {
    if (FINAL_DEVICE_STATUSES.has(o.status)) continue;
    const shown = shownStatus(o.status, { state: o.gate_state, reason: o.gate_reason }).status;
    inProgress[shown] = (inProgress[shown] ?? 0) + 1;
  }

  const byVersion: FleetReport['versions'] = {};
  for (const r of versions) (byVersion[r.component] ??= []).push({ version: r.version, vans: Number(r.n) });
  for (const list of Object.values(byVersion))
    list.sort((a, b) => b.vans - a.vans || a.version.localeCompare(b.version));
  const perDay = new Map<string, FleetReport['outcomes'][number]>();
  for (const f of finished) {
    const day = (f.finished ?? '').slice(0, 10);
    const o = perDay.get(day) ?? { day, success: 0, failure: 0, aborted: 0, already_installed: 0 };
    if (f.status === 'success') o.success++;
    else if (f.status === 'failure') o.failure++;
    else if (f.status === 'aborted') o.aborted++;
    else if (f.status === 'already-installed') o.already_installed++;
    perDay.set(day, o);
  }
  const byCode = new Map<string, number>();
  const bucketCodes = (c: string | null) => (c === null ? ['none'] : parseCodes(c));
  for (const r of reasons)
    for (const code of bucketCodes(r.gate_codes)) byCode.set(code, (byCode.get(code) ?? 0) + Number(r.n));
  return {
    vans_total: total,
    by_stage: Object.fromEntries(stages.map((s) => [s.stage, Number(s.n)])),
    gate_states: Object.fromEntries(gates.map((g) => [g.gate_state ?? 'unknown', Number(g.n)])),
    versions: byVersion,
    outcomes: [...perDay.values()].sort((a, b) => a.day.localeCompare(b.day)),
    deferral_reasons: reasons
      .map((r) => {
        const codes = bucketCodes(r.gate_codes);
        return { reason: formatReasonLine(codes.map((code) => ({ code }))), codes, vans: Number(r.n) };
      })
      .sort((a, b) => b.vans - a.vans || a.reason.localeCompare(b.reason)),
    updates_in_progress: inProgress,
    deferral_codes: [...byCode]
      .map(([code, vans]) => ({ code, vans }))
      .sort((a, b) => b.vans - a.vans || a.code.localeCompare(b.code)),
    quarantined_attributes: Number(q?.n ?? 0),
    quarantined_records: Object.fromEntries(records.map((r) => [r.name, Number(r.n)])),
  };
}
