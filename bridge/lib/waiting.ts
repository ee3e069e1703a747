// What a van's open deployment is shown as in our reports: Mender's status, unless the van's gate says
// it is waiting. Both clients report `downloading` while a van is actually waiting for its gate:
// the C++ client (mender-update ≥ 5) PUTs `downloading` before Download_Enter runs, and Go 3.4 PUTs
// `downloading` (with substates) while its Download_Enter defers (shared/mender-client/RECIPE-current.md,
// RECIPE.md). A 5.x van deferring at Sync_Leave stays `pending` in Mender. So while the van's own gate
// inventory says deferred or blocked, its open deployment is `waiting` (with the gate's reason) — never
// `downloading`, and never a failure: only Mender's `failure` is one (rollout counters count that alone).

/** Statuses of a deployment the van has not started installing yet. */
const NOT_STARTED = new Set(['pending', 'downloading']);

export interface GateFacts {
  state: string | null;
  reason: string | null;
}

export interface ShownStatus {
  /** Mender's status, or `waiting` while the gate holds a not-yet-installing deployment. */
  status: string;
  /** Set when `status` is `waiting`: the gate's state (`deferred` / `blocked`) and reason. */
  waiting?: { gate_state: string; reason: string | null };
}

export function shownStatus(menderStatus: string, gate: GateFacts | undefined): ShownStatus {
  const state = gate?.state;
  if (NOT_STARTED.has(menderStatus) && (state === 'deferred' || state === 'blocked'))
    return { status: 'waiting', waiting: { gate_state: state, reason: gate?.reason ?? null } };
  return { status: menderStatus };
}
