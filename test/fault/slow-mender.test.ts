// Issue #16 item 2: a slow Mender must never freeze the sync. A real HTTP server (port 0) answers the
// device list one byte every 100 ms — never idle long enough for the connect/idle timeout, and it would
// take hours to finish. Every Mender call has a total deadline; a failing sync and a sync running past
// its deadline is aborted at that deadline; both are reported by /readyz and /metrics.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BridgeApp, buildBridgeApp } from '../../bridge/api/app.js';
import { SyncRunner } from '../../bridge/sync/runner.js';
import { systemClock } from '../../core/clock.js';
import { BridgeConfig } from '../../core/config/bridge-config.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { type TestStore, openTestStore } from '../helpers/fleet-db.js';

let server: Server;
let url: string;
const open = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    const t = setInterval(() => res.write(' '), 100);
    open.add(t);
    res.on('close', () => (clearInterval(t), open.delete(t)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const t of open) clearInterval(t);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = (o: { timeoutMs: number; totalTimeoutMs?: number }) =>
  MenderManagementClient.create({
    baseUrl: url,
    auth: { kind: 'token', token: 'pat' },
    timeoutMs: o.timeoutMs,
    ...(o.totalTimeoutMs ? { totalTimeoutMs: o.totalTimeoutMs } : {}),
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });

describe('a trickling Mender (issue #16 item 2)', () => {
  let t: TestStore;
  let app: BridgeApp | undefined;
  beforeEach(async () => {
    t = await openTestStore('sqlite');
  });
  afterEach(async () => {
    await app?.close();
    await t.dispose();
  });

  it('a Mender call ends at its total deadline although bytes keep coming', async () => {
    // Idle timeout 1 s is never reached (a byte every 100 ms); the total deadline (4 × 1 s) ends it.
    await expect(client({ timeoutMs: 1000 }).listAuthDevices({ perPage: 10 })).rejects.toThrow(/timed out/);
  });

  it('/readyz and /metrics report a failing sync; a sync running past its deadline is aborted at it', async () => {
    const sync = new SyncRunner(
      { mender: client({ timeoutMs: 200 }), store: t.store, now: () => new Date() },
      { intervalMs: 3_600_000, fullEveryMs: 3_600_000, deadlineMs: 60_000 },
    );
    for (let i = 0; i < 3; i++) await expect(sync.syncNow('incremental')).rejects.toThrow(/timed out/);
    app = await buildBridgeApp({
      store: t.store,
      sync,
      menderReady: () => Promise.resolve(),
      config: BridgeConfig.parse({}),
      clock: systemClock,
      artifacts: { downloadLink: () => Promise.reject(new Error('-')), sha256: () => Promise.reject(new Error('-')) },
    });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json<{ sync: string }>().sync).toMatch(/^3 syncs failed in a row: .*timed out/);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toContain('vancore_sync_consecutive_errors 3');
    expect(metrics).toMatch(/vancore_sync_running_seconds 0\n/);
    await app.close();

    // A sync whose calls are slower than the sync's own deadline: aborted at the deadline and reported
    // failed at once, although its Mender call would go on for 30 s (the call's own total deadline).
    const slow = new SyncRunner(
      { mender: client({ timeoutMs: 1000, totalTimeoutMs: 30_000 }), store: t.store, now: () => new Date() },
      { intervalMs: 3_600_000, fullEveryMs: 3_600_000, deadlineMs: 500 },
    );
    const t0 = Date.now();
    const aborted = await slow.syncNow('full').catch((e: Error) => e);
    const took = Date.now() - t0;
    expect(aborted).toBeInstanceOf(Error);
    expect((aborted as Error).message).toBe('sync aborted: still running after its deadline of 0.5 s');
    expect(took).toBeLessThan(5_000);
    expect(slow.running).toBe(false);
    expect(slow.metrics).toMatchObject({ errors: 1, consecutiveErrors: 1 });
    // The aborted run moved no cursor and wrote no full-sync mark: the next run starts from scratch.
    expect(await t.store.getSyncState('last_full_sync')).toBeUndefined();
    expect(await t.store.getSyncState('inventory_cursor')).toBeUndefined();
    // Two more runs past their deadline: /readyz says so, not "ready", and names the deadline.
    for (let i = 0; i < 2; i++) await expect(slow.syncNow('incremental')).rejects.toThrow(/deadline of 0.5 s/);
    app = await buildBridgeApp({
      store: t.store,
      sync: slow,
      menderReady: () => Promise.resolve(),
      config: BridgeConfig.parse({}),
      clock: systemClock,
      artifacts: { downloadLink: () => Promise.reject(new Error('-')), sha256: () => Promise.reject(new Error('-')) },
    });
    const body = (await app.inject('/readyz')).json<{ status: string; sync: string }>();
    expect(body).toEqual(
      expect.objectContaining({
        status: 'not ready',
        sync: '3 syncs failed in a row: sync aborted: still running after its deadline of 0.5 s',
      }),
    );
    expect((await app.inject('/metrics')).body).toMatch(/vancore_sync_stuck 0\n/);
  });
});
