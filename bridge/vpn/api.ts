// VPN migration routes (issue #9, bridge side). Registered inside the authenticated /api/v1 scope: GET is
// for support and ops, POST for ops only (the scope's auth hook); every write names its caller in the
// migration's audit trail.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as z from 'zod';
import { VpnMigrationSettings } from '../../core/config/bridge-config.js';
import type { Clock } from '../../core/clock.js';
import type { FleetStore } from '../store/fleet-store.js';
import { ErrorBody } from '../api/schemas.js';
import type { VpnMigrationController } from './controller.js';
import { AttentionCodes, MigrationStatuses } from './planner.js';
import { migrationStatus } from './status.js';
import * as V from './store.js';

export interface VpnMigrationApiDeps {
  store: FleetStore;
  controller: VpnMigrationController;
  clock: Clock;
}

const S = VpnMigrationSettings.shape;
/** The `vpn` settings without their defaults: only what the caller gives overrides the bridge config. */
const SettingsOverrides = z.strictObject({
  daily_batch_limit: S.daily_batch_limit.unwrap().optional(),
  step_daily_limit: S.step_daily_limit.unwrap().optional(),
  retire_soak_hours: S.retire_soak_hours.unwrap().optional(),
  stuck_hours: S.stuck_hours.unwrap().optional(),
  max_retries_per_van: S.max_retries_per_van.unwrap().optional(),
});

const NewMigration = z.strictObject({
  /** Artifact name per step (synced vancore-vpn artifacts built with `artifact build --type vpn`). */
  artifacts: V.StepArtifactsSchema,
  /** Overrides of the bridge config's `vpn` defaults, frozen into this migration. */
  settings: SettingsOverrides.optional(),
  /** Which vans it covers (every criterion given must hold); absent: every accepted van. */
  scope: V.MigrationScopeSchema.optional(),
  reason: z.string().max(500).optional(),
});

const Reason = z.strictObject({ reason: z.string().min(1).max(500) });

const VanLine = z.object({
  van_id: z.string(),
  device_id: z.string(),
  state: z.string().nullable(),
  step: z.string().nullable(),
  detail: z.string(),
});

const Summary = z.object({
  id: z.string(),
  status: z.enum(MigrationStatuses),
  artifacts: V.StepArtifactsSchema,
  settings: VpnMigrationSettings,
  scope: V.MigrationScopeSchema.nullable(),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
});

export const MigrationReport = z.object({
  totals: z.record(z.string(), z.number()),
  per_step: z.array(z.object({ step: z.string(), vans: z.number(), states: z.record(z.string(), z.number()) })),
  stuck: z.array(VanLine),
  reverted: z.array(VanLine),
  attention: z.array(VanLine.extend({ code: z.enum(AttentionCodes) })),
  held: z.array(VanLine),
  rolled_back: z.array(VanLine),
  notes: z.array(z.string()),
});

export const MigrationBody = Summary.extend(MigrationReport.shape).extend({
  batches: z.array(
    z.object({
      batch: z.number(),
      created_at: z.string(),
      deployments: z.array(
        z.object({
          name: z.string(),
          step: z.string(),
          purpose: z.string(),
          mender_id: z.string().nullable(),
          status: z.string(),
          targets: z.number(),
          outcomes: z.record(z.string(), z.number()),
        }),
      ),
    }),
  ),
  starts_per_day: z.array(z.object({ day: z.string(), vans: z.number() })),
  next: z.array(z.object({ kind: z.string(), reason: z.string().optional(), until: z.string().optional() })),
  events: z.array(
    z.object({
      id: z.number(),
      at: z.string(),
      actor: z.string(),
      action: z.string(),
      device_id: z.string().nullable(),
      reason: z.string().nullable(),
      detail: z.unknown(),
    }),
  ),
});

