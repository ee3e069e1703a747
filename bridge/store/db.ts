// Opens the fleet database: `sqlite:<file>` (default; WAL, one writer) or `postgres://…` (several
// bridge replicas). The same Kysely query layer serves both; only DDL details differ (migrations.ts).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { VanError } from '../../core/errors.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface FleetDb {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Where it lives, without credentials (for logs and /readyz). */
  where: string;
  /** PostgreSQL schema the tables live in, when not the default search path. */
  schema?: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: use (and create) this schema, e.g. one per test so tests never share tables. */
  pgSchema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /**
   * PostgreSQL: an idle pooled connection the server ended (a restart, a failover, an admin's
   * pg_terminate_backend). The pool drops it and opens a new one at the next query; unhandled, node-postgres
   * would crash the process. Default: ignored.
   */
  onIdleConnectionError?: (e: Error) => void;
}

export function redactDbUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, '//$1@');
}

export async function openFleetDb(url: string, opts: OpenOptions = {}): Promise<FleetDb> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const path = file === ':memory:' ? file : resolve(file);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let sqlite: SQLite.Database;
    try {
      sqlite = new SQLite(path);
    } catch (e) {
      throw new VanError('CONFIG_INVALID', `cannot open SQLite database ${path}: ${(e as Error).message}`);
    }
    sqlite.pragma('journal_mode = WAL');
    // Another process (a CLI report) may hold a read lock for a moment; wait instead of failing.
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { db, dialect: 'sqlite', where: `sqlite:${path}`, close: () => db.destroy() };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const schema = opts.pgSchema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw new VanError('INPUT_INVALID', `bad PostgreSQL schema name ${schema}`);
    if (schema) {
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } catch (e) {
        throw new VanError('CONFIG_INVALID', `cannot connect to ${redactDbUrl(url)}: ${(e as Error).message}`);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    // search_path in the startup packet: every pooled connection gets it before its first query.
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on('error', (e) => opts.onIdleConnectionError?.(e));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      where: redactDbUrl(url) + (schema ? ` (schema ${schema})` : ''),
      ...(schema ? { schema } : {}),
      close: () => db.destroy(),
    };
  }
  throw new VanError('CONFIG_INVALID', `database url must be sqlite:<file> or postgres://…, got ${redactDbUrl(url)}`);
}
