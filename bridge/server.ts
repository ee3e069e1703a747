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
import { type ArtifactAccess, type BridgeApp, type BridgeServerOptions, buildBridgeApp } from './api/app.js';
import { openFleetDb } from './store/db.js';
import { FleetStore } from './store/fleet-store.js';
import { SyncRunner } from './sync/runner.js';
import { RolloutController } from './rollout/controller.js';
import { VpnMigrationController } from './vpn/controller.js';
import { ControllerLoop, latestControllerTime } from './lib/controller-loop.js';
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
  /** Records missing artifact checksums (the leader runs it on the sync interval; `tick` runs it now). */
  checksums: { tick(): Promise<number> };
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

/**
 * The listening server's limits. headersTimeout cuts off a client that trickles its headers (slow loris)
 * or sends none; requestTimeout one that trickles its body; Node checks both every
 * connectionsCheckingInterval, so that is kept well below them. No idle-socket timeout
 * (connectionTimeout 0): a rollout's event stream (SSE) may be quiet for long and is ended by the bridge.
 */
export function serverTimeouts(http: BridgeConfig['http']): BridgeServerOptions {
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(http.headers_timeout_ms, http.request_timeout_ms);
  return {
    connectionTimeout: 0,
    requestTimeout: http.request_timeout_ms,
    keepAliveTimeout: http.keep_alive_timeout_ms,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeout / 4)) },
  };
}

/**
 * Record the sha256 of every VanCore artifact that has none yet (artifacts are immutable: once each), so
 * the update-plan GET only reads. One failing artifact does not stop the others; it is tried next time.
 */
export async function recordArtifactChecksums(
  store: FleetStore,
  access: ArtifactAccess,
  logger?: Logger,
): Promise<number> {
  const missing = await store.db
    .selectFrom('artifacts')
    .select('id')
    .where('component', 'is not', null)
    .where('sha256', 'is', null)
    .execute();
  let recorded = 0;
  for (const { id } of missing) {
    try {
      await store.setArtifactSha256(id, await access.sha256(await access.downloadLink(id)));
      recorded++;
    } catch (e) {
      logger?.warn({ artifact: id, err: (e as Error).message }, 'artifact checksum failed');
    }
  }
  return recorded;
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
  const fleetDb = await openFleetDb(config.database.url, {
    onIdleConnectionError: (e) =>
      deps.logger?.warn({ err: e.message }, 'database connection ended by the server; the pool opens a new one'),
  });
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
  const artifacts: ArtifactAccess = {
    downloadLink: async (id) => (await mender.artifactDownloadLink(id)).uri,
    sha256: (uri) => sha256OfUrl(uri, config.mender.timeout_ms * 20),
  };
  // Checksums are recorded by the scheduled work (leader), never by a GET; the lock key is unused (no
  // advisory lock: the write is idempotent).
  const checksums = new ControllerLoop<number>({
    run: () => recordArtifactChecksums(store, artifacts, deps.logger),
    skipped: () => 0,
    store,
    lockKey: 0,
    useAdvisoryLock: false,
    logger: deps.logger,
    what: 'artifact checksum',
  });
  // The controller looks at each rollout once per sync interval of the bridge's (possibly accelerated)
  // clock; at least every 250 ms of real time so an accelerated demo does not spin.
  const every = Math.max(250, (config.sync.interval_seconds * 1000) / config.clock.speed);
  async function startWork(): Promise<void> {
    if (!deps.clock && config.clock.speed !== 1) accelerated = await anchored();
    sync.start();
    rollouts.start(every);
    vpnMigrations.start(every);
    checksums.start(config.sync.interval_seconds * 1000);
  }
  async function stopWork(): Promise<void> {
    // Each stop cancels its schedule synchronously before waiting: all three stop at once.
    await Promise.all([vpnMigrations.stop(), rollouts.stop(), sync.stop(), checksums.stop()]);
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
  const app = await buildBridgeApp(
    {
      store,
      sync,
      menderReady: async () => void (await mender.listDeployments({ perPage: 1 })),
      ...(config.database.url.startsWith('sqlite:') && !config.database.url.endsWith(':memory:')
        ? { storagePath: resolve(config.database.url.slice('sqlite:'.length)) }
        : {}),
      config,
      clock,
      logger: deps.logger,
      artifacts,
      rollouts: { store, controller: rollouts, mender, clock: rolloutClock, logger: deps.logger },
      vpnMigrations: { store, controller: vpnMigrations, clock: rolloutClock },
      role: () => election.info(),
    },
    serverTimeouts(config.http),
  );
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
    checksums,
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
