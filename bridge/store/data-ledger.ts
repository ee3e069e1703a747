// Loads the data ledger's facts (bridge/rules/data-ledger.ts holds the rules): Mender's synced device
// deployments and artifacts, the vans' reported cellular bytes, and a rollout's tracked outcomes.
import type { Kysely } from 'kysely';
import {
  budgetVerdict,
  ledgerEntry,
  monthOf,
  monthTotals,
  waveLedger,
  type BudgetVerdict,
  type LedgerArtifact,
  type LedgerEntry,
  type WaveLedger,
} from '../rules/data-ledger.js';
import { jsonStrings } from '../lib/records.js';
import type { Database } from './schema.js';

export async function ledgerArtifacts(db: Kysely<Database>): Promise<LedgerArtifact[]> {
  const rows = await db.selectFrom('artifacts').select(['name', 'device_types_json', 'size', 'delta_of']).execute();
  return rows.map((r) => ({
    name: r.name,
    deviceTypes: jsonStrings(r.device_types_json),
    size: r.size === null ? null : Number(r.size),
    deltaOf: r.delta_of ?? null,
  }));
}

/** The cellular figure a van reported (`vans.data_month`, `vans.data_month_kib`). */
const reportedOf = (v: { data_month?: string | null; data_month_kib?: number | null }) => ({
  month: v.data_month ?? null,
  kib: v.data_month_kib === null || v.data_month_kib === undefined ? null : Number(v.data_month_kib),
});

/** The first instant of the month `now` is in (UTC), as stored timestamps are compared. */
const monthStart = (now: Date) => `${monthOf(now.toISOString())}-01T00:00:00`;

export interface VanData extends BudgetVerdict {
  van_id: string;
  device_id: string;
  /** Every device deployment Mender has for the van, newest first (at most 200), with its cost. */
  deployments: LedgerEntry[];
  /** All of them, not only this month's. */
  totals: { delivered: number; at_most: number; delta_delivered: number };
}

export async function vanData(
  db: Kysely<Database>,
  vanId: string,
  now: Date,
  budgetBytes: number | null,
): Promise<VanData | undefined> {
  const v = await db
    .selectFrom('vans')
    .select(['van_id', 'device_id', 'device_type', 'data_month', 'data_month_kib'])
    .where('van_id', '=', vanId)
    .executeTakeFirst();
  if (!v) return undefined;
  const rows = await db
    .selectFrom('deployment_devices')
    .innerJoin('deployments', 'deployments.id', 'deployment_devices.deployment_id')
    .select([
      'deployment_devices.deployment_id as deploymentId',
      'deployments.name as deployment',
      'deployments.artifact_name as artifactName',
      'deployment_devices.status as status',
      'deployment_devices.started as started',
      'deployment_devices.finished as finished',
      'deployments.created as created',
    ])
    .where('deployment_devices.device_id', '=', v.device_id)
    .orderBy('deployments.created', 'desc')
    .limit(200)
    .execute();
  const artifacts = await ledgerArtifacts(db);
  const entries = rows.map(({ created: _created, ...r }) => ledgerEntry(r, artifacts, v.device_type));
  const month = monthOf(now.toISOString());
  const verdict = budgetVerdict({
    month,
    budgetBytes,
    reported: reportedOf(v),
    ota: monthTotals(entries, month),
  });
  const totals = { delivered: 0, at_most: 0, delta_delivered: 0 };
  for (const e of entries) {
    if (e.count === 'delivered') totals.delivered += e.bytes;
    if (e.count === 'at_most') totals.at_most += e.bytes;
    if (e.count === 'delivered' && e.kind === 'delta') totals.delta_delivered += e.bytes;
  }
  return { van_id: v.van_id, device_id: v.device_id, ...verdict, deployments: entries, totals };
}

