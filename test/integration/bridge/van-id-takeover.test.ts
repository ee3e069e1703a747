// Issue #16 item 4: a replacement hub takes over its van id once the old device is decommissioned or
// rejected in Mender. Before, the new device was refused ("already used by device …") for good and
// GET /vans/:id kept showing the old one. Both databases (van_id is unique in the fleet records).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getVan } from '../../../bridge/store/reports.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const T1 = '2026-11-22T10:00:00.000Z';
const T2 = '2026-11-23T10:00:00.000Z';
const hub = (deviceId: string, authStatus: string) => ({
  deviceId,
  authStatus,
  checkInTime: T1,
  inventory: parseInventory(attrs({ 'vancore.van_id': 'van-381', 'vancore.platform.version': '0.9.2' })),
});

describe.each(backends)('van id takeover on %s', (backend) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(backend);
    await t.store.applyInventory([hub('old-hub', 'accepted')], T1);
  });
  afterEach(async () => t.dispose());

  it('while the old hub is accepted, the new one is refused', async () => {
    const r = await t.store.applyInventory([hub('new-hub', 'accepted')], T2);
    expect(r.quarantined).toBe(1);
    expect((await getVan(t.store.db, 'van-381', []))?.device_id).toBe('old-hub');
  });

  it.each(['decommissioned', 'rejected'])('after the old hub is %s, the new one takes the van id', async (how) => {
    if (how === 'decommissioned') await t.store.markDecommissioned(new Set(), T2);
    else await t.store.applyInventory([hub('old-hub', 'rejected')], T2);
    const r = await t.store.applyInventory([hub('new-hub', 'accepted')], T2);
    expect(r.quarantined).toBe(0);
    const van = await getVan(t.store.db, 'van-381', []);
    expect(van?.device_id).toBe('new-hub');
    // The takeover is in the van's timeline (fails without migration 0006 and the insert in
    // fleet-store.ts: the field was absent). A second sync does not repeat it.
    expect(van?.takeovers).toEqual([{ at: T2, old_device_id: 'old-hub', new_device_id: 'new-hub' }]);
    await t.store.applyInventory([hub('new-hub', 'accepted')], T2);
    expect((await getVan(t.store.db, 'van-381', []))?.takeovers).toHaveLength(1);
  });

  it('no takeover entry while the old hub keeps its van id', async () => {
    await t.store.applyInventory([hub('new-hub', 'accepted')], T2);
    expect((await getVan(t.store.db, 'van-381', []))?.takeovers).toEqual([]);
  });
});
