// The bridge's HTTP app: built, never listening (server.ts listens). Routes are plugins registered
// explicitly with zod request and response schemas; one error handler maps codes to statuses.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyPluginCallback,
  type FastifyReply,
  LogController,
} from 'fastify';
import {
  type ZodTypeProvider,
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import * as z from 'zod';
import type { BridgeConfig } from '../../core/config/bridge-config.js';
import type { Clock } from '../../core/clock.js';
import { VanError, isVanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { FleetStore } from '../store/fleet-store.js';
import {
  type FleetReport as FleetReportData,
  attentionReport,
  fleetReport,
  getVan,
  listVans,
} from '../store/reports.js';
import type { SyncKind, SyncReport } from '../sync/sync.js';
import type { SyncMetrics } from '../sync/runner.js';
import {
  AddressLimiter,
  type Caller,
  SESSION_COOKIE,
  SessionAuth,
  TokenAuth,
  authenticate,
  readCookie,
  sessionRoutes,
} from './auth.js';
import { consolePlugin } from '../console/plugin.js';
import * as S from './schemas.js';
import { type RolloutApiDeps, rolloutRoutes } from './rollouts.js';
import { type VpnMigrationApiDeps, vpnMigrationRoutes } from '../vpn/api.js';
import { type KnownArtifact, planForVanRollout } from '../plan.js';
import type { ArtifactsTable } from '../store/schema.js';
import { releaseReaching } from '../rollout/store.js';
import { Constraints } from '../../core/schemas/artifact-meta.js';
import { PayloadTypes } from '../../core/schemas/common.js';
import { UpdatePlan } from '../../core/schemas/update-plan.js';
import { parseWith } from '../../core/validation.js';
import type { RoleInfo } from '../lib/leader.js';
import { toCsv } from '../../core/safe-text.js';
import { redactText } from '../../core/redact.js';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How long /readyz reuses its Mender check. */
const MENDER_CHECK_TTL_MS = 30_000;

export interface SyncControl {
  readonly running: boolean;
  readonly metrics: SyncMetrics;
  syncNow(kind: SyncKind): Promise<SyncReport>;
}

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

export interface ArtifactAccess {
  downloadLink(artifactId: string): Promise<string>;
  sha256(uri: string): Promise<string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

const statusFor: Record<string, number> = {
  NOT_FOUND: 404,
  INPUT_INVALID: 400,
  USAGE: 400,
  CONFLICT: 409,
  MENDER_API: 502,
  MENDER_UNAUTHORIZED: 502,
};

export type BridgeApp = FastifyInstance;

export async function buildBridgeApp(deps: BridgeAppDeps): Promise<BridgeApp> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.config.http.body_limit_bytes,
    // Per-request access logs would drown the sync's own lines; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomUUID(),
    // A URL Fastify cannot decode (`%E0%A4%A`) answers in our error shape, not Fastify's (#16 item 9).
    frameworkErrors: (err, req, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .send({ error: `malformed URL: ${err.message}`, code: 'INPUT_INVALID', request_id: req.id });
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The API speaks JSON only: a text/plain body is 415 with a clear line, not a confusing
  // "expected object, received string" from the schema.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body (`curl -X POST -H 'content-type: application/json'`) means "no body", as a
  // missing one does; anything else goes to Fastify's own parser (prototype-poisoning checks kept).
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body.toString().trim() === '') return done(null, undefined);
    void defaultJson(req, body.toString(), done);
  });
  // Callers without a valid token are limited per address before any route work (#16 item 5).
  const limits = deps.config.http.rate_limit_per_minute;
  const unauthenticated = limits > 0 ? new AddressLimiter(limits) : undefined;
  const tokens = new TokenAuth(deps.config.auth.tokens);
  const sessions = consoleSessions(deps);
  // A NUL in a URL names nothing: 404 for a path, 400 for a query, before any database sees it
  // (PostgreSQL refuses NUL in text; SQLite just finds nothing) — issue #16 item 1.
  app.addHook('onRequest', (req, _reply, done) => {
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    if (path.includes('%00') || path.includes('\u0000'))
      return done(
        new VanError(
          'NOT_FOUND',
          `no route ${req.method} ${path.replaceAll('%00', '\\0').replaceAll('\u0000', '\\0')}`,
        ),
      );
    if (q >= 0 && req.url.slice(q).includes('%00'))
      return done(new VanError('INPUT_INVALID', 'a query parameter contains a NUL character'));
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    // A valid bearer token or a signed-in console session is not "unauthenticated".
    if (!unauthenticated || (tokens.enabled && tokens.identify(req.headers.authorization))) return done();
    if (tokens.enabled && sessions.verify(readCookie(req.headers.cookie, SESSION_COOKIE))) return done();
    const wait = unauthenticated.hit(req.ip, deps.clock.now().getTime());
    if (wait === undefined) return done();
    void reply.header('retry-after', String(wait));
    done(Object.assign(new Error(`rate limit exceeded, retry in ${wait} s`), { statusCode: 429 }));
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const request_id = req.id;
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      // instancePath is `/a/0/b`, or `/` (or empty) for the body itself: `body.a.0.b` / `body`.
      const path = first?.instancePath.split('/').filter(Boolean) ?? [];
      const where = first ? [err.validationContext ?? 'request', ...path].join('.') : 'request';
      return reply
        .status(400)
        .send({ error: `${where}: ${first?.message ?? 'invalid'}`, code: 'INPUT_INVALID', request_id });
    }
    if (isVanError(err))
      return reply.status(statusFor[err.code] ?? 500).send({ error: err.message, code: err.code, request_id });
    const status =
      typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    const code =
      (
        {
          401: 'UNAUTHORIZED',
          403: 'FORBIDDEN',
          404: 'NOT_FOUND',
          413: 'BODY_TOO_LARGE',
          415: 'UNSUPPORTED_MEDIA_TYPE',
          429: 'RATE_LIMITED',
          500: 'INTERNAL',
        } as Record<number, string>
      )[status] ?? 'INPUT_INVALID';
    const error =
      status === 500
        ? 'internal error'
        : status === 415
          ? `unsupported Content-Type ${req.headers['content-type'] ?? '(none)'}: send application/json`
          : err.message;
    return reply.status(status).send({ error, code, request_id });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'NOT_FOUND', request_id: req.id }),
  );

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

  await app.register(probes(deps));
  await app.register(api(deps, sessions), { prefix: '/api/v1' });
  await app.register(consolePlugin(deps.console ?? {}));
  return app as unknown as BridgeApp;
}

