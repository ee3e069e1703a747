// The bridge's HTTP app, composed: built, never listening (server.ts listens and sets the server's
// timeouts). Each route file under routes/ is a plugin that gets its dependencies as options; this file
// only wires the Fastify instance, the zod type provider, the error handler, the hooks (auth among
// them), swagger and those plugins. See docs/bridge.md "Inside".
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import {
  type ZodTypeProvider,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { BridgeConfig } from '../../core/config/bridge-config.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { consolePlugin } from '../console/plugin.js';
import type { RoleInfo } from '../lib/leader.js';
import type { FleetStore } from '../store/fleet-store.js';
import { type VpnMigrationApiDeps, vpnMigrationRoutes } from '../vpn/api.js';
import { AddressLimiter, type Caller, SessionAuth, TokenAuth, sessionRoutes } from './auth.js';
import { errorHandler, frameworkErrors, notFoundHandler } from './errors.js';
import { jsonBodiesOnly, limitUnauthenticated, rejectNul, requireCaller } from './hooks.js';
import { type RolloutApiDeps, rolloutRoutes } from './rollouts.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { type ArtifactAccess, planRoutes } from './routes/plan.js';
import { reportRoutes } from './routes/reports.js';
import { type SyncControl, syncRoutes } from './routes/sync.js';
import { vanRoutes } from './routes/vans.js';

export type { ArtifactAccess } from './routes/plan.js';
export type { SyncControl } from './routes/sync.js';
export { VersionedCache } from './routes/reports.js';
/** RFC 4180 CSV for support's spreadsheet: formulas defused, control characters neutralised (#16). */
export { toCsv } from '../../core/safe-text.js';

export interface BridgeAppDeps {
  store: FleetStore;
  sync: SyncControl;
  /** Cheap call proving Mender answers (readiness; cached by /readyz). */
  menderReady: () => Promise<void>;
  /** The SQLite file (or any file on the records' disk): /readyz checks the free space there. */
  storagePath?: string;
  config: Readonly<BridgeConfig>;
  clock: Clock;
  logger?: Logger;
  /** Artifact downloads for update plans: Mender's link, and the whole file's sha256. */
  artifacts: ArtifactAccess;
  /** Releases, van stages and rollouts (issue #8); absent = those routes are not served. */
  rollouts?: RolloutApiDeps;
  /** The Tailscale → Headscale migration (issue #9); absent = those routes are not served. */
  vpnMigrations?: VpnMigrationApiDeps;
  /** This replica's role among the bridges on one database (lib/leader.ts), shown by /readyz and /metrics. */
  role?: () => RoleInfo;
  /** Where the console's built assets are (issue #18); default: found next to the bundle. */
  console?: { assetsDir?: string };
}

/** What the listening server adds (server.ts sets them): its timeouts. Tests that only inject leave them out. */
export interface BridgeServerOptions {
  connectionTimeout?: number;
  requestTimeout?: number;
  keepAliveTimeout?: number;
  http?: { headersTimeout?: number; connectionsCheckingInterval?: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export type BridgeApp = FastifyInstance;

export async function buildBridgeApp(deps: BridgeAppDeps, server: BridgeServerOptions = {}): Promise<BridgeApp> {
  const { config, clock } = deps;
  const app = Fastify({
    ...server,
    loggerInstance: deps.logger,
    bodyLimit: config.http.body_limit_bytes,
    // Per-request access logs would drown the sync's own lines; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomUUID(),
    frameworkErrors,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  jsonBodiesOnly(app);

  const tokens = new TokenAuth(config.auth.tokens);
  const sessions = new SessionAuth(config.auth.tokens, {
    ttlMs: config.console.session_hours * 3_600_000,
    now: () => Date.now(),
    secret: config.console.session_secret,
  });
  app.addHook('onRequest', rejectNul);
  const perMinute = config.http.rate_limit_per_minute;
  if (perMinute > 0)
    app.addHook('onRequest', limitUnauthenticated({ limiter: new AddressLimiter(perMinute), tokens, sessions, clock }));

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'VanCore OTA bridge',
        version: '1',
        description: 'Fleet records synced from Mender, reports for support, operations for ops.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Unauthenticated probes for load balancers and Prometheus.
  await app.register(healthRoutes, {
    store: deps.store,
    sync: deps.sync,
    menderReady: deps.menderReady,
    ...(deps.storagePath === undefined ? {} : { storagePath: deps.storagePath }),
    minFreeMb: config.database.min_free_mb,
    clock,
    ...(deps.role ? { role: deps.role } : {}),
  });
  await app.register(metricsRoutes, { store: deps.store, sync: deps.sync, ...(deps.role ? { role: deps.role } : {}) });

  // The API: a token or a console session, rate-limited per caller.
  const t = config.reports;
  const thresholds = {
    failed_times: t.failed_times,
    deferred_days: t.deferred_days,
    not_seen_days: t.not_seen_days,
    stuck_downloading_hours: t.stuck_downloading_hours,
    data_budget_bytes:
      t.data_budget_mb_per_month === undefined ? null : Math.round(t.data_budget_mb_per_month * 1_048_576),
  };
  await app.register(
    async (api) => {
      if (perMinute > 0)
        await api.register(rateLimit, {
          max: perMinute,
          timeWindow: 60_000,
          keyGenerator: (req) => req.caller?.name ?? req.ip,
          hook: 'preHandler',
        });
      api.addHook('onRequest', requireCaller(tokens, sessions));
      await api.register(sessionRoutes, {
        sessions,
        enabled: tokens.enabled,
        ttlMs: config.console.session_hours * 3_600_000,
        menderUiUrl: (config.console.mender_ui_url ?? config.mender.url).replace(/\/+$/, ''),
      });
      if (deps.rollouts) await api.register(rolloutRoutes, deps.rollouts);
      if (deps.vpnMigrations) await api.register(vpnMigrationRoutes, deps.vpnMigrations);
      await api.register(vanRoutes, { store: deps.store, thresholds, clock });
      await api.register(planRoutes, { store: deps.store, artifacts: deps.artifacts });
      await api.register(reportRoutes, { store: deps.store, thresholds, clock });
      await api.register(syncRoutes, { sync: deps.sync });
    },
    { prefix: '/api/v1' },
  );

  await app.register(consolePlugin(deps.console ?? {}));
  return app as unknown as BridgeApp;
}