/** This month's budget verdict of every live van (for the attention report); empty without a budget. */
export async function monthVerdicts(
  db: Kysely<Database>,
  now: Date,
  budgetBytes: number | null,
): Promise<Map<string, BudgetVerdict>> {
  const out = new Map<string, BudgetVerdict>();
  if (budgetBytes === null) return out;
  const month = monthOf(now.toISOString());
  const vans = await db
    .selectFrom('vans')
    .select(['device_id', 'device_type', 'data_month', 'data_month_kib'])
    .where('decommissioned', '=', 0)
    .execute();
  const rows = await db
    .selectFrom('deployment_devices')
    .innerJoin('deployments', 'deployments.id', 'deployment_devices.deployment_id')
    .select([
      'deployment_devices.device_id as deviceId',
      'deployment_devices.deployment_id as deploymentId',
      'deployments.name as deployment',
      'deployments.artifact_name as artifactName',
      'deployment_devices.status as status',
      'deployment_devices.started as started',
      'deployment_devices.finished as finished',
    ])
    .where('deployment_devices.status', 'in', ['success', 'failure'])
    .where((eb) =>
      eb.or([
        eb('deployment_devices.finished', '>=', monthStart(now)),
        eb('deployment_devices.started', '>=', monthStart(now)),
      ]),
    )
    .execute();
  const artifacts = await ledgerArtifacts(db);
  const byDevice = new Map<string, typeof rows>();
  for (const r of rows) byDevice.set(r.deviceId, [...(byDevice.get(r.deviceId) ?? []), r]);
  for (const v of vans) {
    const entries = (byDevice.get(v.device_id) ?? []).map(({ deviceId: _d, ...r }) =>
      ledgerEntry(r, artifacts, v.device_type),
    );
    out.set(
      v.device_id,
      budgetVerdict({
        month,
        budgetBytes,
        reported: reportedOf(v),
        ota: monthTotals(entries, month),
      }),
    );
  }
  return out;
}

export interface RolloutData {
  rollout_id: string;
  waves: WaveLedger[];
  total: Omit<WaveLedger, 'wave'>;
}

/** Bytes per wave and in total of one rollout's tracked deployments (undefined: no such rollout). */
export async function rolloutData(db: Kysely<Database>, rolloutId: string): Promise<RolloutData | undefined> {
  const r = await db.selectFrom('rollouts').select('id').where('id', '=', rolloutId).executeTakeFirst();
  if (!r) return undefined;
  const deps = await db
    .selectFrom('tracked_deployments')
    .select(['name', 'round', 'artifact_name', 'device_ids_json'])
    .where('owner_kind', '=', 'rollout')
    .where('owner_id', '=', rolloutId)
    .execute();
  const outcomes = deps.length
    ? await db
        .selectFrom('tracked_outcomes')
        .select(['name', 'device_id', 'status'])
        .where(
          'name',
          'in',
          deps.map((d) => d.name),
        )
        .execute()
    : [];
  const types = new Map(
    (await db.selectFrom('vans').select(['device_id', 'device_type']).execute()).map((v) => [
      v.device_id,
      v.device_type,
    ]),
  );
  const status = new Map(outcomes.map((o) => [`${o.name}\u0000${o.device_id}`, o.status]));
  const rows: { wave: number; deviceId: string; deviceType: string | null; artifactName: string; status: string }[] =
    [];
  for (const d of deps) {
    for (const id of jsonStrings(d.device_ids_json))
      rows.push({
        wave: Number(d.round),
        deviceId: id,
        deviceType: types.get(id) ?? null,
        artifactName: d.artifact_name,
        status: status.get(`${d.name}\u0000${id}`) ?? 'pending',
      });
  }
  const artifacts = await ledgerArtifacts(db);
  // The total is the ledger of every wave as one: a van in two waves (a second round) counts once.
  const { wave: _all, ...total } = waveLedger(
    rows.map((x) => ({ ...x, wave: 0 })),
    artifacts,
  )[0] ?? { wave: 0, ...EMPTY_TOTAL };
  return { rollout_id: rolloutId, waves: waveLedger(rows, artifacts), total };
}

const EMPTY_TOTAL: Omit<WaveLedger, 'wave'> = {
  vans: 0,
  delta_vans: 0,
  full_vans: 0,
  delta_bytes: 0,
  full_bytes: 0,
  failed_bytes_at_most: 0,
  size_unknown: 0,
};
