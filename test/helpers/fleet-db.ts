// Fleet stores for tests: a temp SQLite file, or a fresh schema in the machine's PostgreSQL
// (dropped afterwards), so the same suite runs on both and no test shares tables with another.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Kysely } from 'kysely';
import { type FleetDb, openFleetDb } from '../../bridge/store/db.js';
import { migrateUpTo } from '../../bridge/store/migrations.js';
import { FleetStore } from '../../bridge/store/fleet-store.js';

export const PG_URL = process.env.VANCORE_TEST_PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/test';

/** Set by the global setup (test/helpers/pg-global.ts): the schemas of a test run are dropped after it. */
export const RUN_ENV = 'VANCORE_TEST_RUN';

export interface TestStore {
  store: FleetStore;
  /** The url (and schema) another process would use to open the same database. */
  url: string;
  pgSchema?: string;
  dispose(): Promise<void>;
}

export const backends = ['sqlite', 'postgres'] as const;
export type Backend = (typeof backends)[number];

/**
 * `upTo`: migrate only up to and including that migration (a database as an earlier release left it);
 * `store.migrate()` then upgrades it the way a new release does.
 */
export async function openTestStore(backend: Backend, opts: { upTo?: string } = {}): Promise<TestStore> {
  const migrate = (store: FleetStore, fleet: FleetDb) =>
    opts.upTo === undefined
      ? store.migrate()
      : migrateUpTo(fleet.db as unknown as Kysely<unknown>, fleet.dialect, opts.upTo, fleet.schema);
  if (backend === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'vc-fleet-'));
    const url = `sqlite:${join(dir, 'fleet.db')}`;
    const fleet = await openFleetDb(url);
    const store = new FleetStore(fleet);
    await migrate(store, fleet);
    return { store, url, dispose: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
  }
  const run = process.env[RUN_ENV];
  const schema = `t_${run ? `${run}_` : ''}${randomBytes(6).toString('hex')}`;
  const fleet = await openFleetDb(PG_URL, { pgSchema: schema, poolSize: 4 });
  const store = new FleetStore(fleet);
  await migrate(store, fleet);
  return {
    store,
    url: PG_URL,
    pgSchema: schema,
    dispose: async () => {
      await store.close();
      // Inside a vitest run the global teardown drops the run's schemas (pg-global.ts says why not here).
      if (run) return;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
