// Request and response schemas of the reports API (classic zod: they also feed the OpenAPI document).
import * as z from 'zod';
import { AttentionCodes, VanSorts } from '../store/reports.js';

export const ErrorBody = z.object({ error: z.string(), code: z.string(), request_id: z.string() });

export const Paging = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(500).default(20),
});

const boolText = z.enum(['true', 'false']).transform((v) => v === 'true');

export const VanListQuery = Paging.extend({
  stage: z.enum(['internal', 'pilot', 'fleet']).optional(),
  component: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,31}$/)
    .optional(),
  version: z.string().max(64).optional(),
  gate_state: z.enum(['open', 'deferred', 'blocked']).optional(),
  needs_attention: boolText.optional(),
  include_decommissioned: boolText.optional(),
  /** Van ids containing this text (case-insensitive). */
  q: z.string().min(1).max(64).optional(),
  /** Order: a field, `-` first for descending; van id breaks ties. */
  sort: z.enum(VanSorts).default('van_id'),
  /** csv: every matching van (paging ignored), for spreadsheets. */
  format: z.enum(['json', 'csv']).default('json'),
}).refine((q) => !q.version || q.component, { message: 'version needs component', path: ['version'] });

export const VanSummary = z.object({
  van_id: z.string(),
  device_id: z.string(),
  stage: z.string(),
  hold: z.boolean(),
  device_type: z.string().nullable(),
  artifact_name: z.string().nullable(),
  auth_status: z.string().nullable(),
  components: z.record(z.string(), z.string()),
  gate: z.object({
    state: z.string().nullable(),
    phase: z.string().nullable(),
    reason: z.string().nullable(),
    /** The reason's codes (`vancore.gate.codes`, catalogue in core/reason-codes.ts). */
    codes: z.array(z.string()),
    since: z.string().nullable(),
  }),
  health: z.object({
    disk_ok: z.boolean().nullable(),
    temp_ok: z.boolean().nullable(),
    signal_quality: z.number().nullable(),
    battery_soc: z.number().nullable(),
    shore_power: z.boolean().nullable(),
    last_update_status: z.string().nullable(),
  }),
  vpn: z.object({ state: z.string().nullable(), step: z.string().nullable() }),
  /** The van's Mender client: `flavour` mender-3 | mender-update-5 and its version, null before it reported one. */
  client: z.object({ flavour: z.string(), version: z.string(), reported: z.string() }).nullable(),
  last_check_in: z.string().nullable(),
  decommissioned: z.boolean(),
});

export const AttentionItem = z.object({
  van_id: z.string(),
  device_id: z.string(),
  code: z.enum(AttentionCodes),
  detail: z.string(),
});

export const VanDetail = VanSummary.extend({
  first_seen: z.string(),
  mender_group: z.string().nullable(),
  tags: z.record(z.string(), z.unknown()),
  health_history: z.array(
    z.object({
      at: z.string(),
      battery_soc: z.number().nullable(),
      signal_quality: z.number().nullable(),
      disk_ok: z.boolean().nullable(),
      temp_ok: z.boolean().nullable(),
      shore_power: z.boolean().nullable(),
    }),
  ),
  gate_history: z.array(
    z.object({
      recorded_at: z.string(),
      state: z.string(),
      phase: z.string().nullable(),
      reason: z.string().nullable(),
      codes: z.array(z.string()),
      since: z.string().nullable(),
    }),
  ),
  updates: z.array(
    z.object({
      deployment_id: z.string(),
      deployment: z.string(),
      artifact_name: z.string(),
      /** Mender's status, or `waiting` while the van's gate defers / blocks a deployment not yet installing. */
      status: z.string(),
      mender_status: z.string(),
      waiting: z.object({ gate_state: z.string(), reason: z.string().nullable() }).optional(),
      started: z.string().nullable(),
      finished: z.string().nullable(),
      log_available: z.boolean(),
    }),
  ),
  quarantined: z.array(
    z.object({ scope: z.string(), name: z.string(), reason: z.string(), count: z.number(), last_seen: z.string() }),
  ),
  /** A replacement hub took this van id over from a decommissioned/rejected device (issue #16), newest first. */
  takeovers: z.array(z.object({ at: z.string(), old_device_id: z.string(), new_device_id: z.string() })),
  attention: z.array(AttentionItem),
});

