// The inventory merge as a pure rule (issue #15): a van's stored record, what its device reported in
// this sync, and the time give the new record and the history rows to write. The store only loads the
// previous records and writes what this returns (fleet-store.ts applyInventory).
import { gateReasonCodes } from '../../core/gate-reason.js';
import { codesKey, parseCodes } from '../../core/reason-codes.js';
import type { DeviceSnapshot, Stage } from './fleet-store.js';
import type { GateHistoryTable, HealthReportsTable, VansTable } from './schema.js';

const b = (v: boolean | undefined): number | null => (v === undefined ? null : v ? 1 : 0);

export interface MergeInput {
  snapshot: DeviceSnapshot;
  /** The van id this device holds after the id assignment (van-ids.ts). */
  vanId: string;
  /** The stage a new van starts in (from its Mender tag, else `fleet`). */
  initialStage: Stage;
}

export interface MergeResult {
  row: VansTable;
  /** The record differs from the stored one in more than `updated_at` (unchanged rows are not written). */
  changed: boolean;
  /** Components whose version differs from the stored one. */
  components: { component: string; version: string }[];
  health: Omit<HealthReportsTable, 'id'> | undefined;
  gate: Omit<GateHistoryTable, 'id'> | undefined;
}

const HEALTH_KEYS = [
  'disk_ok',
  'temp_ok',
  'signal_quality',
  'battery_soc',
  'shore_power',
  'last_update_status',
] as const;

/**
 * The gate's reason codes as stored: `vancore.gate.codes` when the hub sends it, else the codes at the
 * head of its reason line (hubs before issue #15), sorted so that the same causes give the same value.
 */
export function storedGateCodes(reported: { codes?: string; reason?: string }): string | undefined {
  if (reported.codes !== undefined) return codesKey(parseCodes(reported.codes));
  if (reported.reason !== undefined) return codesKey(gateReasonCodes(reported.reason));
  return undefined;
}

export function mergeVan(
  previous: VansTable | undefined,
  reported: MergeInput,
  installed: ReadonlyMap<string, string> | undefined,
  now: string,
): MergeResult {
  const prev = previous;
  const s = reported.snapshot;
  const inv = s.inventory;
  const v = inv.vancore;
  const group = inv.system.group;
  // A record carrying system attributes without `group` is a device ops took out of its group.
  const hasSystem = Object.keys(inv.system).length > 0;
  const row: VansTable = {
    device_id: s.deviceId,
    van_id: reported.vanId,
    stage: prev?.stage ?? reported.initialStage,
    hold: prev?.hold ?? 0,
    excluded: prev?.excluded ?? 0,
    auth_status: s.authStatus ?? prev?.auth_status ?? null,
    device_type: inv.mender.device_type ?? prev?.device_type ?? null,
    artifact_name: inv.mender.artifact_name ?? prev?.artifact_name ?? null,
    mender_group: typeof group === 'string' ? group : hasSystem ? null : (prev?.mender_group ?? null),
    tags_json: JSON.stringify(inv.tags),
    first_seen: prev?.first_seen ?? now,
    last_check_in: s.checkInTime ?? prev?.last_check_in ?? null,
    inventory_updated_ts: s.inventoryUpdatedTs ?? prev?.inventory_updated_ts ?? null,
    gate_state: v.gate.state ?? prev?.gate_state ?? null,
    gate_phase: v.gate.phase ?? prev?.gate_phase ?? null,
    gate_reason: v.gate.reason ?? prev?.gate_reason ?? null,
    gate_codes: storedGateCodes(v.gate) ?? prev?.gate_codes ?? null,
    gate_since: v.gate.since ?? prev?.gate_since ?? null,
    vpn_state: v.vpn.state ?? prev?.vpn_state ?? null,
    vpn_step: v.vpn.step ?? prev?.vpn_step ?? null,
    disk_ok: b(v.health.disk_ok) ?? prev?.disk_ok ?? null,
    temp_ok: b(v.health.temp_ok) ?? prev?.temp_ok ?? null,
    signal_quality: v.health.signal_quality ?? prev?.signal_quality ?? null,
    battery_soc: v.health.battery_soc ?? prev?.battery_soc ?? null,
    shore_power: b(v.health.shore_power) ?? prev?.shore_power ?? null,
    last_update_status: v.health.last_update_status ?? prev?.last_update_status ?? null,
    client: v.client ?? prev?.client ?? null,
    data_month: v.data.month ?? prev?.data_month ?? null,
    data_month_kib:
      v.data.month_bytes !== undefined ? Math.round(v.data.month_bytes / 1024) : (prev?.data_month_kib ?? null),
    // The soak keys go together: a report with a state replaces all four (a passed soak has no reason).
    ...(v.soak.state !== undefined
      ? {
          soak_state: v.soak.state,
          soak_artifact: v.soak.artifact ?? null,
          soak_reason: v.soak.reason ?? null,
          soak_since: v.soak.since ?? null,
        }
      : {
          soak_state: prev?.soak_state ?? null,
          soak_artifact: prev?.soak_artifact ?? null,
          soak_reason: prev?.soak_reason ?? null,
          soak_since: prev?.soak_since ?? null,
        }),
    decommissioned: 0,
    updated_at: now,
  };
  // A resync mostly finds vans as they were: only changed rows are written.
  const changed =
    !prev || (Object.keys(row) as (keyof VansTable)[]).some((k) => k !== 'updated_at' && row[k] !== prev[k]);

  const components = Object.entries(v.components)
    .filter(([component, version]) => installed?.get(component) !== version)
    .map(([component, version]) => ({ component, version }));

  const health =
    HEALTH_KEYS.some((k) => v.health[k] !== undefined) && (!prev || HEALTH_KEYS.some((k) => row[k] !== prev[k]))
      ? {
          device_id: s.deviceId,
          at: now,
          disk_ok: row.disk_ok,
          temp_ok: row.temp_ok,
          signal_quality: row.signal_quality,
          battery_soc: row.battery_soc,
          shore_power: row.shore_power,
          last_update_status: row.last_update_status,
        }
      : undefined;

  // Gate history changes with the gate's state, phase or reason codes — never with the words of the
  // line (an age or a reading that keeps moving while the van waits for the same causes).
  const gate =
    row.gate_state &&
    (!prev ||
      prev.gate_state !== row.gate_state ||
      prev.gate_phase !== row.gate_phase ||
      (prev.gate_codes ?? storedGateCodes({ reason: prev.gate_reason ?? undefined }) ?? null) !== row.gate_codes)
      ? {
          device_id: s.deviceId,
          state: row.gate_state,
          phase: row.gate_phase,
          reason: row.gate_reason,
          codes: row.gate_codes,
          since: row.gate_since,
          recorded_at: now,
        }
      : undefined;

  return { row, changed, components, health, gate };
}
