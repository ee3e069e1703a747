// Issue #16 items 1 and 7 on both databases: one device's NUL characters (which PostgreSQL refuses in
// text and jsonb: `invalid byte sequence for encoding "UTF8": 0x00`) or an oversized inventory must not
// stop the sync of the others. Values are checked at the boundary (core/schemas/inventory.ts
// parseInventory, the function the sync runs on every device's attributes), bad attributes are
// quarantined and counted, and a NUL in a URL is a 404 on PostgreSQL as on SQLite.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BridgeApp, buildBridgeApp } from '../../../bridge/api/app.js';
import type { SyncReport } from '../../../bridge/sync/sync.js';
import { ManualClock } from '../../../core/clock.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { INVENTORY_LIMITS, parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const NOW = '2026-11-22T10:00:00.000Z';
const TOKEN = 'ops-token-0123456789';

const device = (deviceId: string, attributes: unknown) => ({
  deviceId,
  authStatus: 'accepted',
  checkInTime: '2026-11-22T09:50:00.000Z',
  inventory: parseInventory(attributes),
});

describe.each(backends)('hostile inventories on %s (issue #16 items 1, 7)', (backend) => {
  let t: TestStore;
  let app: BridgeApp;

  beforeEach(async () => {
    t = await openTestStore(backend);
    app = await buildBridgeApp({
      store: t.store,
      sync: {
        running: false,
        metrics: { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] },
        syncNow: () => Promise.resolve({} as SyncReport),
      },
      menderReady: () => Promise.resolve(),
      config: BridgeConfig.parse({ auth: { tokens: [{ name: 'ops', role: 'ops', token: TOKEN }] } }),
      clock: new ManualClock(NOW),
      artifacts: { downloadLink: () => Promise.reject(new Error('-')), sha256: () => Promise.reject(new Error('-')) },
    });
  });
  afterEach(async () => {
    await app.close();
    await t.dispose();
  });

  it('NUL characters in any value, name or scope: that attribute is quarantined, every van is stored', async () => {
    const r = await t.store.applyInventory(
      [
        device('good', attrs({ 'vancore.van_id': 'van-001', 'vancore.platform.version': '0.9.2' })),
        device('nul', [
          ...attrs({
            'vancore.van_id': 'van-002',
            'vancore.platform.version': '0.9.2',
            'vancore.gate.state': 'deferred',
            'vancore.gate.reason': 'moving\u0000; DROP TABLE vans',
            cpu_model: 'x86\u0000',
            'nul\u0000name': 'v',
            list: ['a', 'b\u0000'],
          }),
          ...attrs({ 'site\u0000': 'x', region: 'eu\u0000' }, 'tags'),
          { name: 'odd', scope: 'inv\u0000entory', value: 'x' },
        ]),
      ],
      NOW,
    );
    expect(r.vans).toBe(2);
    const vans = await app.inject({ url: '/api/v1/vans', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(vans.statusCode).toBe(200);
    expect(vans.json<{ van_id: string }[]>().map((v) => v.van_id)).toEqual(['van-001', 'van-002']);
    const detail = await app.inject({ url: '/api/v1/vans/van-002', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(detail.statusCode).toBe(200);
    expect(detail.body).not.toContain('\\u0000');
    // gate.reason, cpu_model, the NUL name, list, two tags, the NUL scope: 7 attributes quarantined.
    expect(await t.store.quarantineTotal()).toBe(7);
  });

  it('a NUL in a URL is 404 (path) or 400 (query), never 500', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const url of ['/api/v1/vans/van%00-1', '/api/v1/vans/%00']) {
      const r = await app.inject({ url, headers: auth });
      expect(r.statusCode, url).toBe(404);
      expect(r.json<{ code: string }>().code).toBe('NOT_FOUND');
    }
    const q = await app.inject({ url: '/api/v1/vans?component=a%00b', headers: auth });
    expect(q.statusCode).toBe(400);
  });

  it('an oversized inventory is capped per device (attribute count, value length), counted, and the rest stored', async () => {
    const huge = [
      ...attrs({ 'vancore.van_id': 'van-003', 'vancore.platform.version': '0.9.2' }),
      ...Array.from({ length: 5000 }, (_, i) => ({ name: `attr_${i}`, value: 'v'.repeat(100), scope: 'inventory' })),
      { name: 'blob', value: 'x'.repeat(15 * 1024 * 1024), scope: 'inventory' },
    ];
    const parsed = parseInventory(huge);
    expect(Object.keys(parsed.extra).length).toBeLessThanOrEqual(INVENTORY_LIMITS.attributesPerDevice);
    expect(JSON.stringify(parsed).length).toBeLessThan(INVENTORY_LIMITS.bytesPerDevice + 64 * 1024);
    // The count of what was cut, not one quarantine row per attribute.
    expect(parsed.dropped.length).toBeLessThan(10);
    await t.store.applyInventory(
      [
        { deviceId: 'big', authStatus: 'accepted', checkInTime: NOW, inventory: parsed },
        device('good', attrs({ 'vancore.van_id': 'van-001', 'vancore.platform.version': '0.9.2' })),
      ],
      NOW,
    );
    const detail = await app.inject({ url: '/api/v1/vans/van-003', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(detail.statusCode).toBe(200);
    expect(detail.body.length).toBeLessThan(INVENTORY_LIMITS.bytesPerDevice + 64 * 1024);
    expect(parsed.dropped.map((d) => d.reason)).toContain('over the per-device limit (512 attributes, 256 KiB)');
    expect(await t.store.quarantineTotal()).toBe(1);
  });
});
