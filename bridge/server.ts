// The one place that listens, schedules and shuts down: wires config → database → Mender client →
// sync runner → HTTP app.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BridgeConfig } from '../core/config/bridge-config.js';
import { type Clock, scaledClock, systemClock } from '../core/clock.js';
import { VanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { resolveMenderAuth } from '../core/mender/credentials.js';
import { MenderManagementClient } from '../core/mender/management.js';
import { type BridgeApp, buildBridgeApp } from './api/app.js';
import { openFleetDb } from './store/db.js';
import { FleetStore } from './store/fleet-store.js';
import { SyncRunner } from './sync/runner.js';
import { RolloutController } from './rollout/controller.js';
import { VpnMigrationController } from './vpn/controller.js';
import { latestControllerTime } from './lib/controller-loop.js';

export interface RunningBridge {
  url: string;
  app: BridgeApp;
  store: FleetStore;
  sync: SyncRunner;
  rollouts: RolloutController;
  vpnMigrations: VpnMigrationController;
  stop(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Stream a download through SHA-256 (artifacts can be hundreds of MB: never buffered). */
export async function sha256OfUrl(uri: string, timeoutMs: number): Promise<string> {
  const res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new VanError('MENDER_API', `artifact download for hashing failed: ${res.status}`);
  const hash = createHash('sha256');
  for await (const chunk of res.body) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

export async function startBridge(
  config: Readonly<BridgeConfig>,
  deps: { logger: Logger; env: NodeJS.ProcessEnv; clock?: Clock; startSync?: boolean },
): Promise<RunningBridge> {
  if (config.auth.tokens.length === 0 && !LOOPBACK.has(config.http.host)) {
    throw new VanError(
      'CONFIG_INVALID',
      `auth.tokens is empty: refusing to serve the fleet API without authentication on ${config.http.host} (add tokens, or listen on 127.0.0.1)`,
    );
  }
  const clock = deps.clock ?? systemClock;
  const auth = await resolveMenderAuth(config.mender, { env: deps.env, readFile: (p) => readFile(p, 'utf8') });
  const mender = MenderManagementClient.create({
    baseUrl: config.mender.url,
    auth,
    timeoutMs: config.mender.timeout_ms,
    retry: { retries: config.mender.retries, baseDelayMs: 250, maxDelayMs: 8_000 },
    insecureTls: config.mender.insecure_tls,
    logger: deps.logger,
    pageSize: config.mender.page_size,
    now: () => clock.now(),
  });
  const store = new FleetStore(await openFleetDb(config.database.url), { stageTag: config.rollout.stage_tag });
  try {
    const applied = await store.migrate();
    if (applied.length) deps.logger.info({ migrations: applied }, 'database migrated');
  } catch (e) {
    await store.close();
    throw e;
  }
  // Rollouts run on the bridge clock, accelerated by clock.speed for demos and tests; Mender tokens and
  // the sync keep real time. An accelerated clock resumes at the latest time the records carry: restarted
  // at real time it would fall back before them (a restart would re-wait every soak and wave interval).
  const resumeAt = config.clock.speed === 1 ? undefined : await latestControllerTime(store.db);
  const rolloutClock =
    deps.clock ??
    (config.clock.speed === 1
      ? systemClock
      : scaledClock(config.clock.speed, resumeAt && resumeAt > clock.now() ? resumeAt : clock.now()));
  const sync = new SyncRunner(
    { mender, store, now: () => clock.now() },
    {
      intervalMs: config.sync.interval_seconds * 1000,
      fullEveryMs: config.sync.full_resync_interval_seconds * 1000,
      deadlineMs: config.sync.deadline_seconds * 1000,
      reconcileEvery: config.sync.reconcile_every_syncs,
      logger: deps.logger,
    },
  );
  const rollouts = new RolloutController({
    store,
    mender,
    clock: rolloutClock,
    settings: config.rollout,
    logger: deps.logger,
  });
  // The VPN migration runs on the same (possibly accelerated) clock as rollouts: daily limits, soaks.
  const vpnMigrations = new VpnMigrationController({
    store,
    mender,
    clock: rolloutClock,
    settings: config.vpn,
    logger: deps.logger,
  });
  const app = await buildBridgeApp({
    store,
    sync,
    menderReady: async () => void (await mender.listDeployments({ perPage: 1 })),
    ...(config.database.url.startsWith('sqlite:') && !config.database.url.endsWith(':memory:')
      ? { storagePath: resolve(config.database.url.slice('sqlite:'.length)) }
      : {}),
    config,
    clock,
    logger: deps.logger,
    artifacts: {
      downloadLink: async (id) => (await mender.artifactDownloadLink(id)).uri,
      sha256: (uri) => sha256OfUrl(uri, config.mender.timeout_ms * 20),
    },
    rollouts: { store, controller: rollouts, mender, clock: rolloutClock, logger: deps.logger },
    vpnMigrations: { store, controller: vpnMigrations, clock: rolloutClock },
  });
  let url: string;
  try {
    url = await app.listen({ host: config.http.host, port: config.http.port });
  } catch (e) {
    await store.close();
    throw new VanError(
      'CONFIG_INVALID',
      `cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`,
    );
  }
  if (deps.startSync !== false) sync.start();
  // The controller looks at each rollout once per sync interval of the bridge's (possibly accelerated)
  // clock; at least every 250 ms of real time so an accelerated demo does not spin.
  if (deps.startSync !== false) {
    const every = Math.max(250, (config.sync.interval_seconds * 1000) / config.clock.speed);
    rollouts.start(every);
    vpnMigrations.start(every);
  }
  deps.logger.info({ url, database: store.where, mender: config.mender.url }, 'bridge started');
  return {
    url,
    app,
    store,
    sync,
    rollouts,
    vpnMigrations,
    async stop() {
      await vpnMigrations.stop();
      await rollouts.stop();
      await sync.stop();
      await app.close();
      await store.close();
    },
  };
}
