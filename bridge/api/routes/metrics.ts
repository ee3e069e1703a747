// Prometheus text for the sync, the fleet's gate states and update outcomes, and this replica's role.
// Unauthenticated like the probes, hidden from the OpenAPI document; reads only.
import type { FastifyPluginAsync } from 'fastify';
import type { RoleInfo } from '../../lib/leader.js';
import type { FleetStore } from '../../store/fleet-store.js';
import type { SyncMetrics } from '../../sync/runner.js';

export interface MetricsRouteOptions {
  store: Pick<FleetStore, 'db' | 'quarantineTotal'>;
  sync: { readonly metrics: SyncMetrics };
  role?: () => RoleInfo;
}

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify's async plugin form (no callback)
export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, o) => {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return metricsText(o);
  });
};

async function metricsText(o: MetricsRouteOptions): Promise<string> {
  const m = o.sync.metrics;
  const db = o.store.db;
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
    `vancore_quarantined_attributes_total ${await o.store.quarantineTotal()}`,
    ...roleMetrics(o.role?.()),
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