/** A route plugin: registered with its dependencies as options (app.ts). */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const vpnMigrationRoutes: FastifyPluginAsync<VpnMigrationApiDeps> = async (app, deps) => {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const db = deps.store.db;
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody };
  const actor = (req: { caller?: { name: string } }) => req.caller?.name ?? 'anonymous';
  const tags = ['vpn-migrations'];
  const Id = z.object({ id: z.string().min(1).max(64) });

  typed.get(
    '/vpn-migrations',
    {
      schema: {
        summary: 'VPN migrations',
        tags,
        querystring: z.object({ status: z.enum(MigrationStatuses).optional() }),
        response: { 200: z.array(Summary), ...errors },
      },
    },
    (req) => V.listMigrations(db, req.query.status),
  );
  typed.post(
    '/vpn-migrations',
    {
      schema: {
        summary: 'Start the Tailscale → Headscale migration (one step artifact per step)',
        tags,
        body: NewMigration,
        response: { 201: MigrationBody, ...errors },
      },
    },
    async (req, reply) => {
      const overrides = Object.fromEntries(
        Object.entries(req.body.settings ?? {}).filter(([, v]) => v !== undefined),
      ) as Partial<V.MigrationRecord['settings']>;
      const { scope } = req.body;
      const m = await deps.controller.create(
        req.body.artifacts,
        overrides,
        actor(req),
        req.body.reason ?? null,
        scope ?? null,
      );
      // The first batch goes out at once rather than at the next scheduled tick; errors show in the status.
      await deps.controller.tick().catch(() => undefined);
      return reply.status(201).send(await migrationStatus(db, m.id, deps.clock.now()));
    },
  );
  typed.get(
    '/vpn-migrations/:id',
    {
      schema: {
        summary: 'A migration: vans per step, stuck / reverted / attention lists, batches, next steps, audit trail',
        tags,
        params: Id,
        response: { 200: MigrationBody, ...errors },
      },
    },
    (req) => migrationStatus(db, req.params.id, deps.clock.now()),
  );
  typed.get(
    '/vpn-migrations/:id/report',
    {
      schema: {
        summary: 'Per-step report: vans per step, stuck, reverted, attention, held, rolled back',
        tags,
        params: Id,
        response: { 200: MigrationReport, ...errors },
      },
    },
    async (req) => {
      return migrationReport(await migrationStatus(db, req.params.id, deps.clock.now()));
    },
  );
  typed.post(
    '/vpn-migrations/:id/cancel',
    {
      schema: {
        summary: 'Cancel a migration: no further steps (deployments in flight finish)',
        tags,
        params: Id,
        body: Reason,
        response: { 200: MigrationBody, ...errors },
      },
    },
    async (req) => {
      await deps.controller.cancel(req.params.id, actor(req), req.body.reason);
      return migrationStatus(db, req.params.id, deps.clock.now());
    },
  );
  const VanParams = z.object({ id: z.string().min(1).max(64), vanId: z.string().min(1).max(64) });
  for (const action of ['hold', 'release', 'rollback'] as const) {
    typed.post(
      `/vpn-migrations/:id/vans/:vanId/${action}`,
      {
        schema: {
          summary:
            action === 'hold'
              ? 'Hold a van: no further migration step'
              : action === 'release'
                ? 'Release a van: clear hold and rollback, forgive earlier failures'
                : 'Roll a van back one step (see docs/vpn-migration.md); the van is held',
          tags,
          params: VanParams,
          body: Reason,
          response: { 200: MigrationReport, ...errors },
        },
      },
      async (req) => {
        const c = deps.controller;
        const { id, vanId } = req.params;
        if (action === 'hold') await c.hold(id, vanId, actor(req), req.body.reason);
        else if (action === 'release') await c.release(id, vanId, actor(req), req.body.reason);
        else await c.rollback(id, vanId, actor(req), req.body.reason);
        return migrationReport(await migrationStatus(db, id, deps.clock.now()));
      },
    );
  }
};

/** The per-step report of a migration (GET …/report, and the answer to a van action). */
function migrationReport(v: Awaited<ReturnType<typeof migrationStatus>>): z.infer<typeof MigrationReport> {
  return {
    totals: v.totals,
    per_step: v.per_step,
    stuck: v.stuck,
    reverted: v.reverted,
    attention: v.attention,
    held: v.held,
    rolled_back: v.rolled_back,
    notes: v.notes,
  };
}
