// Vitest global setup: one id per test run, its output-capture directory, and at the end of the run the PostgreSQL schemas that run's
// stores made are dropped (test/helpers/fleet-db.ts).
//
// Why not drop each schema when its test ends: Kysely's migrator checks for its table with an
// introspection query that scans every schema of the database and calls has_schema_privilege() /
// pg_get_serial_sequence() on each by name. A schema dropped by another test file in the same instant
// makes that query fail with `schema "t_…" does not exist` (seen once in a full run), so a concurrent
// test failed for another test's clean-up. Schemas are cheap; dropping them after the last test is not racy.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, RUN_ENV } from './fleet-db.js';
import { CAPTURE_ENV, CAPTURE_ROOT } from './output-capture.js';

export function setup(): void {
  process.env[RUN_ENV] = randomBytes(4).toString('hex');
  // The run's output capture (test/helpers/output-capture.ts), swept for secrets after the suite.
  const dir = join(CAPTURE_ROOT, process.env[RUN_ENV]);
  rmSync(CAPTURE_ROOT, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(CAPTURE_ROOT, 'latest'), `${dir}\n`);
  process.env[CAPTURE_ENV] = dir;
}

export async function teardown(): Promise<void> {
  const run = process.env[RUN_ENV];
  if (!run) return;
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
  } catch {
    return; // no PostgreSQL: the tests that needed it have failed with their own message.
  }
  try {
    const { rows } = await c.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [
      `t\\_${run}\\_%`,
    ]);
    for (const { nspname } of rows) await c.query(`DROP SCHEMA IF EXISTS ${nspname} CASCADE`);
  } finally {
    await c.end();
  }
}
