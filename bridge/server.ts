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
import {
  type Election,
  NoElection,
  PgLeaderElection,
  type RoleInfo,
  type ScheduledWork,
  SqliteFileLock,
} from './lib/leader.js';

export interface RunningBridge {
  url: string;
  app: BridgeApp;
  store: FleetStore;
  sync: SyncRunner;
  rollouts: RolloutController;
  vpnMigrations: VpnMigrationController;
  /** This replica's role (leader runs the scheduled work; followers serve the API and the console). */
  role(): RoleInfo;
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
  const fleetDb = await openFleetDb(config.database.url);
  // SQLite: one bridge per file — refuse before touching the database (lib/leader.ts).
  let fileLock: SqliteFileLock | undefined;
  const scheduled: ScheduledWork = { start: () => startWork(), stop: () => stopWork() };
  if (fleetDb.dialect === 'sqlite' && !fleetDb.where.endsWith(':memory:')) {
    fileLock = new SqliteFileLock(fleetDb.where.slice('sqlite:'.length), scheduled, { logger: deps.logger });
    try {
      fileLock.acquire();
    } catch (e) {
      await fleetDb.close();
      throw e;
    }
  }
  const store = new FleetStore(fleetDb, { stageTag: config.rollout.stage_tag });
  try {
    // Several replicas may start at once: PostgreSQL migrations serialize on their own lock (migrations.ts).
    const applied = await store.migrate();
    if (applied.length) deps.logger.info({ migrations: applied }, 'database migrated');
  } catch (e) {
    await store.close();
    fileLock?.release();
    throw e;
  }
  // Rollouts run on the bridge clock, accelerated by clock.speed for demos and tests; Mender tokens and
  // the sync keep real time. An accelerated clock resumes at the latest time the records carry: restarted
  // at real time it would fall back before them (a restart would re-wait every soak and wave interval).
  // A replica that becomes leader resumes there too (its own clock ran from its own start: replicas
  // started seconds apart are hours apart at 1440×).
  const anchored = async (): Promise<Clock> => {
    const resumeAt = await latestControllerTime(store.db);
    return scaledClock(config.clock.speed, resumeAt && resumeAt > clock.now() ? resumeAt : clock.now());
  };
  let accelerated: Clock = deps.clock || config.clock.speed === 1 ? systemClock : await anchored();
  const rolloutClock: Clock =
    deps.clock ??
    (config.clock.speed === 1 ? systemClock : { now: () => accelerated.now(), sleep: (ms) => accelerated.sleep(ms) });
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
  // The controller looks at each rollout once per sync interval of the bridge's (possibly accelerated)
  // clock; at least every 250 ms of real time so an accelerated demo does not spin.
  const every = Math.max(250, (config.sync.interval_seconds * 1000) / config.clock.speed);
  async function startWork(): Promise<void> {
    if (!deps.clock && config.clock.speed !== 1) accelerated = await anchored();
    sync.start();
    rollouts.start(every);
    vpnMigrations.start(every);
  }
  async function stopWork(): Promise<void> {
    // Each stop cancels its schedule synchronously before waiting: all three stop at once.
    await Promise.all([vpnMigrations.stop(), rollouts.stop(), sync.stop()]);
  }
  const election: Election =
    deps.startSync === false
      ? new NoElection()
      : (fileLock ??
        new PgLeaderElection({
          url: config.database.url,
          schema: fleetDb.schema,
          work: scheduled,
          logger: deps.logger,
        }));
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
    role: () => election.info(),
  });
  let url: string;
  try {
    url = await app.listen({ host: config.http.host, port: config.http.port });
  } catch (e) {
    await store.close();
    fileLock?.release();
    throw new VanError(
      'CONFIG_INVALID',
      `cannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}`,
    );
  }
  // After listening: a follower serves the API while it waits; a sole replica leads at once.
  await election.start();
  deps.logger.info(
    { url, database: store.where, mender: config.mender.url, role: election.info().role },
    'bridge started',
  );
  return {
    url,
    app,
    store,
    sync,
    rollouts,
    vpnMigrations,
    role: () => election.info(),
    async stop() {
      // Hand over first (the followers take over at once), then stop serving.
      await election.stop();
      await app.close();
      await store.close();
      fileLock?.release();
    },
  };
}
