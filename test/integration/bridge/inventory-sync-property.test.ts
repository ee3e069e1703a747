// Issue #16 "done when": 10,000 random inventories (arbitrary Unicode including NUL, control characters
// and lone surrogates, huge values, floods of attributes) through the sync's processing path
// (parseInventory → FleetStore.applyInventory, what runSync does with every device page) on SQLite AND
// PostgreSQL: no crash, the good van of every batch is always in the fleet report, and every dropped
// attribute is counted in the quarantine.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetReport, listVans } from '../../../bridge/store/reports.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const BATCH = 50;
const RUNS = 200; // × BATCH = 10,000 inventories per backend

const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({
    unit: fc.constantFrom('\u0000', '\u001b', '\u009b', '\u202e', '\ud800', '\udfff', 'a', '='),
    maxLength: 32,
  }),
  fc.constantFrom('x'.repeat(5000), 'é'.repeat(4096), '\u0000'.repeat(10)),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  hostileText,
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileText, { maxLength: 5 }),
  fc.object({ maxDepth: 1 }),
);
const attribute = fc.record({
  name: fc.oneof(
    hostileText,
    fc.constantFrom(
      'vancore.van_id',
      'vancore.gate.reason',
      'vancore.gate.state',
      'vancore.platform.version',
      'cpu_model',
    ),
  ),
  value,
  scope: fc.constantFrom('inventory', 'identity', 'system', 'tags', 'inv\u0000', 'monitor'),
});
// Mostly small inventories, sometimes a flood (600–1,200 attributes).
const inventory = fc.oneof(
  { weight: 20, arbitrary: fc.array(attribute, { maxLength: 12 }) },
  { weight: 1, arbitrary: fc.array(attribute, { minLength: 600, maxLength: 1200 }) },
);

describe.each(backends)('10,000 random inventories at the sync on %s (issue #16)', (backend) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(backend);
  });
  afterAll(async () => t.dispose());

  it('no crash, the good van always present, every dropped attribute counted', async () => {
    let inventories = 0;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(inventory, { minLength: BATCH - 1, maxLength: BATCH - 1 }), async (batch) => {
        run++;
        const now = new Date().toISOString();
        const snaps = [
          {
            deviceId: `good-${run}`,
            authStatus: 'accepted',
            checkInTime: now,
            inventory: parseInventory(
              attrs({ 'vancore.van_id': `van-good-${run}`, 'vancore.platform.version': '1.0.0' }),
            ),
          },
          ...batch.map((a, i) => ({ deviceId: `r${run}-${i}`, authStatus: 'accepted', inventory: parseInventory(a) })),
        ];
        const before = await t.store.quarantineTotal();
        const r = await t.store.applyInventory(snaps, now);
        inventories += snaps.length;
        expect(r.vans).toBe(BATCH);
        const dropped = snaps.reduce((n, s) => n + s.inventory.dropped.length, 0);
        expect(r.quarantined).toBe(dropped);
        expect((await t.store.quarantineTotal()) - before).toBe(dropped);
        const { items } = await listVans(t.store.db, {}, { page: 1, perPage: 1 }, undefined);
        expect(items.length).toBe(1);
        const good = await t.store.db
          .selectFrom('vans')
          .select('van_id')
          .where('device_id', '=', `good-${run}`)
          .executeTakeFirst();
        expect(good?.van_id).toBe(`van-good-${run}`);
      }),
      { numRuns: RUNS, seed: 16_2026 },
    );
    expect(inventories).toBe(RUNS * BATCH);
    const fleet = await fleetReport(t.store.db, new Date());
    expect(fleet.vans_total).toBe(RUNS * BATCH);
    expect(fleet.versions.platform?.find((v) => v.version === '1.0.0')?.vans).toBeGreaterThanOrEqual(RUNS);
  }, 300_000);
});
