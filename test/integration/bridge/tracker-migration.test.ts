// Migration 0008 (the deployment tracker, issue #15 item 3) on a database the previous release made: the
// fixture test/fixtures/db/previous-release.json holds every row that release's own code wrote driving the
// simulator and a virtual fleet through two rollouts and a VPN migration (generate-previous-release.ts,
// commit dba80cc), and what its status reads answered. Loaded into a database migrated only up to 0007,
// upgraded to the latest schema, every row is in the tracker's tables and every answer is the same, on
// SQLite and PostgreSQL.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { latestControllerTime } from '../../../bridge/lib/controller-loop.js';
import { rolloutStatus } from '../../../bridge/rollout/status.js';
import * as R from '../../../bridge/rollout/store.js';
import { migrationStatus } from '../../../bridge/vpn/status.js';
import * as V from '../../../bridge/vpn/store.js';
import { type Backend, type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

type Row = Record<string, unknown>;
interface Answers {
  status: unknown;
  deployments: unknown;
  events: unknown;
}
interface Fixture {
  made_by_commit: string;
  migrations: string[];
  now: string;
  rows: Record<string, Row[]>;
  answers: { rollouts: Record<string, Answers>; migrations: Record<string, Answers> };
}

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../fixtures/db/previous-release.json'), 'utf8'),
) as Fixture;
const PREVIOUS = fixture.migrations.at(-1)!;
const MOVED = [
  'rollout_deployments',
  'rollout_outcomes',
  'rollout_events',
  'vpn_migration_deployments',
  'vpn_migration_outcomes',
  'vpn_migration_events',
];
/** What an answer looks like on the wire (as the fixture stored it). */
const wire = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A database as the previous release left it: its migrations only, then every row of the fixture. */
async function previousRelease(backend: Backend): Promise<TestStore> {
  const t = await openTestStore(backend, { upTo: PREVIOUS });
  cleanup.push(() => t.dispose());
  const db = t.store.db as unknown as Kysely<Record<string, Row>>;
  // In the fixture's order: parents before children, and each table's rows in the order they were written.
  for (const [table, rows] of Object.entries(fixture.rows)) {
    for (let i = 0; i < rows.length; i += 100)
      await db
        .insertInto(table)
        .values(rows.slice(i, i + 100))
        .execute();
    // Rows came with their ids: PostgreSQL's sequences move past them, as they had in the real database.
    if (backend === 'postgres' && rows.length && 'id' in rows[0]! && typeof rows[0].id === 'number')
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select max(id) from ${sql.table(table)}))`.execute(
        db,
      );
  }
  return t;
}

const tablesOf = async (t: TestStore): Promise<string[]> => {
  if (t.store.dialect === 'postgres')
    return (
      await sql<{
        name: string;
      }>`select table_name as name from information_schema.tables where table_schema = ${t.pgSchema}`.execute(
        t.store.db,
      )
    ).rows.map((r) => r.name);
  return (
    await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(t.store.db)
  ).rows.map((r) => r.name);
};

describe.each(backends)('migration 0008: the deployment tracker, on a previous-release database (%s)', (backend) => {
  it('moves every rollout and VPN migration record, drops the former tables, and answers as before', async () => {
    expect(fixture.made_by_commit).toMatch(/^dba80cc/);
    expect(Object.keys(fixture.answers.rollouts).length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(fixture.answers.migrations).length).toBeGreaterThanOrEqual(1);
    for (const table of MOVED) expect(fixture.rows[table]!.length, table).toBeGreaterThan(0);

    const t = await previousRelease(backend);
    expect(await tablesOf(t)).toEqual(expect.arrayContaining(MOVED));
    // 0008 first (later migrations, e.g. 0009_revert_and_soak, follow it).
    expect((await t.store.migrate())[0]).toBe('0008_deployment_tracker');
    const tables = await tablesOf(t);
    for (const table of MOVED) expect(tables).not.toContain(table);
    const db = t.store.db;

    // Every row, field by field.
    const deployments = await db.selectFrom('tracked_deployments').selectAll().execute();
    const moved = (kind: string, rows: Row[], round: string, subject: string) =>
      rows.map((r) => ({
        name: r.name,
        owner_kind: kind,
        owner_id: r.rollout_id ?? r.migration_id,
        round: r[round],
        subject: r[subject],
        purpose: r.purpose ?? 'forward',
        artifact_name: r.artifact_name,
        device_ids_json: r.device_ids_json,
        mender_id: r.mender_id,
        status: r.status,
        created_at: r.created_at,
        updated_at: r.updated_at,
      }));
    const expected = [
      ...moved('rollout', fixture.rows.rollout_deployments!, 'wave', 'component'),
      ...moved('vpn', fixture.rows.vpn_migration_deployments!, 'batch', 'step'),
    ];
    const byName = (a: { name: unknown }, b: { name: unknown }) => String(a.name).localeCompare(String(b.name));
    expect(deployments.map(({ id: _, ...d }) => d).sort(byName)).toEqual(expected.sort(byName));
    const outcomes = await db.selectFrom('tracked_outcomes').selectAll().execute();
    const key = (o: Row) => `${String(o.name)}\u0000${String(o.device_id)}`;
    expect(outcomes.map(key).sort()).toEqual(
      [...fixture.rows.rollout_outcomes!, ...fixture.rows.vpn_migration_outcomes!].map(key).sort(),
    );
    const outcomeRows = new Map<string, Row>(outcomes.map((o) => [key(o), o]));
    for (const o of [...fixture.rows.rollout_outcomes!, ...fixture.rows.vpn_migration_outcomes!])
      expect(outcomeRows.get(key(o))).toEqual(o);
    const events = await db.selectFrom('owner_events').selectAll().orderBy('owner_kind').orderBy('id').execute();
    expect(events).toEqual([
      ...fixture.rows.rollout_events!.map(({ rollout_id, ...e }) => ({
        owner_kind: 'rollout',
        owner_id: rollout_id,
        device_id: null,
        ...e,
      })),
      ...fixture.rows.vpn_migration_events!.map(({ migration_id, ...e }) => ({
        owner_kind: 'vpn',
        owner_id: migration_id,
        ...e,
      })),
    ]);

    // The same answers as the previous release gave: status views (planner's next steps included), the
    // stored deployments and the audit trails.
    const now = new Date(fixture.now);
    for (const [id, a] of Object.entries(fixture.answers.rollouts)) {
      // The view gained `revert` (migration 0009) after the fixture was recorded: null for these rollouts.
      const { revert, ...view } = await rolloutStatus(db, id, now);
      expect(revert).toBeNull();
      expect(wire(view), `rollout ${id}`).toEqual(a.status);
      expect(wire(await R.loadDeployments(db, id))).toEqual(a.deployments);
      expect(wire(await R.listEvents(db, id))).toEqual(a.events);
    }
    for (const [id, a] of Object.entries(fixture.answers.migrations)) {
      expect(wire(await migrationStatus(db, id, now)), `vpn migration ${id}`).toEqual(a.status);
      expect(wire(await V.loadDeployments(db, id))).toEqual(a.deployments);
      expect(wire(await V.listEvents(db, id))).toEqual(a.events);
    }
    // A restarted bridge's accelerated clock resumes where the records end, as before.
    const times = [
      ...fixture.rows.rollouts!.map((r) => r.updated_at),
      ...fixture.rows.vpn_migrations!.map((r) => r.updated_at),
      ...MOVED.flatMap((table) => fixture.rows[table]!.map((r) => r.updated_at ?? r.at)),
    ].map((x) => Date.parse(String(x)));
    expect((await latestControllerTime(db))?.getTime()).toBe(Math.max(...times));

    // New records continue after the moved ones: the next event of each owner kind, the next deployment id.
    const [rolloutId] = Object.keys(fixture.answers.rollouts);
    const before = (await R.listEvents(db, rolloutId!)).at(-1)!.id;
    await R.recordEvent(db, { rolloutId: rolloutId!, at: fixture.now, actor: 'ops-dave', action: 'note' });
    const after = await R.listEvents(db, rolloutId!, before);
    expect(after.map((e) => [e.id, e.action])).toEqual([
      [Math.max(...fixture.rows.rollout_events!.map((e) => Number(e.id))) + 1, 'note'],
    ]);
    const [migrationId] = Object.keys(fixture.answers.migrations);
    await V.recordEvent(db, { migrationId: migrationId!, at: fixture.now, actor: 'ops-dave', action: 'note' });
    expect((await V.listEvents(db, migrationId!)).at(-1)).toMatchObject({
      id: Math.max(...fixture.rows.vpn_migration_events!.map((e) => Number(e.id))) + 1,
      action: 'note',
    });
  });
});