/** A check's answer for /readyz (unauthenticated): 'ok', or the reason with any secret redacted. */
async function check(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return redactText(e instanceof Error ? e.message : 'failed');
  }
}

/** Syncs failing in a row before the bridge says it is not ready (one failure is weather, three are news). */
const FAILED_SYNCS_NOT_READY = 3;

/** A stuck or failing sync, for /readyz (issue #16 item 2): 'ok' or the reason. */
function syncCheck(m: SyncMetrics, nowMs: number): string {
  if (m.runningSinceMs !== undefined && m.deadlineMs !== undefined && nowMs - m.runningSinceMs > m.deadlineMs)
    return `stuck: running for ${Math.round((nowMs - m.runningSinceMs) / 1000)} s, past its deadline of ${Math.round(m.deadlineMs / 1000)} s`;
  if ((m.consecutiveErrors ?? 0) >= FAILED_SYNCS_NOT_READY)
    return `${m.consecutiveErrors} syncs failed in a row: ${redactText(m.lastError ?? 'unknown error')}`;
  return 'ok';
}

/** Below this much free space where the records live, the bridge is not ready (#16 item 9). */
async function freeSpaceCheck(path: string, minFreeMb: number): Promise<string> {
  const s = await statfs(path);
  const freeMb = (Number(s.bavail) * Number(s.bsize)) / 1024 / 1024;
  return freeMb < minFreeMb ? `${freeMb.toFixed(0)} MB free at ${path}, below database.min_free_mb ${minFreeMb}` : 'ok';
}

