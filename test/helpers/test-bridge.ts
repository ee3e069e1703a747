// buildTestBridge(): the bridge's HTTP app as the integration tests use it — a fresh store (temp SQLite
// file or a PostgreSQL schema), a fixed clock, an ops and a support token, a fake sync that records what it
// was asked, and Mender deps that answer "no Mender here" unless the test gives its own (a simulator's
// or a fake's). Requests go through `inject` with a token; `close()` closes the app and the store.
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { type BridgeApp, type BridgeAppDeps, type SyncControl, buildBridgeApp } from '../../bridge/api/app.js';
import type { SyncKind, SyncReport } from '../../bridge/sync/sync.js';
import { ManualClock } from '../../core/clock.js';
import { BridgeConfig, type BridgeConfigInput } from '../../core/config/bridge-config.js';
import { type Backend, type TestStore, openTestStore } from './fleet-db.js';
import { captureOutput, registerSecret } from './output-capture.js';

export const TEST_NOW = '2026-11-22T10:00:00.000Z';
export const OPS_TOKEN = registerSecret('test bridge ops token', 'ops-token-0123456789');
export const SUPPORT_TOKEN = registerSecret('test bridge support token', 'support-token-0123456789');

/** Artifact access for apps that serve no update plan with downloads. */
export const noArtifacts: BridgeAppDeps['artifacts'] = {
  downloadLink: () => Promise.reject(new Error('no Mender here')),
  sha256: () => Promise.reject(new Error('no Mender here')),
};

export type FakeSync = SyncControl & { calls: SyncKind[] };

/** A sync that never runs: it records the kinds asked for and reports the metrics given. */
export function fakeSync(metrics: Partial<SyncControl['metrics']> = {}): FakeSync {
  const calls: SyncKind[] = [];
  return {
    calls,
    running: false,
    metrics: { runs: { incremental: 3, reconcile: 0, full: 1 }, errors: 0, durationsMs: [], ...metrics },
    syncNow: (kind) => {
      calls.push(kind);
      return Promise.resolve({ kind } as SyncReport);
    },
  };
}

export interface TestBridgeOptions {
  /** Default sqlite. Ignored when `store` is given. */
  backend?: Backend;
  /** A store the test opened itself (it stays open after `close()`). */
  store?: TestStore;
  /** Over the defaults: both tokens, no rate limit. `auth: { tokens: [] }` for an open API. */
  config?: BridgeConfigInput;
  /** The fixed time of the bridge clock (default TEST_NOW)… */
  now?: string;
  /** …or the clock itself, when other deps (rollouts) must share it. */
  clock?: ManualClock;
  /** Default: a fresh fakeSync(). */
  sync?: FakeSync;
  /** Any other dependency of the app (menderReady, artifacts, rollouts, vpnMigrations, storagePath…). */
  deps?: Partial<Omit<BridgeAppDeps, 'store' | 'config' | 'clock' | 'sync'>>;
}

export interface TestBridge {
  app: BridgeApp;
  t: TestStore;
  store: TestStore['store'];
  clock: ManualClock;
  sync: FakeSync;
  config: BridgeConfig;
  /** GET with a token (default the support one). */
  get(url: string, token?: string): Promise<LightMyRequestResponse>;
  /** POST JSON with a token (default the ops one). */
  post(url: string, body?: unknown, token?: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function buildTestBridge(o: TestBridgeOptions = {}): Promise<TestBridge> {
  const t = o.store ?? (await openTestStore(o.backend ?? 'sqlite'));
  const clock = o.clock ?? new ManualClock(o.now ?? TEST_NOW);
  const sync = o.sync ?? fakeSync();
  const config = BridgeConfig.parse({
    auth: {
      tokens: [
        { name: 'ops', role: 'ops', token: OPS_TOKEN },
        // Stored hashed, as a careful operator would.
        { name: 'desk', role: 'support', token: `sha256:${createHash('sha256').update(SUPPORT_TOKEN).digest('hex')}` },
      ],
    },
    http: { rate_limit_per_minute: 0 },
    ...o.config,
  });
  let app: BridgeApp;
  try {
    app = await buildBridgeApp({
      menderReady: () => Promise.resolve(),
      artifacts: noArtifacts,
      ...o.deps,
      sync,
      store: t.store,
      config,
      clock,
    });
  } catch (e) {
    if (!o.store) await t.dispose();
    throw e;
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  return {
    app,
    t,
    store: t.store,
    clock,
    sync,
    config,
    get: async (url, token = SUPPORT_TOKEN) =>
      captured('GET', url, await app.inject({ method: 'GET', url, headers: bearer(token) })),
    post: async (url, body, token = OPS_TOKEN) =>
      captured(
        'POST',
        url,
        await app.inject({
          method: 'POST',
          url,
          headers: bearer(token),
          ...(body === undefined ? {} : { payload: body as object }),
        }),
      ),
    async close() {
      await app.close();
      if (!o.store) await t.dispose();
    },
  };
}

/** Every response body a test sees goes to the run's output capture (swept for secrets). */
function captured(method: string, url: string, res: LightMyRequestResponse): LightMyRequestResponse {
  captureOutput(`${method} ${url} → ${res.statusCode}`, res.body);
  return res;
}
