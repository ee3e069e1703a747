// The fleet records: one interface over SQLite and PostgreSQL (Kysely). Writes are batched — a sync
// hands over a page of devices at a time — so a 10,000-van fleet is a few dozen transactions, not
// tens of thousands of round trips.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { ParsedInventory } from '../../core/schemas/inventory.js';
import { type DialectName, type FleetDb } from './db.js';
import { migrateToLatest } from './migrations.js';
import { mergeVan } from './merge-van.js';
import { assignVanIds } from './van-ids.js';
import type { ArtifactsTable, Database, DeploymentDevicesTable, DeploymentsTable, VansTable } from './schema.js';

export const Stages = ['internal', 'pilot', 'fleet'] as const;
export type Stage = (typeof Stages)[number];

/** One device as the sync saw it: Mender's own facts plus the parsed (untrusted) inventory. */
export interface DeviceSnapshot {
  deviceId: string;
  authStatus?: string | undefined;
  checkInTime?: string | undefined;
  inventoryUpdatedTs?: string | undefined;
  inventory: ParsedInventory;
}

export interface ApplyResult {
  vans: number;
  created: number;
  quarantined: number;
}

const CHUNK = 400;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class FleetStore {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  readonly where: string;
  readonly #close: () => Promise<void>;
  readonly stageTag: string;
  readonly #schema: string | undefined;
  #version = 0;

  /** Grows on every write through this store: readers cache derived reports against it. */
  get version(): number {
    return this.#version;
  }

  constructor(fleet: FleetDb, options: { stageTag?: string } = {}) {
    this.db = fleet.db;
    this.#schema = fleet.schema;
    this.dialect = fleet.dialect;
    this.where = fleet.where;
    this.#close = () => fleet.close();
    this.stageTag = options.stageTag ?? 'vancore_stage';
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.db as unknown as Kysely<unknown>, this.dialect, this.#schema);
  }

  close(): Promise<void> {
    return this.#close();
  }

  /**
   * Apply a batch of device snapshots in one transaction. Only what a device reported (and what passed
   * the contract) overwrites stored values; dropped attributes are counted in `quarantine`. A van id
   * claimed by a second device is refused (quarantined) and the device keeps its previous id.
   */
  async applyInventory(snaps: DeviceSnapshot[], now: string): Promise<ApplyResult> {
    this.#version++;
    if (snaps.length === 0) return { vans: 0, created: 0, quarantined: 0 };
    return this.db.transaction().execute(async (trx) => {
      const ids = snaps.map((s) => s.deviceId);
      const existing = new Map<string, VansTable>();
      for (const part of chunks(ids))
        for (const row of await trx.selectFrom('vans').selectAll().where('device_id', 'in', part).execute())
          existing.set(row.device_id, row);

      const claimed = [
        ...new Set(snaps.map((s) => s.inventory.vancore.van_id).filter((v): v is string => v !== undefined)),
      ];
      const owners = new Map<string, string>();
      // A device Mender decommissioned or rejected gives its van id up to a replacement hub that
      // claims it (issue #16 item 4): its record keeps its history under its device id instead.
      const batchIds = new Set(ids);
      const released: string[] = [];
      const releasedBy = new Map<string, string>(); // van id → the device that gave it up
      for (const part of chunks(claimed))
        for (const row of await trx
          .selectFrom('vans')
          .select(['van_id', 'device_id', 'decommissioned', 'auth_status'])
          .where('van_id', 'in', part)
          .execute()) {
          const gone =
            row.decommissioned === 1 || row.auth_status === 'rejected' || row.auth_status === 'decommissioned';
          if (gone && !batchIds.has(row.device_id)) {
            released.push(row.device_id);
            releasedBy.set(row.van_id, row.device_id);
          } else owners.set(row.van_id, row.device_id);
        }
      for (const part of chunks(released))
        await trx
          .updateTable('vans')
          .set((eb) => ({ van_id: eb.ref('device_id'), updated_at: now }))
          .where('device_id', 'in', part)
          .execute();
      const vanIds = assignVanIds(
        snaps.map((s) => ({
          deviceId: s.deviceId,
          current: existing.get(s.deviceId)?.van_id,
          claim: s.inventory.vancore.van_id,
        })),
        (vanId) => owners.get(vanId),
      );
      // The takeover is an entry in the van's timeline (GET /vans/:id `takeovers`).
      const takeovers: Insertable<Database['van_takeovers']>[] = [];
      for (const [deviceId, a] of vanIds) {
        const old = a.refused ? undefined : releasedBy.get(a.vanId);
        if (old !== undefined && old !== deviceId)
          takeovers.push({ van_id: a.vanId, old_device_id: old, new_device_id: deviceId, at: now });
      }

      const installed = new Map<string, Map<string, string>>();
      for (const part of chunks(ids)) {
        for (const c of await trx
          .selectFrom('van_components')
          .select(['device_id', 'component', 'version'])
          .where('device_id', 'in', part)
          .execute()) {
          installed.set(
            c.device_id,
            (installed.get(c.device_id) ?? new Map<string, string>()).set(c.component, c.version),
          );
        }
      }
      const rows: VansTable[] = [];
      const quarantine: { device_id: string; scope: string; name: string; reason: string }[] = [];
      const components: { device_id: string; component: string; version: string; updated_at: string }[] = [];
      const health: Insertable<Database['health_reports']>[] = [];
      const gates: Insertable<Database['gate_history']>[] = [];
      let created = 0;

      for (const s of snaps) {
        const prev = existing.get(s.deviceId);
        const inv = s.inventory;
        for (const d of inv.dropped)
          quarantine.push({ device_id: s.deviceId, scope: d.scope, name: d.name, reason: d.reason });

        const assigned = vanIds.get(s.deviceId)!;
        const vanId = assigned.vanId;
        if (assigned.refused)
          quarantine.push({
            device_id: s.deviceId,
            scope: 'inventory',
            name: 'vancore.van_id',
            reason: assigned.refused,
          });
        if (!prev) created++;
        const tagStage = inv.tags[this.stageTag];
        const initialStage: Stage =
          typeof tagStage === 'string' && (Stages as readonly string[]).includes(tagStage)
            ? (tagStage as Stage)
            : 'fleet';
        const m = mergeVan(prev, { snapshot: s, vanId, initialStage }, installed.get(s.deviceId), now);
        if (m.changed) rows.push(m.row);
        for (const c of m.components) components.push({ device_id: s.deviceId, ...c, updated_at: now });
        if (m.health) health.push(m.health);
        if (m.gate) gates.push(m.gate);
      }

      const moving = rows
        .filter((r) => existing.has(r.device_id) && existing.get(r.device_id)!.van_id !== r.van_id)
        .map((r) => r.device_id);
      await this.#upsertVans(trx, rows, moving);
      for (const part of chunks(components)) {
        await trx
          .insertInto('van_components')
          .values(part)
          .onConflict((oc) =>
            oc.columns(['device_id', 'component']).doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      for (const part of chunks(health)) await trx.insertInto('health_reports').values(part).execute();
      for (const part of chunks(gates)) await trx.insertInto('gate_history').values(part).execute();
      for (const part of chunks(takeovers)) await trx.insertInto('van_takeovers').values(part).execute();
      for (const part of chunks(tally(quarantine))) {
        await trx
          .insertInto('quarantine')
          .values(part.map((q) => ({ ...q, last_seen: now })))
          .onConflict((oc) =>
            oc.columns(['device_id', 'scope', 'name']).doUpdateSet((eb) => ({
              count: eb('quarantine.count', '+', eb.ref('excluded.count')),
              reason: eb.ref('excluded.reason'),
              last_seen: eb.ref('excluded.last_seen'),
            })),
          )
          .execute();
      }
      return { vans: snaps.length, created, quarantined: quarantine.length };
    });
  }

  async #upsertVans(trx: Transaction<Database>, rows: VansTable[], moving: string[]): Promise<void> {
    // Van ids may move between devices inside one batch (swaps); park the rows whose id changes on
    // their device id first so the unique index never sees two devices with one van id mid-statement.
    for (const part of chunks(moving))
      await trx
        .updateTable('vans')
        .set((eb) => ({ van_id: eb.ref('device_id') }))
        .where('device_id', 'in', part)
        .execute();
    for (const part of chunks(rows, 200)) {
      await trx
        .insertInto('vans')
        .values(part)
        .onConflict((oc) =>
          oc.column('device_id').doUpdateSet((eb) => {
            const cols = Object.keys(part[0]!).filter(
              (c) => c !== 'device_id' && c !== 'first_seen',
            ) as (keyof VansTable)[];
            return Object.fromEntries(cols.map((c) => [c, eb.ref(`excluded.${c}`)]));
          }),
        )
        .execute();
    }
  }

  /** After a full resync: devices Mender no longer lists are marked decommissioned (history kept). */
  async markDecommissioned(presentDeviceIds: ReadonlySet<string>, now: string): Promise<number> {
    this.#version++;
    const all = await this.db.selectFrom('vans').select('device_id').where('decommissioned', '=', 0).execute();
    const gone = all.map((r) => r.device_id).filter((id) => !presentDeviceIds.has(id));
    for (const part of chunks(gone))
      await this.db
        .updateTable('vans')
        .set({ decommissioned: 1, updated_at: now })
        .where('device_id', 'in', part)
        .execute();
    return gone.length;
  }

  async upsertDeployments(rows: DeploymentsTable[]): Promise<void> {
    this.#version++;
    for (const part of chunks(rows, 200)) {
      await this.db
        .insertInto('deployments')
        .values(part)
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            finished: eb.ref('excluded.finished'),
            device_count: eb.ref('excluded.device_count'),
            max_devices: eb.ref('excluded.max_devices'),
            stats_json: eb.ref('excluded.stats_json'),
            synced_at: eb.ref('excluded.synced_at'),
          })),
        )
        .execute();
    }
  }

  async upsertDeploymentDevices(rows: DeploymentDevicesTable[]): Promise<void> {
    this.#version++;
    for (const part of chunks(rows)) {
      await this.db
        .insertInto('deployment_devices')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['deployment_id', 'device_id']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            started: eb.ref('excluded.started'),
            finished: eb.ref('excluded.finished'),
            log_available: eb.ref('excluded.log_available'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    }
  }

  /** Refresh auth status and last check-in of devices whose inventory did not change. */
  async updateAuth(
    rows: { deviceId: string; status: string; checkIn?: string | undefined }[],
    now: string,
  ): Promise<void> {
    this.#version++;
    if (rows.length === 0) return;
    const current = new Map<string, { auth_status: string | null; last_check_in: string | null }>();
    for (const part of chunks(rows.map((r) => r.deviceId))) {
      for (const row of await this.db
        .selectFrom('vans')
        .select(['device_id', 'auth_status', 'last_check_in'])
        .where('device_id', 'in', part)
        .execute())
        current.set(row.device_id, row);
    }
    const changed = rows.filter((r) => {
      const c = current.get(r.deviceId);
      return (
        c !== undefined && (c.auth_status !== r.status || (r.checkIn !== undefined && c.last_check_in !== r.checkIn))
      );
    });
    if (changed.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const r of changed) {
        await trx
          .updateTable('vans')
          .set({ auth_status: r.status, ...(r.checkIn ? { last_check_in: r.checkIn } : {}), updated_at: now })
          .where('device_id', '=', r.deviceId)
          .execute();
      }
    });
  }

  /** Status of every known deployment, to tell which ones still need their device lists read. */
  async deploymentStatuses(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('deployments').select(['id', 'status']).execute();
    return new Map(rows.map((r) => [r.id, r.status]));
  }

  async upsertArtifacts(rows: ArtifactsTable[]): Promise<void> {
    this.#version++;
    for (const part of chunks(rows, 200)) {
      await this.db
        .insertInto('artifacts')
        .values(part)
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            requires_json: eb.ref('excluded.requires_json'),
            constraints_json: eb.ref('excluded.constraints_json'),
            payload_type: eb.ref('excluded.payload_type'),
            vpn_step: eb.ref('excluded.vpn_step'),
            delta_of: eb.ref('excluded.delta_of'),
            revert_of: eb.ref('excluded.revert_of'),
            device_types_json: eb.ref('excluded.device_types_json'),
            size: eb.ref('excluded.size'),
            signed: eb.ref('excluded.signed'),
            modified: eb.ref('excluded.modified'),
            synced_at: eb.ref('excluded.synced_at'),
          })),
        )
        .execute();
    }
  }

  async setArtifactSha256(id: string, sha256: string): Promise<void> {
    this.#version++;
    await this.db.updateTable('artifacts').set({ sha256 }).where('id', '=', id).execute();
  }

  async getSyncState(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('sync_state').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  async setSyncState(key: string, value: string, now: string): Promise<void> {
    await this.db
      .insertInto('sync_state')
      .values({ key, value, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
      .execute();
  }

  async quarantineTotal(): Promise<number> {
    const r = await this.db
      .selectFrom('quarantine')
      .select((eb) => eb.fn.sum<number>('count').as('n'))
      .where('scope', 'not like', 'record:%')
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /**
   * Records Mender listed that did not fit their schema (an artifact, a deployment, a device): one
   * quarantine row per record, scope `record:<kind>`, keyed by the record's id, counted per sync.
   */
  async quarantineRecords(records: { kind: string; id?: string; reason: string }[], now: string): Promise<void> {
    this.#version++;
    if (records.length === 0) return;
    const rows = tally(
      records.map((r) => ({
        device_id: r.id ?? '?',
        scope: `record:${r.kind}`,
        name: r.kind,
        reason: r.reason.slice(0, 500),
      })),
    );
    for (const part of chunks(rows))
      await this.db
        .insertInto('quarantine')
        .values(part.map((q) => ({ ...q, last_seen: now })))
        .onConflict((oc) =>
          oc.columns(['device_id', 'scope', 'name']).doUpdateSet((eb) => ({
            count: eb('quarantine.count', '+', eb.ref('excluded.count')),
            reason: eb.ref('excluded.reason'),
            last_seen: eb.ref('excluded.last_seen'),
          })),
        )
        .execute();
  }

  /** Records set aside per kind (`artifact`, `deployment`, …), with their total count. */
  async quarantinedRecords(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('quarantine')
      .select(['name', (eb) => eb.fn.sum<number>('count').as('n')])
      .where('scope', 'like', 'record:%')
      .groupBy('name')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
  }

  /** Stored tags and Mender group of every van: what a reconcile sync compares Mender's inventory with. */
  async tagsAndGroups(): Promise<Map<string, { tags_json: string; mender_group: string | null }>> {
    const rows = await this.db.selectFrom('vans').select(['device_id', 'tags_json', 'mender_group']).execute();
    return new Map(rows.map((r) => [r.device_id, { tags_json: r.tags_json, mender_group: r.mender_group }]));
  }
}

/** One row per (device, scope, name), counting every occurrence: the same key can be dropped twice in one payload. */
function tally<T extends { device_id: string; scope: string; name: string }>(rows: T[]): (T & { count: number })[] {
  const seen = new Map<string, T & { count: number }>();
  for (const r of rows) {
    const k = `${r.device_id}\u0000${r.scope}\u0000${r.name}`;
    const prev = seen.get(k);
    seen.set(k, { ...r, count: (prev?.count ?? 0) + 1 });
  }
  return [...seen.values()];
}
