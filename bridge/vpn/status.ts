// A VPN migration as ops and support see it: vans per step (from inventory), what each van waits for,
// stuck / reverted / attention lists, batches with outcome counts, starts per day, the planner's next
// steps (a dry run on the same facts) and the audit trail.
import type { Kysely } from 'kysely';
import { VanError } from '../../core/errors.js';
import type { Database } from '../store/schema.js';
import {
  type AttentionCode,
  type MigrationStep,
  MigrationSteps,
  attemptsByDevice,
  planMigration,
  scopedVans,
  vanVerdict,
} from './planner.js';
import * as V from './store.js';

export interface VanLine {
  van_id: string;
  device_id: string;
  state: string | null;
  step: string | null;
  detail: string;
}

export interface MigrationView {
  id: string;
  status: V.MigrationRecord['status'];
  artifacts: V.MigrationRecord['artifacts'];
  settings: V.MigrationRecord['settings'];
  scope: V.MigrationRecord['scope'];
  created_at: string;
  created_by: string;
  updated_at: string;
  totals: Record<
    | 'vans'
    | 'done'
    | 'in_flight'
    | 'awaiting_inventory'
    | 'soaking'
    | 'ready'
    | 'held'
    | 'attention'
    | 'stuck'
    | 'rolled_back'
    | 'reverted',
    number
  >;
  /** Vans per step as inventory reports it, with the states seen at that step. */
  per_step: { step: string; vans: number; states: Record<string, number> }[];
  stuck: VanLine[];
  reverted: VanLine[];
  attention: (VanLine & { code: AttentionCode })[];
  held: VanLine[];
  rolled_back: VanLine[];
  /** What the bridge could not check, e.g. a step artifact whose meta-data does not record its step. */
  notes: string[];
  batches: {
    batch: number;
    created_at: string;
    deployments: {
      name: string;
      step: string;
      purpose: string;
      mender_id: string | null;
      status: string;
      targets: number;
      outcomes: Record<string, number>;
    }[];
  }[];
  /** Forward step starts per UTC day of the bridge clock. */
  starts_per_day: { day: string; vans: number }[];
  next: { kind: string; reason?: string; until?: string }[];
  events: V.MigrationEvent[];
}

const STEP_ORDER = ['none', 'add', 'verify', 'cutover', 'retire'];

