// Versioned migrations, run by Kysely's Migrator on both dialects. Never edit a migration that has
// shipped; add the next one.
import {
  type ColumnDefinitionBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  sql,
} from 'kysely';
import { VanError } from '../../core/errors.js';
import { gateReasonCodes } from '../../core/gate-reason.js';
import { codesKey } from '../../core/reason-codes.js';
import type { DialectName } from './db.js';

function migrations(dialect: DialectName): Record<string, Migration> {
  const autoId = dialect === 'postgres' ? 'serial' : 'integer';
  const idColumn = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  const vanRef = (c: ColumnDefinitionBuilder) => c.notNull().references('vans.device_id').onDelete('cascade');
  return {
    '0001_fleet': {
      async up(db: Kysely<unknown>) {
        const index = (name: string, table: string, columns: string[]) =>
          db.schema.createIndex(name).on(table).columns(columns).execute();
        await db.schema
          .createTable('vans')
          .addColumn('device_id', 'text', (c) => c.primaryKey())
          .addColumn('van_id', 'text', (c) => c.notNull().unique())
          .addColumn('stage', 'text', (c) => c.notNull().defaultTo('fleet'))
          .addColumn('hold', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('excluded', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('auth_status', 'text')
          .addColumn('device_type', 'text')
          .addColumn('artifact_name', 'text')
          .addColumn('mender_group', 'text')
          .addColumn('tags_json', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('first_seen', 'text', (c) => c.notNull())
          .addColumn('last_check_in', 'text')
          .addColumn('inventory_updated_ts', 'text')
          .addColumn('gate_state', 'text')
          .addColumn('gate_phase', 'text')
          .addColumn('gate_reason', 'text')
          .addColumn('gate_since', 'text')
          .addColumn('vpn_state', 'text')
          .addColumn('vpn_step', 'text')
          .addColumn('disk_ok', 'integer')
          .addColumn('temp_ok', 'integer')
          .addColumn('signal_quality', 'real')
          .addColumn('battery_soc', 'real')
          .addColumn('shore_power', 'integer')
          .addColumn('last_update_status', 'text')
          .addColumn('decommissioned', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await index('vans_stage', 'vans', ['stage', 'van_id']);
        await index('vans_gate_state', 'vans', ['gate_state']);

        await db.schema
          .createTable('van_components')
          .addColumn('device_id', 'text', vanRef)
          .addColumn('component', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('van_components_pk', ['device_id', 'component'])
          .execute();
        await index('van_components_cv', 'van_components', ['component', 'version']);

        await db.schema
          .createTable('health_reports')
          .addColumn('id', autoId, idColumn)
          .addColumn('device_id', 'text', vanRef)
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('disk_ok', 'integer')
          .addColumn('temp_ok', 'integer')
          .addColumn('signal_quality', 'real')
          .addColumn('battery_soc', 'real')
          .addColumn('shore_power', 'integer')
          .addColumn('last_update_status', 'text')
          .execute();
        await index('health_reports_device_at', 'health_reports', ['device_id', 'at']);

        await db.schema
          .createTable('gate_history')
          .addColumn('id', autoId, idColumn)
          .addColumn('device_id', 'text', vanRef)
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('phase', 'text')
          .addColumn('reason', 'text')
          .addColumn('since', 'text')
          .addColumn('recorded_at', 'text', (c) => c.notNull())
          .execute();
        await index('gate_history_device', 'gate_history', ['device_id', 'recorded_at']);

        await db.schema
          .createTable('deployments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('artifact_name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created', 'text', (c) => c.notNull())
          .addColumn('finished', 'text')
          .addColumn('device_count', 'integer', (c) => c.notNull())
          .addColumn('max_devices', 'integer')
          .addColumn('stats_json', 'text')
          .addColumn('synced_at', 'text', (c) => c.notNull())
          .execute();
        await index('deployments_status', 'deployments', ['status']);

        await db.schema
          .createTable('deployment_devices')
          .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('started', 'text')
          .addColumn('finished', 'text')
          .addColumn('log_available', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_devices_pk', ['deployment_id', 'device_id'])
          .execute();
        await index('deployment_devices_device', 'deployment_devices', ['device_id', 'status']);

        await db.schema
          .createTable('quarantine')
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('count', 'integer', (c) => c.notNull())
          .addColumn('last_seen', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('quarantine_pk', ['device_id', 'scope', 'name'])
          .execute();

        await db.schema
          .createTable('artifacts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('component', 'text')
          .addColumn('version', 'text')
          .addColumn('requires_json', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('constraints_json', 'text')
          .addColumn('payload_type', 'text')
          .addColumn('sha256', 'text')
          .addColumn('device_types_json', 'text', (c) => c.notNull())
          .addColumn('size', 'integer')
          .addColumn('signed', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('modified', 'text')
          .addColumn('synced_at', 'text', (c) => c.notNull())
          .execute();
        await index('artifacts_cv', 'artifacts', ['component', 'version']);

        await db.schema
          .createTable('sync_state')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Releases and staged rollouts (issue #8): the rollout's own records; Mender knows nothing of waves.
    '0002_rollouts': {
      async up(db: Kysely<unknown>) {
        const index = (name: string, table: string, columns: string[]) =>
          db.schema.createIndex(name).on(table).columns(columns).execute();
        await db.schema
          .createTable('releases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('components_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('rollouts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('release', 'text', (c) => c.notNull().references('releases.name'))
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('pause_reason', 'text')
          .addColumn('settings_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await index('rollouts_status', 'rollouts', ['status']);
        await db.schema
          .createTable('rollout_waves')
          .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id').onDelete('cascade'))
          .addColumn('wave', 'integer', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('stage', 'text', (c) => c.notNull())
          .addColumn('device_ids_json', 'text', (c) => c.notNull())
          .addColumn('opened_at', 'text', (c) => c.notNull())
          .addColumn('closed_at', 'text')
          .addPrimaryKeyConstraint('rollout_waves_pk', ['rollout_id', 'wave'])
          .execute();
        await db.schema
          .createTable('rollout_deployments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id').onDelete('cascade'))
          .addColumn('wave', 'integer', (c) => c.notNull())
          .addColumn('component', 'text', (c) => c.notNull())
          .addColumn('artifact_name', 'text', (c) => c.notNull())
          .addColumn('device_ids_json', 'text', (c) => c.notNull())
          .addColumn('mender_id', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await index('rollout_deployments_rollout', 'rollout_deployments', ['rollout_id', 'wave']);
        await db.schema
          .createTable('rollout_outcomes')
          .addColumn('name', 'text', (c) => c.notNull().references('rollout_deployments.name').onDelete('cascade'))
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('rollout_outcomes_pk', ['name', 'device_id'])
          .execute();
        await db.schema
          .createTable('rollout_events')
          .addColumn('id', autoId, idColumn)
          .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id').onDelete('cascade'))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('detail_json', 'text')
          .execute();
        await index('rollout_events_rollout', 'rollout_events', ['rollout_id', 'id']);
      },
    },
    // The Tailscale → Headscale migration (issue #9, bridge side): per-van steps through Mender.
    '0003_vpn_migration': {
      async up(db: Kysely<unknown>) {
        const index = (name: string, table: string, columns: string[]) =>
          db.schema.createIndex(name).on(table).columns(columns).execute();
        const migRef = (c: ColumnDefinitionBuilder) => c.notNull().references('vpn_migrations.id').onDelete('cascade');
        await db.schema
          .createTable('vpn_migrations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('artifacts_json', 'text', (c) => c.notNull())
          .addColumn('settings_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('vpn_migration_vans')
          .addColumn('migration_id', 'text', migRef)
          .addColumn('device_id', 'text', vanRef)
          .addColumn('hold', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('hold_reason', 'text')
          .addColumn('reset_at', 'text')
          .addColumn('rollback_kind', 'text')
          .addColumn('rollback_step', 'text')
          .addColumn('rollback_requested_at', 'text')
          .addColumn('rollback_detail', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('vpn_migration_vans_pk', ['migration_id', 'device_id'])
          .execute();
        await db.schema
          .createTable('vpn_migration_deployments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('migration_id', 'text', migRef)
          .addColumn('batch', 'integer', (c) => c.notNull())
          .addColumn('step', 'text', (c) => c.notNull())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('artifact_name', 'text', (c) => c.notNull())
          .addColumn('device_ids_json', 'text', (c) => c.notNull())
          .addColumn('mender_id', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await index('vpn_migration_deployments_mig', 'vpn_migration_deployments', ['migration_id', 'batch']);
        await db.schema
          .createTable('vpn_migration_outcomes')
          .addColumn('name', 'text', (c) =>
            c.notNull().references('vpn_migration_deployments.name').onDelete('cascade'),
          )
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('vpn_migration_outcomes_pk', ['name', 'device_id'])
          .execute();
        await db.schema
          .createTable('vpn_migration_events')
          .addColumn('id', autoId, idColumn)
          .addColumn('migration_id', 'text', migRef)
          .addColumn('device_id', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('detail_json', 'text')
          .execute();
        await index('vpn_migration_events_mig', 'vpn_migration_events', ['migration_id', 'id']);
      },
    },
    // VPN migration, issue #9: the step a `vancore-vpn` artifact's meta-data records, and a migration's scope.
    '0004_vpn_step_and_scope': {
      async up(db: Kysely<unknown>) {
        // Filled by the sync's artifact upsert, also for artifacts known before this column existed.
        await db.schema.alterTable('artifacts').addColumn('vpn_step', 'text').execute();
        await db.schema.alterTable('vpn_migrations').addColumn('scope_json', 'text').execute();
      },
    },
    // Issue #13: which Mender client the van runs (`vancore.client`, e.g. `mender-update/5.1.0`).
    '0005_van_client': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('vans').addColumn('client', 'text').execute();
      },
    },
    // Issue #16 item 4: a van id taken over by a replacement hub is an entry in the van's timeline.
    // No foreign key to vans: the old device's record may be gone, the entry stays.
    '0006_van_takeovers': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('van_takeovers')
          .addColumn('id', autoId, idColumn)
          .addColumn('van_id', 'text', (c) => c.notNull())
          .addColumn('old_device_id', 'text', (c) => c.notNull())
          .addColumn('new_device_id', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('van_takeovers_van').on('van_takeovers').columns(['van_id', 'id']).execute();
      },
    },
    // Issue #15: why a van waits as codes — the gate's reason codes in their own columns, filled for
    // the records already stored from the codes at the head of their reason lines.
    '0007_gate_codes': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('vans').addColumn('gate_codes', 'text').execute();
        await db.schema.alterTable('gate_history').addColumn('codes', 'text').execute();
        const t = db as unknown as Kysely<{
          vans: { device_id: string; gate_reason: string | null; gate_codes: string | null };
          gate_history: { id: number; reason: string | null; codes: string | null };
        }>;
        for (const r of await t
          .selectFrom('vans')
          .select(['device_id', 'gate_reason'])
          .where('gate_reason', 'is not', null)
          .execute())
          await t
            .updateTable('vans')
            .set({ gate_codes: r.gate_reason === null ? null : codesKey(gateReasonCodes(r.gate_reason)) })
            .where('device_id', '=', r.device_id)
            .execute();
        // History lines share few distinct reasons: one update per distinct line.
        const lines = await t.selectFrom('gate_history').select('reason').distinct().execute();
        for (const { reason } of lines)
          await t
            .updateTable('gate_history')
            .set({ codes: reason === null ? null : codesKey(gateReasonCodes(reason)) })
            .where((eb) => (reason === null ? eb('reason', 'is', null) : eb('reason', '=', reason)))
            .execute();
      },
    },
    // Issue #15 item 3: one deployment tracker. The per-owner copies (rollout_* and vpn_migration_*
    // deployments, outcomes, events) become tables keyed by owner; every row moves, then the old tables go.
    '0008_deployment_tracker': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tracked_deployments')
          .addColumn('id', autoId, idColumn)
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('owner_kind', 'text', (c) => c.notNull())
          .addColumn('owner_id', 'text', (c) => c.notNull())
          .addColumn('round', 'integer', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('artifact_name', 'text', (c) => c.notNull())
          .addColumn('device_ids_json', 'text', (c) => c.notNull())
          .addColumn('mender_id', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('tracked_deployments_owner')
          .on('tracked_deployments')
          .columns(['owner_kind', 'owner_id', 'round'])
          .execute();
        await db.schema
          .createTable('tracked_outcomes')
          .addColumn('name', 'text', (c) => c.notNull().references('tracked_deployments.name').onDelete('cascade'))
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('tracked_outcomes_pk', ['name', 'device_id'])
          .execute();
        await db.schema
          .createTable('owner_events')
          .addColumn('owner_kind', 'text', (c) => c.notNull())
          .addColumn('id', 'integer', (c) => c.notNull())
          .addColumn('owner_id', 'text', (c) => c.notNull())
          .addColumn('device_id', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('detail_json', 'text')
          .addPrimaryKeyConstraint('owner_events_pk', ['owner_kind', 'id'])
          .execute();
        await db.schema
          .createIndex('owner_events_owner')
          .on('owner_events')
          .columns(['owner_kind', 'owner_id', 'id'])
          .execute();

        type Dep = {
          name: string;
          owner: string;
          round: number;
          subject: string;
          purpose: string;
          artifact_name: string;
          device_ids_json: string;
          mender_id: string | null;
          status: string;
          created_at: string;
          updated_at: string;
        };
        type Outcome = {
          name: string;
          device_id: string;
          status: string;
          finished_at: string | null;
          updated_at: string;
        };
        type Event = {
          id: number;
          owner: string;
          device_id: string | null;
          at: string;
          actor: string;
          action: string;
          reason: string | null;
          detail_json: string | null;
        };
        const t = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
        const all = async <R>(table: string, select: Record<string, string>) =>
          (await t
            .selectFrom(table)
            .select(Object.entries(select).map(([as, col]) => sql.ref(col).as(as)))
            .execute()) as R[];
        const insert = async (table: string, rows: Record<string, unknown>[]) => {
          // Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
          for (let i = 0; i < rows.length; i += 200)
            await t
              .insertInto(table)
              .values(rows.slice(i, i + 200))
              .execute();
        };
        const moves = [
          {
            kind: 'rollout',
            deployments: 'rollout_deployments',
            outcomes: 'rollout_outcomes',
            events: 'rollout_events',
            owner: 'rollout_id',
            round: 'wave',
            subject: 'component',
            purpose: null,
          },
          {
            kind: 'vpn',
            deployments: 'vpn_migration_deployments',
            outcomes: 'vpn_migration_outcomes',
            events: 'vpn_migration_events',
            owner: 'migration_id',
            round: 'batch',
            subject: 'step',
            purpose: 'purpose',
          },
        ] as const;
        for (const m of moves) {
          const deps = await all<Dep>(m.deployments, {
            name: 'name',
            owner: m.owner,
            round: m.round,
            subject: m.subject,
            ...(m.purpose ? { purpose: m.purpose } : {}),
            artifact_name: 'artifact_name',
            device_ids_json: 'device_ids_json',
            mender_id: 'mender_id',
            status: 'status',
            created_at: 'created_at',
            updated_at: 'updated_at',
          });
          // In the order they were read (the table's own order), stably by owner, round and creation: the new
          // ids keep ties of created_at in the order the former table returned them.
          const order = (d: Dep) => [d.owner, String(d.round).padStart(12, '0'), d.created_at].join('\u0000');
          const sorted = deps
            .map((d, i) => ({ d, i }))
            .sort((a, b) => (order(a.d) < order(b.d) ? -1 : order(a.d) > order(b.d) ? 1 : a.i - b.i))
            .map((x) => x.d);
          await insert(
            'tracked_deployments',
            sorted.map((d) => ({
              name: d.name,
              owner_kind: m.kind,
              owner_id: d.owner,
              round: d.round,
              subject: d.subject,
              purpose: d.purpose ?? 'forward',
              artifact_name: d.artifact_name,
              device_ids_json: d.device_ids_json,
              mender_id: d.mender_id,
              status: d.status,
              created_at: d.created_at,
              updated_at: d.updated_at,
            })),
          );
          await insert(
            'tracked_outcomes',
            await all<Outcome>(m.outcomes, {
              name: 'name',
              device_id: 'device_id',
              status: 'status',
              finished_at: 'finished_at',
              updated_at: 'updated_at',
            }),
          );
          const events = await all<Event>(m.events, {
            id: 'id',
            owner: m.owner,
            ...(m.kind === 'vpn' ? { device_id: 'device_id' } : {}),
            at: 'at',
            actor: 'actor',
            action: 'action',
            reason: 'reason',
            detail_json: 'detail_json',
          });
          await insert(
            'owner_events',
            events.map((e) => ({
              owner_kind: m.kind,
              id: e.id,
              owner_id: e.owner,
              device_id: e.device_id ?? null,
              at: e.at,
              actor: e.actor,
              action: e.action,
              reason: e.reason,
              detail_json: e.detail_json,
            })),
          );
        }
        // Nothing lost: the rows counted in the former tables are all in the new ones before those go.
        const count = async (table: string) =>
          Number(
            (
              await t
                .selectFrom(table)
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          );
        for (const [to, from] of [
          ['tracked_deployments', ['rollout_deployments', 'vpn_migration_deployments']],
          ['tracked_outcomes', ['rollout_outcomes', 'vpn_migration_outcomes']],
          ['owner_events', ['rollout_events', 'vpn_migration_events']],
        ] as const) {
          const before = (await count(from[0])) + (await count(from[1]));
          if ((await count(to)) !== before) throw new Error(`0008: ${from.join(' + ')} → ${to}: row counts differ`);
        }
        // Children first (outcomes reference deployments).
        for (const table of [
          'rollout_outcomes',
          'rollout_events',
          'rollout_deployments',
          'vpn_migration_outcomes',
          'vpn_migration_events',
          'vpn_migration_deployments',
        ])
          await db.schema.dropTable(table).execute();
      },
    },
    // Issue #20 items 1 and 2: a revert artifact's `vancore.revert_of` (the rollout's automatic revert finds
    // it by it), each van's post-commit soak as its inventory reports it, and one revert per rollout.
    '0009_revert_and_soak': {
      async up(db: Kysely<unknown>) {
        // Filled by the sync's artifact upsert, also for artifacts known before this column existed.
        await db.schema.alterTable('artifacts').addColumn('revert_of', 'text').execute();
        for (const column of ['soak_state', 'soak_reason', 'soak_artifact', 'soak_since'])
          await db.schema.alterTable('vans').addColumn(column, 'text').execute();
        await db.schema
          .createTable('rollout_reverts')
          .addColumn('rollout_id', 'text', (c) => c.primaryKey().references('rollouts.id').onDelete('cascade'))
          .addColumn('release', 'text', (c) => c.notNull())
          .addColumn('previous_release', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('started_by', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Issue #17 items 2 and 5: a layer-delta artifact's base version (`vancore.delta_of`), so rollouts send
    // it to the vans on that base; and each van's cellular data this month as its inventory reports it.
    '0010_data_ledger': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('artifacts').addColumn('delta_of', 'text').execute();
        await db.schema.alterTable('vans').addColumn('data_month', 'text').execute();
        // KiB, not bytes: an integer column holds 2 TiB of KiB on both backends.
        await db.schema.alterTable('vans').addColumn('data_month_kib', 'integer').execute();
      },
    },
  };
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: DialectName, schema?: string): Promise<string[]> {
  return migrate(db, dialect, schema, 'latest');
}

/** Up to and including `target` only (tests: a database as an earlier release left it). */
export async function migrateUpTo(
  db: Kysely<unknown>,
  dialect: DialectName,
  target: string,
  schema?: string,
): Promise<string[]> {
  return migrate(db, dialect, schema, target);
}

async function migrate(
  db: Kysely<unknown>,
  dialect: DialectName,
  schema: string | undefined,
  target: string,
): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations(dialect)) };
  // With a schema given, the migrator must look for its own tables there: its table check would
  // otherwise find another schema's migration tables in the same database.
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'vancore_migration',
    migrationLockTableName: 'vancore_migration_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await (target === 'latest' ? migrator.migrateToLatest() : migrator.migrateTo(target));
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '?';
    throw new VanError(
      'INTERNAL',
      `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