function probes(deps: BridgeAppDeps): FastifyPluginCallback {
  // Readiness is probed by every load balancer and anyone on the network: Mender is asked at most
  // once per MENDER_CHECK_TTL_MS, concurrent probes share the one call (#16 item 5).
  let cached: { at: number; answer: Promise<string> } | undefined;
  const menderCheck = (): Promise<string> => {
    const now = deps.clock.now().getTime();
    if (!cached || now - cached.at >= MENDER_CHECK_TTL_MS) cached = { at: now, answer: check(deps.menderReady) };
    return cached.answer;
  };
  const diskCheck = async (): Promise<string> =>
    deps.storagePath === undefined
      ? 'ok'
      : freeSpaceCheck(dirname(deps.storagePath), deps.config.database.min_free_mb).catch((e: Error) =>
          redactText(e.message),
        );
  return (app, _opts, done) => {
    const typed = app.withTypeProvider<ZodTypeProvider>();
    typed.get('/healthz', { schema: { hide: true, response: { 200: z.object({ status: z.literal('ok') }) } } }, () => ({
      status: 'ok' as const,
    }));
    typed.get(
      '/readyz',
      {
        schema: {
          hide: true,
          response: {
            200: z.object({ status: z.literal('ready'), role: z.string().optional(), replica: z.string().optional() }),
            503: z.object({
              status: z.literal('not ready'),
              database: z.string(),
              mender: z.string(),
              role: z.string().optional(),
              replica: z.string().optional(),
              disk: z.string().optional(),
              sync: z.string().optional(),
            }),
          },
        },
      },
      async (_req, reply) => {
        const [database, mender, disk] = await Promise.all([
          check(() => deps.store.getSyncState('inventory_cursor')),
          menderCheck(),
          diskCheck(),
        ]);
        const r = deps.role?.();
        const role = r ? { role: r.role, replica: r.replica } : {};
        const sync = syncCheck(deps.sync.metrics, Date.now());
        if (database === 'ok' && mender === 'ok' && disk === 'ok' && sync === 'ok')
          return { status: 'ready' as const, ...role };
        return reply.status(503).send({
          status: 'not ready' as const,
          database,
          mender,
          ...(disk === 'ok' ? {} : { disk }),
          ...(sync === 'ok' ? {} : { sync }),
          ...role,
        });
      },
    );
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.type('text/plain; version=0.0.4');
      return metricsText(deps);
    });
    done();
  };
}

