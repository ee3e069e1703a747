// A rollout as ops see it: waves with their deployments and outcome counts, van totals, the planner's
// next steps (a dry run on the same facts) and the audit trail.
import type { Kysely } from 'kysely';
import { VanError } from '../../core/errors.js';
import { shownStatus } from '../lib/waiting.js';
import { parseCodes } from '../../core/reason-codes.js';
import type { Database } from '../store/schema.js';
import { planWithRevert } from './controller.js';
import { SUCCEEDED } from './planner.js';
import { revertNotLanded } from './revert.js';
import * as R from './store.js';

export interface RevertView {
  status: 'active' | 'finished';
  release: string;
  previous_release: string | null;
  reason: string;
  started_by: string;
  started_at: string;
  finished_at: string | null;
  /** Vans the revert deployed to, those Mender reports it succeeded on, and those it did not reach (so far). */
  targets: number;
  landed: number;
  not_landed: number;
  deployments: {
    name: string;
    component: string;
    artifact_name: string;
    mender_id: string | null;
    status: string;
    targets: number;
    outcomes: Record<string, number>;
  }[];
}

export interface RolloutStatusView {
  id: string;
  release: string;
  status: R.RolloutRecord['status'];
  pause_reason: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
  vans: { eligible: number; done: number; failed: number; excluded: number; held: number };
  waves: {
    wave: number;
    label: string;
    stage: string;
    vans: number;
    opened_at: string;
    closed_at: string | null;
    /** The wave's vans not done yet whose gate says "not now", by the gate's reason code (docs/console.md). */
    deferred: Record<string, number>;
    deployments: {
      name: string;
      component: string;
      mender_id: string | null;
      status: string;
      targets: number;
      outcomes: Record<string, number>;
    }[];
  }[];
  next: { kind: string; reason?: string }[];
  /** The rollout's revert (issue #20 item 1), or null. */
  revert: RevertView | null;
  events: R.AuditEvent[];
}

async function revertView(db: Kysely<Database>, r: R.RolloutRecord, now: Date): Promise<RevertView | null> {
  const rev = await R.getRevert(db, r.id);
  if (!rev) return null;
  const f = await R.loadRevertFacts(db, r, rev, now);
  const targets = new Set(f.revertDeployments.flatMap((d) => d.deviceIds));
  const landed = new Set(
    f.revertDeployments.flatMap((d) =>
      Object.entries(d.outcomes)
        .filter(([, o]) => SUCCEEDED.has(o.status))
        .map(([id]) => id),
    ),
  );
  return {
    status: rev.status,
    release: rev.release,
    previous_release: rev.previous_release,
    reason: rev.reason,
    started_by: rev.started_by,
    started_at: rev.started_at,
    finished_at: rev.finished_at,
    targets: targets.size,
    landed: landed.size,
    not_landed: revertNotLanded(f, rev.status === 'finished').length,
    deployments: f.revertDeployments.map((d) => {
      const outcomes: Record<string, number> = {};
      for (const o of Object.values(d.outcomes)) outcomes[o.status] = (outcomes[o.status] ?? 0) + 1;
      const seen = Object.keys(d.outcomes).length;
      if (d.deviceIds.length > seen) outcomes['not-seen'] = d.deviceIds.length - seen;
      return {
        name: d.name,
        component: d.component,
        artifact_name: d.artifactName ?? '',
        mender_id: d.menderId ?? null,
        status: d.status,
        targets: d.deviceIds.length,
        outcomes,
      };
    }),
  };
}

