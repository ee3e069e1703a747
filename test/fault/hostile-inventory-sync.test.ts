// Issue #16 fault cases through the real sync: the simulator (Mender's inventory API) holds a device whose
// gate reason carries a NUL and one with an oversized inventory; a full sync into PostgreSQL (which refuses
// NUL in text) and SQLite stores every van, quarantines the bad attributes, and counts them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../../bridge/sync/sync.js';
import { listVans } from '../../bridge/store/reports.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { SimDevice } from '../../mender-sim/testkit.js';
import { backends, openTestStore } from '../helpers/fleet-db.js';

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
});
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
      expect(report.vans_applied).toBe(3);
      const { items } = await listVans(t.store.db, {}, { page: 1, perPage: 10 });
      expect(items.map((v) => v.van_id).sort()).toEqual(['van-big', 'van-good', 'van-nul']);
      // The NUL reason, and one entry for van-big's attributes past the per-device limit.
      expect(report.attributes_quarantined).toBeGreaterThanOrEqual(2);
      expect(await t.store.quarantineTotal()).toBe(report.attributes_quarantined);
    } finally {
      await t.dispose();
    }
  }, 120_000);
});
