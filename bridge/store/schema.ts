// Table types of the fleet database. Times are ISO 8601 UTC text and booleans are 0/1 integers in
// both dialects, so one query layer reads the same values from SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface VansTable {
  device_id: string;
  van_id: string;
  stage: string;
  hold: number;
  excluded: number;
  auth_status: string | null;
  device_type: string | null;
  artifact_name: string | null;
  mender_group: string | null;
  tags_json: string;
  first_seen: string;
  last_check_in: string | null;
  inventory_updated_ts: string | null;
  gate_state: string | null;
  gate_phase: string | null;
  gate_reason: string | null;
  /** The gate's reason codes, sorted and comma-separated (`vancore.gate.codes`, issue #15); reports group by it. */
  gate_codes: string | null;
  gate_since: string | null;
  vpn_state: string | null;
  vpn_step: string | null;
  disk_ok: number | null;
  temp_ok: number | null;
  signal_quality: number | null;
  battery_soc: number | null;
  shore_power: number | null;
  last_update_status: string | null;
  /** `vancore.client` as the van reports it (`mender/3.4.0`, `mender-update/5.1.0`); null before it did. */
  client: string | null;
  /** Cellular data the van reported for this month (`vancore.data.*`, issue #17 item 5); null before it did. */
  data_month?: string | null;
  data_month_kib?: number | null;
  /**
   * The van's post-commit soak (`vancore.soak.*`, issue #20 item 2; migration 0009): watching | passed |
   * regressed | off, the regression's reason line, the artifact whose commit it watches, since when (the
   * van's clock). Null before reported. Optional on insert.
   */
  soak_state?: string | null;
  soak_reason?: string | null;
  soak_artifact?: string | null;
  soak_since?: string | null;
  decommissioned: number;
  updated_at: string;
}

export interface VanComponentsTable {
  device_id: string;
  component: string;
  version: string;
  updated_at: string;
}

export interface HealthReportsTable {
  id: Generated<number>;
  device_id: string;
  at: string;
  disk_ok: number | null;
  temp_ok: number | null;
  signal_quality: number | null;
  battery_soc: number | null;
  shore_power: number | null;
  last_update_status: string | null;
}

export interface GateHistoryTable {
  id: Generated<number>;
  device_id: string;
  state: string;
  phase: string | null;
  reason: string | null;
  /** The codes of `reason` (sorted, comma-separated): a row is added only when state, phase or codes change. */
  codes: string | null;
  since: string | null;
  recorded_at: string;
}

/** Issue #16 item 4: a replacement hub took over a van id released by a decommissioned/rejected device. */
export interface VanTakeoversTable {
  id: Generated<number>;
  van_id: string;
  old_device_id: string;
  new_device_id: string;
  at: string;
}

export interface DeploymentsTable {
  id: string;
  name: string;
  artifact_name: string;
  status: string;
  created: string;
  finished: string | null;
  device_count: number;
  max_devices: number | null;
  stats_json: string | null;
  synced_at: string;
}

export interface DeploymentDevicesTable {
  deployment_id: string;
  device_id: string;
  status: string;
  started: string | null;
  finished: string | null;
  log_available: number;
  updated_at: string;
}

export interface QuarantineTable {
  device_id: string;
  scope: string;
  name: string;
  reason: string;
  count: number;
  last_seen: string;
}

export interface ArtifactsTable {
  id: string;
  name: string;
  component: string | null;
  version: string | null;
  requires_json: string;
  constraints_json: string | null;
  payload_type: string | null;
  /**
   * `vancore-vpn` artifacts: the step their meta-data records (`vancore.vpn.step`, migration 0004); null
   * when not recorded (older builds). Optional on insert: other artifacts need not name it.
   */
  vpn_step?: string | null;
  /**
   * Revert artifacts: the version they take the component back from (`vancore.revert_of`, migration 0009);
   * null for every ordinary artifact. Optional on insert.
   */
  revert_of?: string | null;
  /** sha256 of the whole .mender file, computed once by the bridge (artifacts are immutable). */
  sha256: string | null;
  device_types_json: string;
  size: number | null;
  /** A layer-delta artifact: the component version it is a delta from (`vancore.delta_of`); else null. */
  delta_of?: string | null;
  signed: number;
  modified: string | null;
  synced_at: string;
}

export interface SyncStateTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface Database {
  vans: VansTable;
  van_components: VanComponentsTable;
  health_reports: HealthReportsTable;
  gate_history: GateHistoryTable;
  deployments: DeploymentsTable;
  deployment_devices: DeploymentDevicesTable;
  quarantine: QuarantineTable;
  artifacts: ArtifactsTable;
  sync_state: SyncStateTable;
  releases: ReleasesTable;
  rollouts: RolloutsTable;
  rollout_waves: RolloutWavesTable;
  rollout_reverts: RolloutRevertsTable;
  vpn_migrations: VpnMigrationsTable;
  vpn_migration_vans: VpnMigrationVansTable;
  tracked_deployments: TrackedDeploymentsTable;
  tracked_outcomes: TrackedOutcomesTable;
  owner_events: OwnerEventsTable;
  van_takeovers: VanTakeoversTable;
}