export async function rolloutStatus(db: Kysely<Database>, id: string, now: Date): Promise<RolloutStatusView> {
  const r = await R.getRollout(db, id);
  if (!r) throw new VanError('NOT_FOUND', `no rollout ${id}`);
  const facts = await R.loadFacts(db, id, now);
  const deps = await R.loadDeployments(db, id);
  const last = new Map<string, string>();
  for (const d of deps)
    for (const [dev, o] of Object.entries(d.outcomes)) last.set(`${d.component}\u0000${dev}`, o.status);
  const doneVans = new Set(
    facts.vans
      .filter((v) =>
        facts.components.every(
          (c) =>
            v.components[c.component] === c.version ||
            ['success', 'already-installed'].includes(last.get(`${c.component}\u0000${v.deviceId}`) ?? ''),
        ),
      )
      .map((v) => v.deviceId),
  );
  const done = doneVans.size;
  // Why the wave's waiting vans wait: their gate's reason codes, from the fleet records.
  const waiting = facts.waves.flatMap((w) => w.deviceIds).filter((d) => !doneVans.has(d));
  const deferredCodes = new Map<string, string[]>();
  for (let i = 0; i < waiting.length; i += 400)
    for (const v of await db
      .selectFrom('vans')
      .select(['device_id', 'gate_codes'])
      .where('gate_state', '=', 'deferred')
      .where('device_id', 'in', waiting.slice(i, i + 400))
      .execute())
      deferredCodes.set(v.device_id, v.gate_codes === null ? ['none'] : parseCodes(v.gate_codes));
  const deferredBy = (deviceIds: string[]) => {
    const out: Record<string, number> = {};
    for (const d of deviceIds) for (const c of deferredCodes.get(d) ?? []) out[c] = (out[c] ?? 0) + 1;
    return out;
  };
  // Outcomes as support sees them: a van whose gate holds a not-yet-installing deployment is `waiting`.
  const gates = new Map(
    (
      await db
        .selectFrom('vans')
        .select(['device_id', 'gate_state', 'gate_reason'])
        .where('decommissioned', '=', 0)
        .execute()
    ).map((v) => [v.device_id, { state: v.gate_state, reason: v.gate_reason }]),
  );
  // Only Mender's `failure` is a failure: a deferral is pending / downloading there, never failure.
  const failedVans = new Set(
    deps.flatMap((d) =>
      Object.entries(d.outcomes)
        .filter(([, o]) => o.status === 'failure')
        .map(([dev]) => dev),
    ),
  );
  return {
    id: r.id,
    release: r.release,
    status: r.status,
    pause_reason: r.pause_reason,
    created_at: r.created_at,
    created_by: r.created_by,
    updated_at: r.updated_at,
    vans: {
      eligible: facts.vans.filter((v) => !v.hold && !v.excluded).length,
      done,
      failed: failedVans.size,
      excluded: facts.vans.filter((v) => v.excluded).length,
      held: facts.vans.filter((v) => v.hold).length,
    },
    waves: facts.waves.map((w) => ({
      wave: w.wave,
      label: w.label,
      stage: w.stage,
      vans: w.deviceIds.length,
      opened_at: w.openedAt,
      closed_at: w.closedAt,
      deferred: deferredBy(w.deviceIds),
      deployments: deps
        .filter((d) => d.wave === w.wave)
        .map((d) => {
          const outcomes: Record<string, number> = {};
          for (const [dev, o] of Object.entries(d.outcomes)) {
            const shown = d.status === 'open' ? shownStatus(o.status, gates.get(dev)).status : o.status;
            outcomes[shown] = (outcomes[shown] ?? 0) + 1;
          }
          const seen = Object.keys(d.outcomes).length;
          if (d.deviceIds.length > seen) outcomes['not-seen'] = d.deviceIds.length - seen;
          return {
            name: d.name,
            component: d.component,
            mender_id: d.menderId,
            status: d.status,
            targets: d.deviceIds.length,
            outcomes,
          };
        }),
    })),
    next: (await planWithRevert(db, id, now)).map((s) => ({
      kind: s.kind,
      ...('reason' in s ? { reason: s.reason } : {}),
    })),
    revert: await revertView(db, r, now),
    events: await R.listEvents(db, id),
  };
}