export async function migrationStatus(db: Kysely<Database>, id: string, now: Date): Promise<MigrationView> {
  const m = await V.getMigration(db, id);
  if (!m) throw new VanError('NOT_FOUND', `no vpn migration ${id}`);
  const facts = await V.loadFacts(db, id, now);
  const deps = await V.loadDeployments(db, id);
  const attempts = attemptsByDevice(deps);
  // Only the vans in the migration's scope count.
  const vans = scopedVans(facts);
  const totals: MigrationView['totals'] = {
    vans: vans.length,
    done: 0,
    in_flight: 0,
    awaiting_inventory: 0,
    soaking: 0,
    ready: 0,
    held: 0,
    attention: 0,
    stuck: 0,
    rolled_back: 0,
    reverted: 0,
  };
  const perStep = new Map<string, { vans: number; states: Record<string, number> }>();
  const view = {
    stuck: [] as VanLine[],
    reverted: [] as VanLine[],
    attention: [] as (VanLine & { code: AttentionCode })[],
    held: [] as VanLine[],
    rolled_back: [] as VanLine[],
  };
  for (const v of vans) {
    const key = STEP_ORDER.includes(v.step ?? '') ? v.step! : 'unknown';
    const ps = perStep.get(key) ?? { vans: 0, states: {} };
    ps.vans++;
    ps.states[v.state ?? 'unknown'] = (ps.states[v.state ?? 'unknown'] ?? 0) + 1;
    perStep.set(key, ps);
    const line = (detail: string): VanLine => ({
      van_id: v.vanId,
      device_id: v.deviceId,
      state: v.state,
      step: v.step,
      detail,
    });
    if (v.state === 'reverted') {
      totals.reverted++;
      view.reverted.push(line(`reverted to ${v.step ?? '?'}`));
    }
    const verdict = vanVerdict(v, attempts.get(v.deviceId) ?? [], facts.settings, now);
    switch (verdict.kind) {
      case 'done':
      case 'ready':
      case 'soaking':
        totals[verdict.kind]++;
        break;
      case 'rollback_ready':
        totals.in_flight++;
        break;
      case 'in_flight':
      case 'awaiting_inventory':
        totals[verdict.kind]++;
        if (verdict.stuck) {
          totals.stuck++;
          view.stuck.push(
            line(
              verdict.kind === 'in_flight'
                ? `${verdict.step} deployed since ${verdict.since}, not finished`
                : `${verdict.step} succeeded at ${verdict.since}, not in inventory`,
            ),
          );
        }
        break;
      case 'held':
        totals.held++;
        view.held.push(line(verdict.reason));
        break;
      case 'rolled_back':
        totals.rolled_back++;
        view.rolled_back.push(line(verdict.detail));
        break;
      case 'attention':
        totals.attention++;
        view.attention.push({ ...line(verdict.detail), code: verdict.code });
        break;
    }
  }
  const batches = new Map<number, MigrationView['batches'][number]>();
  const perDay = new Map<string, number>();
  for (const d of deps) {
    const b = batches.get(d.batch) ?? { batch: d.batch, created_at: d.createdAt, deployments: [] };
    const outcomes: Record<string, number> = {};
    for (const o of Object.values(d.outcomes)) outcomes[o.status] = (outcomes[o.status] ?? 0) + 1;
    const seen = Object.keys(d.outcomes).length;
    if (d.deviceIds.length > seen) outcomes['not-seen'] = d.deviceIds.length - seen;
    b.deployments.push({
      name: d.name,
      step: d.step,
      purpose: d.purpose,
      mender_id: d.menderId,
      status: d.status,
      targets: d.deviceIds.length,
      outcomes,
    });
    batches.set(d.batch, b);
    if (d.purpose === 'forward') {
      const day = d.createdAt.slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + d.deviceIds.length);
    }
  }
  return {
    id: m.id,
    status: m.status,
    artifacts: m.artifacts,
    settings: m.settings,
    scope: m.scope,
    created_at: m.created_at,
    created_by: m.created_by,
    updated_at: m.updated_at,
    totals,
    per_step: [...STEP_ORDER, 'unknown'].filter((s) => perStep.has(s)).map((step) => ({ step, ...perStep.get(step)! })),
    ...view,
    notes: await artifactNotes(db, m.artifacts),
    batches: [...batches.values()].sort((a, b) => a.batch - b.batch),
    starts_per_day: [...perDay.entries()].sort().map(([day, vans]) => ({ day, vans })),
    next: planMigration(facts).map((s) => ({
      kind: s.kind,
      ...('reason' in s ? { reason: s.reason } : {}),
      ...('until' in s && s.until ? { until: s.until } : {}),
    })),
    events: await V.listEvents(db, id),
  };
}

/** Step artifacts from builds that do not record their step: the bridge could not check them at creation. */
async function artifactNotes(db: Kysely<Database>, artifacts: V.MigrationRecord['artifacts']): Promise<string[]> {
  const names = MigrationSteps.map((s) => artifacts[s]);
  const rows = await db.selectFrom('artifacts').select(['name', 'vpn_step']).where('name', 'in', names).execute();
  const unrecorded = (s: MigrationStep) => rows.some((r) => r.name === artifacts[s] && (r.vpn_step ?? null) === null);
  return MigrationSteps.filter(unrecorded).map(
    (s) =>
      `artifacts.${s}: ${artifacts[s]} does not record its step (an older build): ` +
      "not checked by the bridge, the van's module refuses a wrong step",
  );
}
