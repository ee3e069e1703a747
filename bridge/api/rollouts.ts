// Releases, van stages/holds and staged rollouts (issue #8). Registered inside the authenticated /api/v1
// scope: GET is for support and ops, everything else for ops only; every write names its caller in the
// audit trail.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as z from 'zod';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MenderManagementClient } from '../../core/mender/management.js';
import type { RolloutController } from '../rollout/controller.js';
import { parseCodes } from '../../core/reason-codes.js';
import { type ForecastArtifact, type ForecastFacts, type ForecastVan, forecastRollout } from '../rollout/forecast.js';
import { type RolloutSettings, RolloutStatuses } from '../rollout/planner.js';
import { jsonStrings } from '../lib/records.js';
import { ReleaseComponent, resolveRelease } from '../rollout/release.js';
import { rolloutStatus } from '../rollout/status.js';
import * as R from '../rollout/store.js';
import { type FleetStore, Stages } from '../store/fleet-store.js';
import { rolloutData } from '../store/data-ledger.js';
import * as S from './schemas.js';
import { ErrorBody } from './schemas.js';
import { RevertPolicy } from '../../core/config/bridge-config.js';

export interface RolloutApiDeps {
  store: FleetStore;
  controller: RolloutController;
  /** Stage tags and group lookups. */
  mender: Pick<MenderManagementClient, 'setTags' | 'listGroupDevices' | 'collect'>;
  clock: Clock;
  logger?: Logger;
}

const Release = z.object({
  name: z.string(),
  components: z.array(ReleaseComponent),
  created_at: z.string(),
  created_by: z.string(),
});

const NewRelease = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'letters, digits and . _ + - (at most 64)'),
  components: z.record(z.string().min(1).max(64), z.string().min(1).max(64)),
});

const VanPatch = z
  .strictObject({
    stage: z.enum(Stages).optional(),
    hold: z.boolean().optional(),
    /** false re-admits a van the controller excluded after repeated failures. */
    excluded: z.boolean().optional(),
    reason: z.string().max(500).optional(),
  })
  .refine(
    (p) => p.stage !== undefined || p.hold !== undefined || p.excluded !== undefined,
    'give stage, hold or excluded',
  );

const BulkVanPatch = z
  .strictObject({
    // Mender's rule for group names [code: mendersoftware/inventory model/device.go, GroupName.Validate]:
    // 1–1024 characters of A–Z a–z 0–9 _ -. Anything else ("..", "/") would reach another Mender path.
    group: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z0-9_-]+$/, 'a Mender group name has only letters, digits, _ and -')
      .optional(),
    tag: z.strictObject({ name: z.string().min(1).max(128), value: z.string().max(512) }).optional(),
    stage: z.enum(Stages).optional(),
    hold: z.boolean().optional(),
    reason: z.string().max(500).optional(),
  })
  .refine((p) => (p.group === undefined) !== (p.tag === undefined), 'give exactly one of group or tag')
  .refine((p) => p.stage !== undefined || p.hold !== undefined, 'give stage or hold');

const VanFlags = z.object({
  van_id: z.string(),
  device_id: z.string(),
  stage: z.enum(Stages),
  hold: z.boolean(),
  excluded: z.boolean(),
});

const Action = z.strictObject({ reason: z.string().min(1).max(500) });

const Event = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  reason: z.string().nullable(),
  detail: z.unknown(),
});

const Wave = z.object({
  wave: z.number(),
  label: z.string(),
  stage: z.string(),
  vans: z.number(),
  opened_at: z.string(),
  closed_at: z.string().nullable(),
  /** Vans of the wave not done yet that wait on their gate, by reason code. */
  deferred: z.record(z.string(), z.number()),
  deployments: z.array(
    z.object({
      name: z.string(),
      component: z.string(),
      mender_id: z.string().nullable(),
      status: z.string(),
      targets: z.number(),
      outcomes: z.record(z.string(), z.number()),
    }),
  ),
});