export interface ReleasesTable {
  name: string;
  /** `[{component, version, artifact_id, artifact_name, requires}]` in install order. */
  components_json: string;
  created_at: string;
  created_by: string;
}

export interface RolloutsTable {
  id: string;
  release: string;
  /** active | paused | completed | aborted */
  status: string;
  pause_reason: string | null;
  /** The rollout settings frozen at creation, so a config change never reshapes a running rollout. */
  settings_json: string;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface RolloutWavesTable {
  rollout_id: string;
  wave: number;
  label: string;
  stage: string;
  device_ids_json: string;
  opened_at: string;
  closed_at: string | null;
}

/** A rollout's revert (issue #20 item 1; bridge/rollout/revert.ts): at most one per rollout. */
export interface RolloutRevertsTable {
  rollout_id: string;
  /** The bad release (the rollout's). */
  release: string;
  /** The release the vans go back to: the last completed rollout's before this one; null when none. */
  previous_release: string | null;
  /** active | finished */
  status: string;
  reason: string;
  /** `controller` (the policy crossed) or the ops token's name (`rollout revert`). */
  started_by: string;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
}

// ---- VPN migration (issue #9, bridge side; bridge/vpn/) ---------------------------------------------

export interface VpnMigrationsTable {
  id: string;
  /** active | completed | cancelled */
  status: string;
  /** `{add, verify, cutover, retire}` → artifact name. */
  artifacts_json: string;
  /** The migration settings frozen at creation. */
  settings_json: string;
  /** `{stages?, tag?, vans?}`: the vans it covers (migration 0004); null: every accepted van. */
  scope_json: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
}

/** Ops' per-van records (a row only once ops acted on the van). */
export interface VpnMigrationVansTable {
  migration_id: string;
  device_id: string;
  hold: number;
  hold_reason: string | null;
  /** Failures of attempts created before this are forgiven (a release). */
  reset_at: string | null;
  /** redeploy | manual | nothing, or null: no rollback asked for. */
  rollback_kind: string | null;
  rollback_step: string | null;
  rollback_requested_at: string | null;
  rollback_detail: string | null;
  updated_at: string;
}

// ---- The deployment tracker (issue #15 item 3; bridge/lib/deployment-tracker.ts) -----------------------
// One set of tables for every Mender deployment the bridge makes on behalf of an owner: a rollout, a VPN
// migration, or (later) an automatic revert. Migration 0008 moved the rows of the former per-owner tables
// (rollout_deployments / _outcomes / _events, vpn_migration_deployments / _outcomes / _events) here.

/** Who a deployment or audit event belongs to. */
export type OwnerKind = 'rollout' | 'vpn' | 'revert';

export interface TrackedDeploymentsTable {
  /** Insertion order: ties of `created_at` (a bridge clock that did not move) sort by it. */
  id: Generated<number>;
  /**
   * Deterministic, and unique across owners (each owner kind has its own prefix: `vancore <release>
   * <rollout> w<wave> <component>`, `vancore-vpn <migration> b<batch> <step>[ rollback]`). Mender
   * deployments are found again by it. Written, with the intent below, before Mender is called.
   */
  name: string;
  owner_kind: OwnerKind;
  /** The rollout's or migration's id. */
  owner_id: string;
  /** The owner's round: a rollout's wave, a VPN migration's batch. */
  round: number;
  /** What the round deploys: a rollout's component, a VPN migration's step. */
  subject: string;
  /** forward | rollback (VPN migration) | revert */
  purpose: string;
  /** The intent: the artifact and the devices, as given to Mender. */
  artifact_name: string;
  device_ids_json: string;
  /** Null until Mender created it. */
  mender_id: string | null;
  /** intent | open | finished | aborted */
  status: string;
  created_at: string;
  updated_at: string;
}

/** Mender's per-device status of a tracked deployment, with the bridge-clock time it became final. */
export interface TrackedOutcomesTable {
  name: string;
  device_id: string;
  status: string;
  finished_at: string | null;
  updated_at: string;
}

/** The audit trail of every owner: who did what, when and why. */
export interface OwnerEventsTable {
  owner_kind: OwnerKind;
  /**
   * Numbered per owner kind (the key is `(owner_kind, id)`), ascending in the order written: a rollout's
   * event ids are its Server-Sent Events cursor, and the former tables' ids were kept as they were.
   */
  id: number;
  owner_id: string;
  /** The van it concerns (VPN migration ops actions), or null. */
  device_id: string | null;
  at: string;
  actor: string;
  action: string;
  reason: string | null;
  detail_json: string | null;
}
