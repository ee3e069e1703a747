// The fleet report (cached per change of the records) and the attention report (JSON or CSV).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as z from 'zod';
import type { Clock } from '../../../core/clock.js';
import { toCsv } from '../../../core/safe-text.js';
import type { AttentionThresholds } from '../../rules/attention.js';
import type { FleetStore } from '../../store/fleet-store.js';
import { type FleetReport, attentionReport, fleetReport } from '../../store/reports.js';
import * as S from '../schemas.js';

export interface ReportRouteOptions {
  store: Pick<FleetStore, 'db' | 'version'>;
  thresholds: AttentionThresholds;
  clock: Clock;
}

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 429: S.ErrorBody };

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const reportRoutes: FastifyPluginAsyncZod<ReportRouteOptions> = async (app, o) => {
  const db = o.store.db;
  // The fleet report aggregates every van: computed once per change of the records (the store's write
  // version) and at most every 30 s, not per request.
  const fleetCache = new VersionedCache<FleetReport>(30_000, () => o.clock.now().getTime());
  app.get(
    '/reports/fleet',
    { schema: { summary: 'Fleet report', tags: ['reports'], response: { 200: S.FleetReport, ...errors } } },
    () => fleetCache.get(o.store.version, () => fleetReport(db, o.clock.now())),
  );

  app.get(
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
      let items = await attentionReport(db, o.thresholds, o.clock.now());
      if (req.query.code) items = items.filter((i) => i.code === req.query.code);
      if (req.query.format !== 'csv') return items;
      void reply.type('text/csv; charset=utf-8');
      return toCsv(
        ['van_id', 'device_id', 'code', 'detail'],
        items.map((i) => [i.van_id, i.device_id, i.code, i.detail]),
      );
    },
  );
};

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
