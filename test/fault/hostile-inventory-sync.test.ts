// Issue #16 fault cases through the real sync: the simulator (Mender's inventory API) holds a device whose
// gate reason carries a NUL and one with an oversized inventory; a full sync into PostgreSQL (which refuses
// NUL in text) and SQLite stores every van, quarantines the bad attributes, and counts them; a device
// whose row the database itself refuses is set aside while every other van of its page is stored.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../../bridge/sync/sync.js';
import { listVans } from '../../bridge/store/reports.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { SimDevice } from '../../mender-sim/testkit.js';
import { type Backend, type TestStore, backends, openTestStore } from '../helpers/fleet-db.js';

let sim: MenderSim;

beforeAll(async () => {
  sim = await startMenderSim({ autoAccept: true });
  const put = async (mac: string, inv: Record<string, string>) => {
    const d = new SimDevice(sim.url, { mac });
    await d.authenticate();
    await d.putInventory(inv);
  };
  await put('02:00:00:00:16:11', { 'vancore.van_id': 'van-good', 'vancore.platform.version': '1.0.0' });
  await put('02:00:00:00:16:12', {
    'vancore.van_id': 'van-nul',
    'vancore.platform.version': '1.0.0',
    'vancore.gate.state': 'deferred',
    'vancore.gate.reason': 'moving\u0000',
  });
  await put('02:00:00:00:16:13', {
    'vancore.van_id': 'van-big',
    'vancore.platform.version': '1.0.0',
    ...Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`junk_${i}`, 'j'.repeat(200)])),
  });
  await put('02:00:00:00:16:14', { 'vancore.van_id': 'van-poison', 'vancore.platform.version': '1.0.0' });
});

/**
 * A real database-side refusal of one device's row (a trigger, as a DBA's policy or an encoding rule
 * nobody foresaw would do): the database itself fails the page's transaction.
 */
async function refuseVan(t: TestStore, backend: Backend, vanId: string): Promise<void> {
  if (backend === 'postgres') {
    await sql
      .raw(
        `CREATE FUNCTION refuse_van() RETURNS trigger AS $$ BEGIN IF NEW.van_id = '${vanId}' THEN ` +
          `RAISE EXCEPTION 'van row refused by policy'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      )
      .execute(t.store.db);
    await sql
      .raw(`CREATE TRIGGER refuse_van BEFORE INSERT OR UPDATE ON vans FOR EACH ROW EXECUTE FUNCTION refuse_van()`)
      .execute(t.store.db);
  } else {
    for (const op of ['INSERT', 'UPDATE'])
      await sql
        .raw(
          `CREATE TRIGGER refuse_van_${op} BEFORE ${op} ON vans WHEN NEW.van_id = '${vanId}' ` +
            `BEGIN SELECT RAISE(ABORT, 'van row refused by policy'); END`,
        )
        .execute(t.store.db);
  }
}
afterAll(async () => sim.close());

describe.each(backends)('a full sync of hostile inventories into %s', (backend) => {
  it('stores every van, quarantines and counts the bad attributes', async () => {
    const t = await openTestStore(backend);
    try {
      const mender = MenderManagementClient.create({
        baseUrl: sim.url,
        auth: { kind: 'login', user: sim.user, password: sim.password },
        retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
      });
      const report = await runSync({ mender, store: t.store, now: () => new Date() }, 'full');
      expect(report.vans_applied).toBe(4);
      const { items } = await listVans(t.store.db, {}, { page: 1, perPage: 10 });
      expect(items.map((v) => v.van_id).sort()).toEqual(['van-big', 'van-good', 'van-nul', 'van-poison']);
      // The NUL reason, and one entry for van-big's attributes past the per-device limit.
      expect(report.attributes_quarantined).toBeGreaterThanOrEqual(2);
      expect(await t.store.quarantineTotal()).toBe(report.attributes_quarantined);
    } finally {
      await t.dispose();
    }
  }, 120_000);

  it('a device whose row the database refuses is set aside; every other van is stored', async () => {
    const t = await openTestStore(backend);
    try {
      await refuseVan(t, backend, 'van-poison');
      const mender = MenderManagementClient.create({
        baseUrl: sim.url,
        auth: { kind: 'login', user: sim.user, password: sim.password },
        retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
      });
      const report = await runSync({ mender, store: t.store, now: () => new Date() }, 'full');
      expect(report.vans_applied).toBe(3);
      const { items } = await listVans(t.store.db, {}, { page: 1, perPage: 10 });
      expect(items.map((v) => v.van_id).sort()).toEqual(['van-big', 'van-good', 'van-nul']);
      expect(await t.store.quarantinedRecords()).toMatchObject({ inventory_device: 1 });
      const row = await t.store.db
        .selectFrom('quarantine')
        .selectAll()
        .where('scope', '=', 'record:inventory_device')
        .executeTakeFirstOrThrow();
      expect(row.reason).toMatch(/^not stored: .*van row refused by policy/);
      // The next sync does the same, without failing: the refusal is counted, not fatal.
      await expect(runSync({ mender, store: t.store, now: () => new Date() }, 'full')).resolves.toMatchObject({
        vans_applied: 3,
      });
    } finally {
      await t.dispose();
    }
  }, 120_000);
});