export const FleetReport = z.object({
  vans_total: z.number(),
  by_stage: z.record(z.string(), z.number()),
  gate_states: z.record(z.string(), z.number()),
  versions: z.record(z.string(), z.array(z.object({ version: z.string(), vans: z.number() }))),
  outcomes: z.array(
    z.object({
      day: z.string(),
      success: z.number(),
      failure: z.number(),
      aborted: z.number(),
      already_installed: z.number(),
    }),
  ),
  /** Deferred vans per set of reason codes (one bucket per cause); `reason` is the codes' catalogue titles. */
  deferral_reasons: z.array(z.object({ reason: z.string(), codes: z.array(z.string()), vans: z.number() })),
  /** Vans per status of their open deployments, `waiting` instead of pending/downloading while the gate holds. */
  updates_in_progress: z.record(z.string(), z.number()),
  /** Deferred vans by the gate's reason code (a van deferred for two reasons counts under both). */
  deferral_codes: z.array(z.object({ code: z.string(), vans: z.number() })),
  quarantined_attributes: z.number(),
  /** Mender records (artifacts, deployments, devices) set aside as malformed, per kind. */
  quarantined_records: z.record(z.string(), z.number()),
});

export const AttentionQuery = z.object({
  format: z.enum(['json', 'csv']).default('json'),
  code: z.enum(AttentionCodes).optional(),
});

export const SyncRequest = z
  .object({ kind: z.enum(['incremental', 'reconcile', 'full']).default('incremental') })
  .default({ kind: 'incremental' });
export const SyncAccepted = z.object({
  status: z.enum(['started', 'joined']),
  kind: z.enum(['incremental', 'reconcile', 'full']),
});

export const UpdatePlanBody = z.object({
  update_required: z.boolean(),
  target: z.object({ release: z.string(), components: z.record(z.string(), z.string()) }).nullable(),
  artifacts: z.array(z.object({ name: z.string(), type: z.string(), url: z.string(), sha256: z.string() })),
  constraints: z.object({
    must_be_stationary: z.boolean(),
    stationary_minutes: z.number(),
    min_signal_quality: z.number(),
    min_battery_soc: z.number(),
    shore_power_overrides_battery: z.boolean(),
    maintenance_window: z
      .object({ days: z.array(z.string()), start: z.string(), end: z.string(), timezone: z.string() })
      .nullable(),
  }),
});

/** `GET /vans/:vanId/data` (bridge/store/data-ledger.ts vanData). */
export const VanData = z.object({
  van_id: z.string(),
  device_id: z.string(),
  month: z.string(),
  budget_bytes: z.number().nullable(),
  link_bytes: z.number().nullable(),
  ota_bytes: z.number(),
  used_bytes: z.number(),
  over_budget: z.boolean(),
  totals: z.object({ delivered: z.number(), at_most: z.number(), delta_delivered: z.number() }),
  deployments: z.array(
    z.object({
      deploymentId: z.string(),
      deployment: z.string(),
      artifactName: z.string(),
      status: z.string(),
      started: z.string().nullable(),
      finished: z.string().nullable(),
      kind: z.enum(['delta', 'full']),
      size: z.number().nullable(),
      count: z.enum(['delivered', 'at_most', 'none']),
      bytes: z.number(),
    }),
  ),
});

const WaveData = {
  vans: z.number(),
  delta_vans: z.number(),
  full_vans: z.number(),
  delta_bytes: z.number(),
  full_bytes: z.number(),
  failed_bytes_at_most: z.number(),
  size_unknown: z.number(),
};
/** `GET /rollouts/:id/data` (bridge/store/data-ledger.ts rolloutData). */
export const RolloutData = z.object({
  rollout_id: z.string(),
  waves: z.array(z.object({ wave: z.number(), ...WaveData })),
  total: z.object(WaveData),
});
