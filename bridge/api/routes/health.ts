// Liveness and readiness for load balancers (unauthenticated, not in the OpenAPI document). Readiness
// reads only: the database, Mender (cached), free disk space, the sync's health.
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as z from 'zod';
import type { Clock } from '../../../core/clock.js';
import { redactText } from '../../../core/redact.js';
import type { RoleInfo } from '../../lib/leader.js';
import type { FleetStore } from '../../store/fleet-store.js';
import type { SyncMetrics } from '../../sync/runner.js';

export interface HealthRouteOptions {
  store: Pick<FleetStore, 'getSyncState'>;
  sync: { readonly metrics: SyncMetrics };
  /** Cheap call proving Mender answers (cached here for MENDER_CHECK_TTL_MS). */
  menderReady: () => Promise<void>;
  /** A file on the records' disk (SQLite): its free space is checked. */
  storagePath?: string;
  minFreeMb: number;
  clock: Clock;
  role?: () => RoleInfo;
}

/** How long /readyz reuses its Mender check. */
const MENDER_CHECK_TTL_MS = 30_000;

/** Syncs failing in a row before the bridge says it is not ready (one failure is weather, three are news). */
const FAILED_SYNCS_NOT_READY = 3;

/** A check's answer for /readyz (unauthenticated): 'ok', or the reason with any secret redacted. */
async function check(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return redactText(e instanceof Error ? e.message : 'failed');
  }
}

/** A stuck or failing sync, for /readyz (issue #16 item 2): 'ok' or the reason. */
export function syncCheck(m: SyncMetrics, nowMs: number): string {
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

const Ready = z.object({ status: z.literal('ready'), role: z.string().optional(), replica: z.string().optional() });
const NotReady = z.object({
  status: z.literal('not ready'),
  database: z.string(),
  mender: z.string(),
  role: z.string().optional(),
  replica: z.string().optional(),
  disk: z.string().optional(),
  sync: z.string().optional(),
});

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const healthRoutes: FastifyPluginAsyncZod<HealthRouteOptions> = async (app, o) => {
  // Readiness is probed by every load balancer and anyone on the network: Mender is asked at most once
  // per MENDER_CHECK_TTL_MS, concurrent probes share the one call (#16 item 5).
  let cached: { at: number; answer: Promise<string> } | undefined;
  const menderCheck = (): Promise<string> => {
    const now = o.clock.now().getTime();
    if (!cached || now - cached.at >= MENDER_CHECK_TTL_MS) cached = { at: now, answer: check(o.menderReady) };
    return cached.answer;
  };
  const diskCheck = async (): Promise<string> =>
    o.storagePath === undefined
      ? 'ok'
      : freeSpaceCheck(dirname(o.storagePath), o.minFreeMb).catch((e: Error) => redactText(e.message));

  app.get('/healthz', { schema: { hide: true, response: { 200: z.object({ status: z.literal('ok') }) } } }, () => ({
    status: 'ok' as const,
  }));
  app.get('/readyz', { schema: { hide: true, response: { 200: Ready, 503: NotReady } } }, async (_req, reply) => {
    const [database, mender, disk] = await Promise.all([
      check(() => o.store.getSyncState('inventory_cursor')),
      menderCheck(),
      diskCheck(),
    ]);
    const r = o.role?.();
    const role = r ? { role: r.role, replica: r.replica } : {};
    const sync = syncCheck(o.sync.metrics, Date.now());
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
  });
};