export const RolloutBody = z.object({
  id: z.string(),
  release: z.string(),
  status: z.enum(RolloutStatuses),
  pause_reason: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
  vans: z.object({
    eligible: z.number(),
    done: z.number(),
    failed: z.number(),
    excluded: z.number(),
    held: z.number(),
  }),
  waves: z.array(Wave),
  next: z.array(z.object({ kind: z.string(), reason: z.string().optional() })),
  /** The rollout's revert (issue #20 item 1; docs/rollouts.md "Automatic revert"), or null. */
  revert: z
    .object({
      status: z.enum(['active', 'finished']),
      release: z.string(),
      previous_release: z.string().nullable(),
      reason: z.string(),
      started_by: z.string(),
      started_at: z.string(),
      finished_at: z.string().nullable(),
      targets: z.number(),
      landed: z.number(),
      not_landed: z.number(),
      deployments: z.array(
        z.object({
          name: z.string(),
          component: z.string(),
          artifact_name: z.string(),
          mender_id: z.string().nullable(),
          status: z.string(),
          targets: z.number(),
          outcomes: z.record(z.string(), z.number()),
        }),
      ),
    })
    .nullable(),
  events: z.array(Event),
});
export type RolloutBody = z.infer<typeof RolloutBody>;

const ForecastNumbers = {
  full_bytes: z.number(),
  delta_bytes: z.number(),
  delta_vans: z.number(),
  bytes: z.number(),
  waiting_unmetered: z.number(),
  waiting_unmetered_bytes: z.number(),
  size_unknown: z.number(),
};

/** `POST /rollouts` with `dry_run: true`: the forecast (bridge/rollout/forecast.ts), nothing stored. */
export const ForecastBody = z.object({
  dry_run: z.literal(true),
  /** A real create would be refused (409) now: the rollout still running. */
  blocked_by: z.string().nullable(),
  settings: z.record(z.string(), z.unknown()),
  release: z.string(),
  vans: z.number(),
  ...ForecastNumbers,
  fleet: z.object({ total: z.number(), current: z.number(), held: z.number(), excluded: z.number() }),
  waves: z.array(
    z.object({
      wave: z.number(),
      label: z.string(),
      stage: z.string(),
      vans: z.number(),
      opens_at_earliest: z.string(),
      ...ForecastNumbers,
      components: z.array(
        z.object({
          component: z.string(),
          artifact_name: z.string(),
          vans: z.number(),
          full_bytes: z.number(),
          delta_vans: z.number(),
          delta_bytes: z.number(),
        }),
      ),
    }),
  ),
  notes: z.array(z.string()),
});
export type ForecastBody = z.infer<typeof ForecastBody>;

/** The forecast's facts: the release, every van the planner sees plus its device type and gate codes. */
async function loadForecastFacts(
  db: FleetStore['db'],
  release: R.ReleaseRecord,
  settings: Readonly<RolloutSettings>,
  now: Date,
): Promise<ForecastFacts> {
  const extra = new Map(
    (await db.selectFrom('vans').select(['device_id', 'device_type', 'gate_codes']).execute()).map((r) => [
      r.device_id,
      r,
    ]),
  );
  const vans: ForecastVan[] = (await R.loadVans(db)).map((v) => ({
    ...v,
    deviceType: extra.get(v.deviceId)?.device_type ?? null,
    gateCodes: parseCodes(extra.get(v.deviceId)?.gate_codes),
  }));
  const names = [
    ...new Set(release.components.flatMap((c) => [c.artifact_name, ...c.deltas.map((d) => d.artifact_name)])),
  ];
  const artifacts: ForecastArtifact[] = (
    await db
      .selectFrom('artifacts')
      .select(['id', 'name', 'device_types_json', 'size'])
      .where('name', 'in', names)
      .execute()
  ).map((a) => ({ id: a.id, name: a.name, deviceTypes: jsonStrings(a.device_types_json), size: a.size }));
  return { now, release: release.name, settings, components: release.components, vans, artifacts };
}

