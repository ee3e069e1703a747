// The bridge's PostgreSQL pool when the server ends an idle connection (a restart, a failover, an admin's
// pg_terminate_backend): node-postgres emits an 'error' on the pool for it, which, unhandled, crashes the
// process. bridge/store/db.ts handles it (reported through onIdleConnectionError) and the next query
// opens a new connection. Real PostgreSQL, a real terminated backend.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openFleetDb } from '../../../bridge/store/db.js';
import { PG_URL } from '../../helpers/fleet-db.js';

describe('PostgreSQL: an idle pooled connection ended by the server', () => {
  it('is reported, not fatal; the next query works on a new connection', async () => {
    const app = `vc-idle-${randomBytes(4).toString('hex')}`;
    const url = new URL(PG_URL);
    url.searchParams.set('application_name', app);
    const ended: string[] = [];
    const fleet = await openFleetDb(url.toString(), {
      poolSize: 1,
      onIdleConnectionError: (e) => ended.push(e.message),
    });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const pid = async () =>
        (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(fleet.db)).rows[0]!.pid;
      const first = await pid();
      // The connection is idle in the pool now; the server ends it.
      const killed = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [first]);
      expect(killed.rows[0]?.ok).toBe(true);
      await expect.poll(() => ended.length, { timeout: 5000 }).toBe(1);
      expect(ended[0]).toMatch(/terminating connection due to administrator command/);
      const second = await pid();
      expect(second).not.toBe(first);
    } finally {
      await admin.end();
      await fleet.close();
    }
  });
});