async function metricsText(deps: BridgeAppDeps): Promise<string> {
  const m = deps.sync.metrics;
  const db = deps.store.db;
  const gates = await db
    .selectFrom('vans')
    .select(['gate_state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('decommissioned', '=', 0)
    .groupBy('gate_state')
    .execute();
  const outcomes = await db
    .selectFrom('deployment_devices')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  const lines = [
    '# HELP vancore_sync_runs_total Completed syncs by kind.',
    '# TYPE vancore_sync_runs_total counter',
    `vancore_sync_runs_total{kind="incremental"} ${m.runs.incremental}`,
    `vancore_sync_runs_total{kind="reconcile"} ${m.runs.reconcile}`,
    `vancore_sync_runs_total{kind="full"} ${m.runs.full}`,
    '# HELP vancore_sync_errors_total Failed syncs.',
    '# TYPE vancore_sync_errors_total counter',
    `vancore_sync_errors_total ${m.errors}`,
    '# HELP vancore_sync_last_duration_seconds Duration of the last completed sync.',
    '# TYPE vancore_sync_last_duration_seconds gauge',
    `vancore_sync_last_duration_seconds ${((m.lastDurationMs ?? 0) / 1000).toFixed(3)}`,
    '# HELP vancore_sync_consecutive_errors Failed syncs since the last good one.',
    '# TYPE vancore_sync_consecutive_errors gauge',
    `vancore_sync_consecutive_errors ${m.consecutiveErrors ?? 0}`,
    '# HELP vancore_sync_running_seconds How long the running sync has been running (0 = none runs).',
    '# TYPE vancore_sync_running_seconds gauge',
    `vancore_sync_running_seconds ${m.runningSinceMs === undefined ? 0 : ((Date.now() - m.runningSinceMs) / 1000).toFixed(1)}`,
    '# HELP vancore_sync_stuck 1 when the running sync is past its deadline.',
    '# TYPE vancore_sync_stuck gauge',
    `vancore_sync_stuck ${m.runningSinceMs !== undefined && m.deadlineMs !== undefined && Date.now() - m.runningSinceMs > m.deadlineMs ? 1 : 0}`,
    '# HELP vancore_vans Vans by gate state.',
    '# TYPE vancore_vans gauge',
    ...gates.map((g) => `vancore_vans{gate_state="${g.gate_state ?? 'unknown'}"} ${Number(g.n)}`),
    '# HELP vancore_updates_total Device updates by final or current status.',
    '# TYPE vancore_updates_total gauge',
    ...outcomes.map((o) => `vancore_updates_total{status="${o.status}"} ${Number(o.n)}`),
    '# HELP vancore_quarantined_attributes_total Inventory attributes dropped as not fitting the contract.',
    '# TYPE vancore_quarantined_attributes_total counter',
    `vancore_quarantined_attributes_total ${await deps.store.quarantineTotal()}`,
    ...roleMetrics(deps.role?.()),
  ];
  return `${lines.join('\n')}\n`;
}

function roleMetrics(r: RoleInfo | undefined): string[] {
  if (!r) return [];
  return [
    "# HELP vancore_bridge_role This replica's role (1 for the current one): the leader runs the scheduled work.",
    '# TYPE vancore_bridge_role gauge',
    ...(['leader', 'follower', 'api-only'] as const).map(
      (role) => `vancore_bridge_role{role="${role}",election="${r.election}"} ${r.role === role ? 1 : 0}`,
    ),
    '# HELP vancore_bridge_leader_terms_total Times this replica became leader.',
    '# TYPE vancore_bridge_leader_terms_total counter',
    `vancore_bridge_leader_terms_total ${r.terms}`,
  ];
}

function consoleSessions(deps: BridgeAppDeps): SessionAuth {
  return new SessionAuth(deps.config.auth.tokens, {
    ttlMs: deps.config.console.session_hours * 3_600_000,
    now: () => Date.now(),
    secret: deps.config.console.session_secret,
  });
}

function api(deps: BridgeAppDeps, sessions: SessionAuth): FastifyPluginAsync {
  const auth = new TokenAuth(deps.config.auth.tokens);
  const ttlMs = deps.config.console.session_hours * 3_600_000;
  const t = deps.config.reports;
  const thresholds = {
    failed_times: t.failed_times,
    deferred_days: t.deferred_days,
    not_seen_days: t.not_seen_days,
    stuck_downloading_hours: t.stuck_downloading_hours,
  };

  return async (app) => {
    if (deps.config.http.rate_limit_per_minute > 0) {
      await app.register(rateLimit, {
        max: deps.config.http.rate_limit_per_minute,
        timeWindow: 60_000,
        keyGenerator: (req) => req.caller?.name ?? req.ip,
        hook: 'preHandler',
      });
    }
    app.addHook('onRequest', (req, _reply, done) => {
      if (!auth.enabled) return done();
      // Sign-in is the one open route; signing out is a write every role may make (auth.ts).
      const path = req.url.split('?')[0];
      if (path === '/api/v1/session' && req.method === 'POST') return done();
      const a = authenticate(auth, sessions, req, { anyRoleMayWrite: path === '/api/v1/session' });
      if (!a.ok) return done(Object.assign(new Error(a.error), { statusCode: a.status }));
      req.caller = a.caller;
      if (a.session) req.session = a.session;
      done();
    });
    await app.register(
      sessionRoutes({
        sessions,
        enabled: auth.enabled,
        ttlMs,
        menderUiUrl: (deps.config.console.mender_ui_url ?? deps.config.mender.url).replace(/\/+$/, ''),
      }),
    );

    if (deps.rollouts) await app.register(rolloutRoutes(deps.rollouts));
    if (deps.vpnMigrations) await app.register(vpnMigrationRoutes(deps.vpnMigrations));
    const typed = app.withTypeProvider<ZodTypeProvider>();
    const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 429: S.ErrorBody };

    typed.get(
      '/vans',
      {
        schema: {
          summary: 'List vans',
          tags: ['vans'],
          querystring: S.VanListQuery,
          response: { 200: z.union([z.array(S.VanSummary), z.string()]), ...errors },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const csv = q.format === 'csv';
        const attention =
          q.needs_attention === undefined
            ? undefined
            : new Set((await attentionReport(deps.store.db, thresholds, deps.clock.now())).map((a) => a.device_id));
        const { items, total } = await listVans(
          deps.store.db,
          {
            stage: q.stage,
            component: q.component,
            version: q.version,
            gateState: q.gate_state,
            needsAttention: q.needs_attention,
            includeDecommissioned: q.include_decommissioned,
            search: q.q,
          },
          csv ? { page: 1, perPage: 1_000_000, sort: q.sort } : { page: q.page, perPage: q.per_page, sort: q.sort },
          attention,
        );
        void reply.header('X-Total-Count', String(total));
        if (csv) {
          void reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vans.csv"');
          return toCsv(
            [
              'van_id',
              'device_id',
              'stage',
              'hold',
              'components',
              'gate_state',
              'gate_reason',
              'gate_since',
              'vpn_state',
              'last_check_in',
            ],
            items.map((v) => [
              v.van_id,
              v.device_id,
              v.stage,
              String(v.hold),
              Object.entries(v.components)
                .map(([c, ver]) => `${c}=${ver}`)
                .join(' '),
              v.gate.state ?? '',
              v.gate.reason ?? '',
              v.gate.since ?? '',
              v.vpn.state ?? '',
              v.last_check_in ?? '',
            ]),
          );
        }
        return items;
      },
    );

    typed.get(
      '/vans/:vanId',
      {
        schema: {
          summary: 'One van: versions, health, gate state, update timeline',
          tags: ['vans'],
          params: z.object({ vanId: z.string().min(1).max(64) }),
          response: { 200: S.VanDetail, ...errors },
        },
      },
      async (req) => {
        const attention = await attentionReport(deps.store.db, thresholds, deps.clock.now());
        const van = await getVan(deps.store.db, req.params.vanId, attention);
        if (!van) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
        return van;
      },
    );

    typed.get(
      '/vans/:vanId/plan',
      {
        schema: {
          summary: 'The VanCore update plan for one van',
          tags: ['vans'],
          params: z.object({ vanId: z.string().min(1).max(64) }),
          response: { 200: S.UpdatePlanBody, ...errors },
        },
      },
      async (req) => {
        const van = await deps.store.db
          .selectFrom('vans')
          .select(['device_id', 'device_type'])
          .where('van_id', '=', req.params.vanId)
          .executeTakeFirst();
        if (!van) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
        const installed = await deps.store.db
          .selectFrom('van_components')
          .select(['component', 'version'])
          .where('device_id', '=', van.device_id)
          .execute();
        const rows = await deps.store.db
          .selectFrom('artifacts')
          .selectAll()
          .where('component', 'is not', null)
          .execute();
        const known = rows.flatMap((r) => knownArtifact(r) ?? []);
        // With staged rollouts the target is the release that reached this van (docs/bridge.md).
        const plan = planForVanRollout(
          {
            deviceType: van.device_type,
            components: Object.fromEntries(installed.map((c) => [c.component, c.version])),
          },
          known,
          await releaseReaching(deps.store.db, van.device_id),
        );
        const artifacts = [];
        for (const step of plan.steps) {
          const url = await deps.artifacts.downloadLink(step.id);
          let sha256 = rows.find((r) => r.id === step.id)?.sha256 ?? null;
          if (!sha256) {
            sha256 = await deps.artifacts.sha256(url);
            await deps.store.setArtifactSha256(step.id, sha256);
          }
          artifacts.push({ name: step.name, type: step.payloadType, url, sha256 });
        }
        // The contract schema from core is the last word on the shape.
        return parseWith(
          UpdatePlan,
          { update_required: plan.update_required, target: plan.target, artifacts, constraints: plan.constraints },
          'update plan',
          'INTERNAL',
        );
      },
    );

    // The fleet report aggregates every van: computed once per change of the records (the store's
    // write version) and at most every 30 s, not per request.
    const fleetCache = new VersionedCache<FleetReportData>(30_000, () => deps.clock.now().getTime());
    typed.get(
      '/reports/fleet',
      { schema: { summary: 'Fleet report', tags: ['reports'], response: { 200: S.FleetReport, ...errors } } },
      () => fleetCache.get(deps.store.version, () => fleetReport(deps.store.db, deps.clock.now())),
    );

    typed.get(
      '/reports/attention',
      {
        schema: {
          summary: 'Vans that need a human',
          tags: ['reports'],
          querystring: S.AttentionQuery,
          response: { 200: z.union([z.array(S.AttentionItem), z.string()]), ...errors },
        },
      },
      async (req, reply) => {
        let items = await attentionReport(deps.store.db, thresholds, deps.clock.now());
        if (req.query.code) items = items.filter((i) => i.code === req.query.code);
        if (req.query.format === 'csv') {
          void reply.type('text/csv; charset=utf-8');
          return toCsv(
            ['van_id', 'device_id', 'code', 'detail'],
            items.map((i) => [i.van_id, i.device_id, i.code, i.detail]),
          );
        }
        return items;
      },
    );

    typed.post(
      '/sync',
      {
        schema: {
          summary: 'Start a sync now, or join the running one',
          tags: ['ops'],
          // No body at all reaches the schema as null (Fastify): same as {} (#16 item 9).
          body: S.SyncRequest.nullish(),
          response: { 202: S.SyncAccepted, ...errors },
        },
      },
      async (req, reply) => {
        const kind = req.body?.kind ?? 'incremental';
        const joined = deps.sync.running;
        deps.sync.syncNow(kind).catch(() => undefined);
        return reply.status(202).send({ status: joined ? 'joined' : 'started', kind });
      },
    );
  };
}

/** RFC 4180 CSV for support's spreadsheet: formulas defused, control characters neutralised (#16). */
export { toCsv };

/** An artifacts row as the planner needs it, or undefined when it is not a usable VanCore artifact. */
function knownArtifact(r: ArtifactsTable): KnownArtifact | undefined {
  if (!r.component || !r.version || !r.payload_type || !(PayloadTypes as readonly string[]).includes(r.payload_type))
    return undefined;
  try {
    const constraints = Constraints.safeParse(r.constraints_json ? JSON.parse(r.constraints_json) : {});
    return {
      id: r.id,
      name: r.name,
      component: r.component,
      version: r.version,
      payloadType: r.payload_type,
      deviceTypes: JSON.parse(r.device_types_json) as string[],
      requires: JSON.parse(r.requires_json) as Record<string, string>,
      constraints: constraints.success ? constraints.data : Constraints.parse({}),
    };
  } catch {
    return undefined;
  }
}

/**
 * One cached value, recomputed when the source's version changes or the value is older than `maxAgeMs`.
 * Concurrent misses share one computation.
 */
export class VersionedCache<T> {
  #entry: { version: number; at: number; value: Promise<T> } | undefined;
  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  get(version: number, compute: () => Promise<T>): Promise<T> {
    const e = this.#entry;
    if (e && e.version === version && this.now() - e.at < this.maxAgeMs) return e.value;
    const value = compute();
    const entry = { version, at: this.now(), value };
    this.#entry = entry;
    value.catch(() => {
      if (this.#entry === entry) this.#entry = undefined;
    });
    return value;
  }
}