/** A route plugin: registered with its dependencies as options (app.ts). */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const rolloutRoutes: FastifyPluginAsync<RolloutApiDeps> = async (app, deps) => {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const db = deps.store.db;
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody };
  const actor = (req: { caller?: { name: string } }) => req.caller?.name ?? 'anonymous';
  const now = () => deps.clock.now().toISOString();

  // ---- releases --------------------------------------------------------------------------------
  typed.get(
    '/releases',
    { schema: { summary: 'Releases', tags: ['releases'], response: { 200: z.array(Release), ...errors } } },
    () => R.listReleases(db),
  );
  typed.get(
    '/releases/:name',
    {
      schema: {
        summary: 'One release',
        tags: ['releases'],
        params: z.object({ name: z.string().min(1).max(64) }),
        response: { 200: Release, ...errors },
      },
    },
    async (req) => {
      const r = await R.getRelease(db, req.params.name);
      if (!r) throw new VanError('NOT_FOUND', `no release ${req.params.name}`);
      return r;
    },
  );
  typed.post(
    '/releases',
    {
      schema: {
        summary: 'Define a release: component versions backed by artifacts, checked against their requires',
        tags: ['releases'],
        body: NewRelease,
        response: { 201: Release, ...errors },
      },
    },
    async (req, reply) => {
      const verdict = resolveRelease(req.body.components, await R.knownArtifacts(db));
      if (!verdict.ok) throw new VanError('INPUT_INVALID', `release ${req.body.name} rejected: ${verdict.reason}`);
      const rec = { name: req.body.name, components: verdict.components, created_at: now(), created_by: actor(req) };
      await R.insertRelease(db, rec);
      return reply.status(201).send(rec);
    },
  );

  // ---- van stages and holds ---------------------------------------------------------------------
  const apply = async (
    deviceIds: string[],
    patch: {
      stage?: (typeof Stages)[number] | undefined;
      hold?: boolean | undefined;
      excluded?: boolean | undefined;
    },
  ) => {
    await R.setVanFlags(
      db,
      deviceIds,
      {
        ...(patch.stage !== undefined ? { stage: patch.stage } : {}),
        ...(patch.hold !== undefined ? { hold: patch.hold } : {}),
        ...(patch.excluded !== undefined ? { excluded: patch.excluded } : {}),
      },
      now(),
    );
    // Mirrored to Mender so ops see the stage in Mender's UI. Our record is the truth; a failed mirror
    // is logged and repaired by the next change, never undoes the change.
    if (patch.stage !== undefined) {
      for (const id of deviceIds) {
        try {
          await deps.mender.setTags(id, [{ name: deps.store.stageTag, value: patch.stage }]);
        } catch (e) {
          deps.logger?.warn({ device: id, err: (e as Error).message }, 'stage tag not mirrored to Mender');
        }
      }
    }
  };
  const flagsOf = async (deviceIds: string[]) => {
    const rows = [];
    for (let i = 0; i < deviceIds.length; i += 400)
      rows.push(
        ...(await db
          .selectFrom('vans')
          .select(['van_id', 'device_id', 'stage', 'hold', 'excluded'])
          .where('device_id', 'in', deviceIds.slice(i, i + 400))
          .orderBy('van_id')
          .execute()),
      );
    return rows.map((r) => ({
      van_id: r.van_id,
      device_id: r.device_id,
      stage: z.enum(Stages).catch('fleet').parse(r.stage),
      hold: r.hold === 1,
      excluded: r.excluded === 1,
    }));
  };

  typed.patch(
    '/vans/:vanId',
    {
      schema: {
        summary: "Set a van's stage, hold or exclusion (the stage is mirrored to Mender as a tag)",
        tags: ['vans'],
        params: z.object({ vanId: z.string().min(1).max(64) }),
        body: VanPatch,
        response: { 200: VanFlags, ...errors },
      },
    },
    async (req) => {
      const van = await db
        .selectFrom('vans')
        .select('device_id')
        .where('van_id', '=', req.params.vanId)
        .executeTakeFirst();
      if (!van) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
      await apply([van.device_id], req.body);
      deps.logger?.info({ van: req.params.vanId, by: actor(req), ...req.body }, 'van flags set');
      return (await flagsOf([van.device_id]))[0]!;
    },
  );

  typed.patch(
    '/vans',
    {
      schema: {
        summary: 'Set stage or hold of every van in a Mender static group or with a tag value',
        tags: ['vans'],
        body: BulkVanPatch,
        response: { 200: z.object({ updated: z.number(), vans: z.array(VanFlags) }), ...errors },
      },
    },
    async (req) => {
      const b = req.body;
      let ids: string[];
      if (b.group !== undefined) {
        const group = b.group;
        ids = await deps.mender.collect((page, perPage) => deps.mender.listGroupDevices(group, { page, perPage }));
        const known = new Set(
          (await db.selectFrom('vans').select('device_id').where('decommissioned', '=', 0).execute()).map(
            (r) => r.device_id,
          ),
        );
        ids = ids.filter((id) => known.has(id));
      } else {
        const tag = b.tag!;
        const rows = await db
          .selectFrom('vans')
          .select(['device_id', 'tags_json'])
          .where('decommissioned', '=', 0)
          .execute();
        ids = rows
          .filter((r) => {
            try {
              return (JSON.parse(r.tags_json) as Record<string, unknown>)[tag.name] === tag.value;
            } catch {
              return false;
            }
          })
          .map((r) => r.device_id);
      }
      await apply(ids, b);
      deps.logger?.info({ by: actor(req), vans: ids.length, ...b }, 'van flags set in bulk');
      return { updated: ids.length, vans: await flagsOf(ids) };
    },
  );

  // ---- rollouts ---------------------------------------------------------------------------------
  typed.get(
    '/rollouts',
    {
      schema: {
        summary: 'Rollouts',
        tags: ['rollouts'],
        querystring: z.object({ status: z.enum(RolloutStatuses).optional() }),
        response: {
          200: z.array(RolloutBody.omit({ waves: true, events: true, next: true, vans: true, revert: true })),
          ...errors,
        },
      },
    },
    async (req) =>
      (await R.listRollouts(db, req.query.status)).map((r) => ({
        id: r.id,
        release: r.release,
        status: r.status,
        pause_reason: r.pause_reason,
        created_at: r.created_at,
        created_by: r.created_by,
        updated_at: r.updated_at,
      })),
  );
  typed.post(
    '/rollouts',
    {
      schema: {
        summary:
          'Start a staged rollout of a release; with dry_run: true only forecast it (vans, bytes, links) — nothing is stored or deployed',
        tags: ['rollouts'],
        body: z.strictObject({
          release: z.string().min(1).max(64),
          reason: z.string().max(500).optional(),
          dry_run: z.boolean().optional(),
          /** This rollout's automatic revert policy, replacing the config's `rollout.revert` (`{}`: off). */
          revert: RevertPolicy.optional(),
        }),
        response: { 200: ForecastBody, 201: RolloutBody, ...errors },
      },
    },
    async (req, reply) => {
      if (req.body.dry_run === true) {
        // Read-only: the same release and conflict checks as a real create, answered instead of refused.
        const release = await R.getRelease(db, req.body.release);
        if (!release) throw new VanError('NOT_FOUND', `no release ${req.body.release}`);
        const running = (await R.listRollouts(db)).find((x) => x.status === 'active' || x.status === 'paused');
        const forecast = forecastRollout(
          await loadForecastFacts(db, release, deps.controller.settings, deps.clock.now()),
        );
        return reply.status(200).send({
          dry_run: true as const,
          blocked_by: running ? `rollout ${running.id} (${running.release}) is still ${running.status}` : null,
          settings: { ...deps.controller.settings },
          ...forecast,
        });
      }
      const r = await deps.controller.create(
        req.body.release,
        actor(req),
        req.body.reason ?? null,
        req.body.revert ? { revert: req.body.revert } : {},
      );
      // Start at once rather than at the next scheduled tick; errors show in the status.
      await deps.controller.tick().catch(() => undefined);
      return reply.status(201).send(await rolloutStatus(db, r.id, deps.clock.now()));
    },
  );
  const Id = z.object({ id: z.string().min(1).max(64) });
  typed.get(
    '/rollouts/:id',
    {
      schema: {
        summary: 'A rollout: waves, deployments, outcomes, next steps, audit trail',
        tags: ['rollouts'],
        params: Id,
        response: { 200: RolloutBody, ...errors },
      },
    },
    (req) => rolloutStatus(db, req.params.id, deps.clock.now()),
  );
  typed.get(
    '/rollouts/:id/data',
    {
      schema: {
        summary: 'Bytes a rollout sent: per wave and in total, delta and full counted per van',
        tags: ['rollouts'],
        params: Id,
        response: { 200: S.RolloutData, ...errors },
      },
    },
    async (req) => {
      const data = await rolloutData(db, req.params.id);
      if (!data) throw new VanError('NOT_FOUND', `no rollout ${req.params.id}`);
      return data;
    },
  );
  for (const action of ['pause', 'resume', 'advance', 'abort'] as const) {
    typed.post(
      `/rollouts/:id/${action}`,
      {
        schema: {
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a rollout (reason required, audited)`,
          tags: ['rollouts'],
          params: Id,
          body: Action,
          response: { 200: RolloutBody, ...errors },
        },
      },
      async (req) => {
        const c = deps.controller;
        const who = actor(req);
        if (action === 'pause') await c.pause(req.params.id, who, req.body.reason);
        else if (action === 'resume') await c.resume(req.params.id, who, req.body.reason);
        else if (action === 'advance') await c.advance(req.params.id, who, req.body.reason);
        else await c.abort(req.params.id, who, req.body.reason);
        return rolloutStatus(db, req.params.id, deps.clock.now());
      },
    );
  }

  typed.post(
    '/rollouts/:id/revert',
    {
      schema: {
        summary:
          "Revert a rollout by hand: pause it, abort its open deployments, and deploy the previous release's revert artifacts to every van that took it (reason required, audited)",
        tags: ['rollouts'],
        params: Id,
        body: z.strictObject({
          reason: z.string().min(1).max(500),
          /** The release to go back to; default the last release rolled out completely before this one. */
          to: z.string().min(1).max(64).optional(),
        }),
        response: { 200: RolloutBody, ...errors },
      },
    },
    async (req) => {
      await deps.controller.revert(req.params.id, actor(req), req.body.reason, req.body.to ?? null);
      // Deploy at once rather than at the next scheduled tick; errors show in the status.
      await deps.controller.tick().catch(() => undefined);
      return rolloutStatus(db, req.params.id, deps.clock.now());
    },
  );

  // Server-Sent Events: the audit trail as it grows, then the status after each event. Open streams end
  // when the bridge shuts down (preClose), or a console left open on a rollout would hold the shutdown;
  // browsers reconnect with Last-Event-ID.
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of streams) end();
    done();
  });
  app.get<{ Params: { id: string } }>(
    '/rollouts/:id/events',
    { schema: { summary: 'Rollout events (Server-Sent Events)', tags: ['rollouts'], hide: true } },
    async (req, reply) => {
      const id = req.params.id;
      if (!(await R.getRollout(db, id))) throw new VanError('NOT_FOUND', `no rollout ${id}`);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
      });
      let last = 0;
      let closed = false;
      const end = () => {
        closed = true;
        raw.end();
      };
      streams.add(end);
      req.raw.on('close', () => {
        closed = true;
        streams.delete(end);
      });
      const lastId = Number(req.headers['last-event-id']);
      if (Number.isInteger(lastId) && lastId > 0) last = lastId;
      // Polls our own records once a second of real time: the controller writes them, and any replica
      // serves them (no in-process bus that a second replica would not see).
      while (!closed) {
        for (const e of await R.listEvents(db, id, last)) {
          if (closed) break;
          raw.write(`id: ${e.id}\nevent: ${e.action}\ndata: ${JSON.stringify(e)}\n\n`);
          last = e.id;
        }
        const r = await R.getRollout(db, id);
        if (!r || r.status === 'completed' || r.status === 'aborted') break;
        await new Promise((res) => setTimeout(res, 1000));
      }
      streams.delete(end);
      if (!raw.writableEnded) raw.end();
    },
  );
};
