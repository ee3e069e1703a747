// Property: whatever devices put in their inventory, the sync's processing path (parseInventory →
// FleetStore.applyInventory) never throws, counts every attribute it drops, keeps every good value,
// and never lets garbage replace a good stored value.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryKeySchemas, parseInventory } from '../../../core/schemas/inventory.js';
import { type TestStore, openTestStore } from '../../helpers/fleet-db.js';

const goodValues: Record<string, fc.Arbitrary<string>> = {
  'vancore.health.battery_soc': fc.integer({ min: 0, max: 100 }).map(String),
  'vancore.health.signal_quality': fc.double({ min: 0, max: 1, noNaN: true }).map((n) => n.toFixed(2)),
  'vancore.gate.state': fc.constantFrom('open', 'deferred', 'blocked'),
  'vancore.platform.version': fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map(([a, b, c]) => `${a}.${b}.${c}`),
};
const keys = Object.keys(goodValues);

const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.double(),
  fc.constant(null),
  fc.object(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.string({ minLength: 300, maxLength: 5000 }),
  fc.constantFrom('NaN', '-1', '101', '1e400', 'true', '../../etc', 'v1.2', '1.2.3.4', 'DROP TABLE vans;'),
);

const attribute = fc.oneof(
  fc.constantFrom(...keys).chain((k) => goodValues[k]!.map((v) => ({ name: k, value: v, good: true }))),
  fc.constantFrom(...keys).chain((k) => garbage.map((v) => ({ name: k, value: v, good: false }))),
  fc
    .tuple(fc.string({ maxLength: 40 }), garbage)
    .map(([name, value]) => ({ name: `vancore.${name}`, value, good: false })),
  fc.tuple(fc.string({ maxLength: 40 }), garbage).map(([name, value]) => ({ name, value, good: false })),
  garbage.map((junk) => junk as { name: string; value: unknown; good: boolean }),
);

describe('inventory from devices is untrusted (property)', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore('sqlite');
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('never throws, counts drops, keeps good values, never overwrites good with garbage', async () => {
    let payloads = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(attribute, { maxLength: 12 }), { minLength: 1, maxLength: 10 }),
        async (batch) => {
          const before = await t.store.quarantineTotal();
          const snaps = batch.map((attrs, i) => ({ deviceId: `dev-${i}`, inventory: parseInventory(attrs) }));
          const stored = new Map<string, Record<string, unknown>>();
          for (const s of snaps)
            stored.set(
              s.deviceId,
              (await t.store.db
                .selectFrom('vans')
                .selectAll()
                .where('device_id', '=', s.deviceId)
                .executeTakeFirst()) ?? {},
            );
          const r = await t.store.applyInventory(snaps, new Date().toISOString());
          payloads += batch.length;
          const dropped = snaps.reduce((n, s) => n + s.inventory.dropped.length, 0);
          expect(r.quarantined).toBe(dropped);
          expect((await t.store.quarantineTotal()) - before).toBe(dropped);
          for (const [i, attrs] of batch.entries()) {
            const row = await t.store.db
              .selectFrom('vans')
              .selectAll()
              .where('device_id', '=', `dev-${i}`)
              .executeTakeFirstOrThrow();
            const prev = stored.get(`dev-${i}`)!;
            // The first occurrence of a key decides (later ones are dropped as duplicates): if it is good it
            // is stored, otherwise the stored value stays what it was.
            const named = (attrs as { name?: unknown }[]).filter(
              (a) => a && typeof a === 'object' && typeof a.name === 'string',
            );
            // "Good" is what the contract accepts: the generators' garbage sometimes is valid (0 is a fine SOC).
            const first = (key: keyof typeof InventoryKeySchemas) => {
              const a = named.find((x) => x.name === key) as { value: unknown } | undefined;
              const parsed = a ? InventoryKeySchemas[key].safeParse(a.value) : undefined;
              return parsed?.success ? { value: parsed.data } : undefined;
            };
            const soc = first('vancore.health.battery_soc');
            expect(row.battery_soc).toBe(soc ? soc.value : (prev.battery_soc ?? null));
            const gate = first('vancore.gate.state');
            expect(row.gate_state).toBe(gate ? gate.value : (prev.gate_state ?? null));
          }
        },
      ),
      { numRuns: 300, seed: 20261122 },
    );
    expect(payloads).toBeGreaterThan(1000);
  });
});
