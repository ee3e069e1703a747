// "Sync now": start a sync, or join the running one (the runner is single-flight, sync/runner.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SyncKind, SyncReport } from '../../sync/sync.js';
import type { SyncMetrics } from '../../sync/runner.js';
import * as S from '../schemas.js';

export interface SyncControl {
  readonly running: boolean;
  readonly metrics: SyncMetrics;
  syncNow(kind: SyncKind): Promise<SyncReport>;
}

export interface SyncRouteOptions {
  sync: SyncControl;
}

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 429: S.ErrorBody };

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const syncRoutes: FastifyPluginAsyncZod<SyncRouteOptions> = async (app, o) => {
  app.post(
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
      const joined = o.sync.running;
      // The answer does not wait for the sync; its outcome shows in /metrics and /readyz.
      o.sync.syncNow(kind).catch(() => undefined);
      return reply.status(202).send({ status: joined ? 'joined' : 'started', kind });
    },
  );
};
