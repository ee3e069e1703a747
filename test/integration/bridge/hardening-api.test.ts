// Issue #16 items 5, 6 and 9 (bridge side), through the real Fastify app and a real store:
// unauthenticated rate limits by address, a cached Mender readiness check, secrets kept out of
// /readyz, Mender's group-name rule, our error shape for malformed URLs and over-long ids, a gate
// dated in the future, a full disk in /readyz and `POST /sync` without a body.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BridgeApp } from '../../../bridge/api/app.js';
import { ManualClock } from '../../../core/clock.js';
import type { BridgeConfigInput } from '../../../core/config/bridge-config.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { attrs } from '../../helpers/builders.js';
import { type TestStore, openTestStore } from '../../helpers/fleet-db.js';
import {
  type FakeSync,
  OPS_TOKEN as OPS,
  TEST_NOW as NOW,
  buildTestBridge,
  fakeSync,
} from '../../helpers/test-bridge.js';

const anyString: unknown = expect.any(String);

describe('bridge API hardening (issue #16)', () => {
  let t: TestStore;
  let app: BridgeApp;
  let sync: FakeSync;
  let menderCalls: number;
  let menderAnswer: () => Promise<void>;
  let clock: ManualClock;
  const groupsAsked: string[] = [];

  async function build(over: BridgeConfigInput = {}, extra: { storagePath?: string } = {}) {
    sync = fakeSync({ runs: { incremental: 1, reconcile: 0, full: 1 } });
    clock = new ManualClock(NOW);
    const bridge = await buildTestBridge({
      store: t,
      sync,
      clock,
      config: {
        auth: { tokens: [{ name: 'ops', role: 'ops', token: OPS }] },
        http: { rate_limit_per_minute: 20 },
        ...over,
      },
      deps: {
        menderReady: () => {
          menderCalls++;
          return menderAnswer();
        },
        ...(extra.storagePath ? { storagePath: extra.storagePath } : {}),
        rollouts: {
          store: t.store,
          clock,
          controller: { tick: () => Promise.resolve() } as never,
          mender: {
            collect: async (f: (page: number, perPage: number) => Promise<{ items: string[] }>) =>
              (await f(1, 500)).items,
            listGroupDevices: (g: string) => {
              groupsAsked.push(g);
              return Promise.resolve({ items: [], total: 0 });
            },
          } as never,
        },
      },
    });
    app = bridge.app;
  }

  beforeEach(async () => {
    t = await openTestStore('sqlite');
    menderCalls = 0;
    menderAnswer = () => Promise.resolve();
    groupsAsked.length = 0;
    await t.store.applyInventory(
      [
        {
          deviceId: 'd-future',
          authStatus: 'accepted',
          checkInTime: '2026-11-22T09:50:00.000Z',
          inventory: parseInventory(
            attrs({
              'vancore.van_id': 'van-777',
              'vancore.platform.version': '0.9.2',
              'vancore.gate.state': 'deferred',
              'vancore.gate.reason': 'moving',
              // A hub whose clock runs a year ahead: "deferred since" next year is never "deferred long".
              'vancore.gate.since': '2027-11-22T10:00:00Z',
            }),
          ),
        },
      ],
      NOW,
    );
    await build();
  });
  afterEach(async () => {
    await app.close();
    await t.dispose();
  });

  it('item 5: rate-limits requests without a valid token by address, before auth', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 30; i++)
      codes.push(
        (await app.inject({ url: '/api/v1/vans', headers: { authorization: 'Bearer wrong-token-0123456789' } }))
          .statusCode,
      );
    expect(codes.filter((c) => c === 401)).toHaveLength(20);
    expect(codes.filter((c) => c === 429)).toHaveLength(10);
    const limited = await app.inject({ url: '/api/v1/vans' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json<unknown>()).toMatchObject({ code: 'RATE_LIMITED', request_id: anyString });
    // The unauthenticated probes count too.
    expect((await app.inject('/readyz')).statusCode).toBe(429);
    // Another address is not affected.
    expect((await app.inject({ url: '/readyz', remoteAddress: '10.9.8.7' })).statusCode).toBe(200);
    // A caller with a valid token is limited per caller, not by the address's failures.
    const ok = await app.inject({ url: '/api/v1/vans', headers: { authorization: `Bearer ${OPS}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('item 5: /readyz serves a cached Mender check (one Mender call for many probes)', async () => {
    for (let i = 0; i < 10; i++) expect((await app.inject('/readyz')).statusCode).toBe(200);
    expect(menderCalls).toBe(1);
    clock.advance(31_000);
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    expect(menderCalls).toBe(2);
  });

  it('item 6: /readyz never shows credentials from Mender URLs in its reasons', async () => {
    menderAnswer = () =>
      Promise.reject(new Error('connect ECONNREFUSED http://ops:UrlCanary-5b1e9c@127.0.0.1:9/api (Bearer abcdefgh)'));
    const r = await app.inject('/readyz');
    expect(r.statusCode).toBe(503);
    expect(r.body).not.toContain('UrlCanary-5b1e9c');
    expect(r.body).not.toContain('abcdefgh');
    expect(r.json<{ mender: string }>().mender).toContain('ops:[redacted]@127.0.0.1');
  });

  it('item 9: a group name Mender would refuse ("..", "/", spaces) is 400, never a Mender path', async () => {
    for (const group of ['..', '../devices', 'a/b', 'with space', '', 'x'.repeat(1025)]) {
      const r = await app.inject({
        method: 'PATCH',
        url: '/api/v1/vans',
        headers: { authorization: `Bearer ${OPS}` },
        payload: { group, hold: true, reason: 'test' },
      });
      expect(r.statusCode, group).toBe(400);
      expect(r.json<unknown>(), group).toMatchObject({ code: 'INPUT_INVALID', request_id: anyString });
    }
    expect(groupsAsked).toEqual([]);
    const ok = await app.inject({
      method: 'PATCH',
      url: '/api/v1/vans',
      headers: { authorization: `Bearer ${OPS}` },
      payload: { group: 'Pilot_vans-2', hold: true, reason: 'test' },
    });
    expect(ok.statusCode).toBe(200);
    expect(groupsAsked).toEqual(['Pilot_vans-2']);
  });

  it('item 9: malformed URLs and over-long ids answer in our error shape with request_id', async () => {
    const auth = { authorization: `Bearer ${OPS}` };
    for (const url of [
      '/api/v1/vans/%E0%A4%A',
      '/api/v1/vans/%',
      `/api/v1/vans/${'v'.repeat(65)}`,
      `/api/v1/vans/${'v'.repeat(5000)}`,
      '/api/v1/vans?per_page=%zz',
    ]) {
      const r = await app.inject({ url, headers: auth });
      expect(r.statusCode, url.slice(0, 40)).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, url.slice(0, 40)).toBeLessThan(500);
      expect(r.json<unknown>(), url.slice(0, 40)).toMatchObject({
        error: anyString,
        code: anyString,
        request_id: anyString,
      });
    }
  });

  it('item 9: a van whose gate is dated in the future is flagged for attention', async () => {
    const r = await app.inject({ url: '/api/v1/reports/attention', headers: { authorization: `Bearer ${OPS}` } });
    expect(r.json<unknown[]>()).toContainEqual(
      expect.objectContaining({
        van_id: 'van-777',
        code: 'clock_ahead',
        detail: expect.stringContaining('2027-11-22') as unknown,
      }),
    );
  });

  it('item 9: POST /api/v1/sync without a body is accepted', async () => {
    for (const headers of [
      { authorization: `Bearer ${OPS}` },
      { authorization: `Bearer ${OPS}`, 'content-type': 'application/json' },
    ]) {
      const r = await app.inject({ method: 'POST', url: '/api/v1/sync', headers });
      expect(r.statusCode, `${JSON.stringify(headers)} ${r.body}`).toBe(202);
    }
    expect(sync.calls).toEqual(['incremental', 'incremental']);
  });

  it('item 9: /readyz reports a full disk where the records live', async () => {
    await app.close();
    // Ask for more free space than any test machine has: the disk check is the real statfs.
    await build(
      { database: { url: t.url, min_free_mb: 1_000_000_000 } },
      { storagePath: t.url.slice('sqlite:'.length) },
    );
    const r = await app.inject('/readyz');
    expect(r.statusCode).toBe(503);
    expect(r.json<{ disk: string }>()).toMatchObject({
      status: 'not ready',
      disk: expect.stringMatching(/free/) as unknown,
    });
  });
});
