// The van list (JSON or CSV) and one van's page: versions, health, gate state, timeline, attention.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as z from 'zod';
import type { Clock } from '../../../core/clock.js';
import { VanError } from '../../../core/errors.js';
import { toCsv } from '../../../core/safe-text.js';
import type { AttentionThresholds } from '../../rules/attention.js';
import type { FleetStore } from '../../store/fleet-store.js';
import { vanData } from '../../store/data-ledger.js';
import { attentionReport, getVan, listVans } from '../../store/reports.js';
import * as S from '../schemas.js';

export interface VanRouteOptions {
  store: Pick<FleetStore, 'db'>;
  thresholds: AttentionThresholds;
  clock: Clock;
}

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 429: S.ErrorBody };

const CSV_COLUMNS = [
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
];

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const vanRoutes: FastifyPluginAsyncZod<VanRouteOptions> = async (app, o) => {
  const db = o.store.db;
  app.get(
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
          : new Set((await attentionReport(db, o.thresholds, o.clock.now())).map((a) => a.device_id));
      const { items, total } = await listVans(
        db,
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
      if (!csv) return items;
      void reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vans.csv"');
      return toCsv(
        CSV_COLUMNS,
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
    },
  );

  app.get(
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
      const attention = await attentionReport(db, o.thresholds, o.clock.now());
      const van = await getVan(db, req.params.vanId, attention);
      if (!van) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
      return van;
    },
  );

  app.get(
    '/vans/:vanId/data',
    {
      schema: {
        summary: "One van's data ledger: bytes of every deployment (delta or full), this month against its budget",
        tags: ['vans'],
        params: z.object({ vanId: z.string().min(1).max(64) }),
        response: { 200: S.VanData, ...errors },
      },
    },
    async (req) => {
      const data = await vanData(db, req.params.vanId, o.clock.now(), o.thresholds.data_budget_bytes ?? null);
      if (!data) throw new VanError('NOT_FOUND', `no van ${req.params.vanId}`);
      return data;
    },
  );
};
