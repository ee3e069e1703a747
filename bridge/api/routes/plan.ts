// GET /vans/:vanId/plan: load the facts once → the pure planner (bridge/plan.ts) → download links and
// checksums for the planned artifacts. Reads only: artifact checksums are recorded by the bridge's
// scheduled work (server.ts, recordArtifactChecksums), never by this GET; one not yet recorded is
// computed here and kept in memory (artifacts are immutable).
import type { Kysely } from 'kysely';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as z from 'zod';
import { VanError } from '../../../core/errors.js';
import { UpdatePlan } from '../../../core/schemas/update-plan.js';
import { parseWith } from '../../../core/validation.js';
import { type PlanFacts, knownArtifact, planUpdate } from '../../plan.js';
import { releaseReaching } from '../../rollout/store.js';
import type { FleetStore } from '../../store/fleet-store.js';
import type { Database } from '../../store/schema.js';
import * as S from '../schemas.js';

/** Artifact downloads for update plans: Mender's link, and the whole file's sha256. */
export interface ArtifactAccess {
  downloadLink(artifactId: string): Promise<string>;
  sha256(uri: string): Promise<string>;
}

export interface PlanRouteOptions {
  store: Pick<FleetStore, 'db'>;
  artifacts: ArtifactAccess;
}

/** The plan's facts for one van, and the checksums already recorded; undefined: no such van. */
export async function loadPlanFacts(
  db: Kysely<Database>,
  vanId: string,
): Promise<{ facts: PlanFacts; sha256: Map<string, string> } | undefined> {
  const van = await db
    .selectFrom('vans')
    .select(['device_id', 'device_type'])
    .where('van_id', '=', vanId)
    .executeTakeFirst();
  if (!van) return undefined;
  const installed = await db
    .selectFrom('van_components')
    .select(['component', 'version'])
    .where('device_id', '=', van.device_id)
    .execute();
  const rows = await db.selectFrom('artifacts').selectAll().where('component', 'is not', null).execute();
  return {
    facts: {
      van: {
        deviceType: van.device_type,
        components: Object.fromEntries(installed.map((c) => [c.component, c.version])),
      },
      artifacts: rows.flatMap((r) => knownArtifact(r) ?? []),
      // With staged rollouts the target is the release that reached this van (docs/bridge.md).
      reaching: await releaseReaching(db, van.device_id),
    },
    sha256: new Map(rows.flatMap((r) => (r.sha256 ? [[r.id, r.sha256] as const] : []))),
  };
}

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 429: S.ErrorBody };

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const planRoutes: FastifyPluginAsyncZod<PlanRouteOptions> = async (app, o) => {
  // Checksums computed here while the scheduled work has not recorded them yet; one entry per artifact
  // (a failed computation is forgotten, so the next request tries again).
  const computed = new Map<string, Promise<string>>();
  const checksum = (id: string, url: string): Promise<string> => {
    let c = computed.get(id);
    if (!c) {
      c = o.artifacts.sha256(url);
      computed.set(id, c);
      c.catch(() => computed.delete(id));
    }
    return c;
  };

  app.get(
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
      const loaded = await loadPlanFacts(o.store.db, req.params.vanId);
      if (!loaded) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
      const plan = planUpdate(loaded.facts);
      const artifacts = [];
      for (const step of plan.steps) {
        const url = await o.artifacts.downloadLink(step.id);
        const sha256 = loaded.sha256.get(step.id) ?? (await checksum(step.id, url));
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
};
