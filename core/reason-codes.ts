// The one catalogue of gate reason codes (issue #15): every code a gate can give, with the phases that
// give it and a human title. Shaped like balena-supervisor's src/lib/log-types.ts (one record per event,
// a stable machine name beside the words people read). The code is the contract: it travels in
// `vancore.gate.codes`, is stored in its own column by the bridge, and reports, history and the console
// group by it. The van's own line (`vancore.gate.reason`) keeps the detail of the moment (ages,
// readings); the title is what a grouped report shows for every van with that code.
//
// Dependency-free: the device executables, the bridge and the console's browser bundle all import it.

export type ReasonPhase = 'download' | 'install' | 'commit' | 'any';

export interface ReasonInfo {
  /** Which gate gives it (`any`: the common path, e.g. a bad config). */
  phases: readonly ReasonPhase[];
  /** What a person reads when vans are grouped by this code. */
  title: string;
  /** true: the gate let the update go ahead (not a reason to wait). */
  proceed?: true;
}

export const REASON_CATALOGUE = {
  conditions_met: { phases: ['download', 'install'], title: 'all conditions are met', proceed: true },
  validation_passed: { phases: ['commit'], title: 'the new version passed its validation', proceed: true },
  moving: { phases: ['download', 'install'], title: 'the van is moving' },
  settling: { phases: ['download', 'install'], title: 'the van has just stopped and is settling' },
  signal_low: { phases: ['download'], title: 'the signal is too weak for the download' },
  battery_low: { phases: ['download', 'install'], title: 'the battery is too low and there is no shore power' },
  outside_window: { phases: ['download', 'install'], title: 'outside the maintenance window' },
  stale_readings: { phases: ['download', 'install'], title: 'the sensor readings are too old' },
  readings_unknown: { phases: ['download', 'install'], title: 'no sensor readings yet' },
  readings_invalid: { phases: ['download', 'install'], title: 'the sensor readings file is unreadable' },
  config_invalid: { phases: ['any'], title: "the van's OTA configuration is invalid" },
  meta_data_invalid: { phases: ['install'], title: "the artifact's VanCore meta-data is invalid" },
  versions_unknown: { phases: ['install'], title: "the van's installed versions are unknown" },
  requires_unmet: { phases: ['install'], title: 'the artifact needs component versions the van does not have' },
  wait_budget_exhausted: { phases: ['install'], title: 'waited as long as allowed; the install is refused' },
  retry_time_limit: { phases: ['install'], title: "the client's retry time is nearly used up" },
  health_check_failed: { phases: ['commit'], title: 'a health check failed after the install' },
  cloud_unreachable: { phases: ['commit'], title: 'the cloud was unreachable after the install' },
  cloud_target_unknown: { phases: ['commit'], title: 'no cloud address to check after the install' },
  internal_error: { phases: ['any'], title: 'the gate failed unexpectedly' },
  // Presence and consent from Home Assistant (issue #21, state-scripts/policy/presence.ts).
  van_occupied: { phases: ['install'], title: 'someone is in the van' },
  someone_sleeping: { phases: ['install'], title: 'someone is sleeping in the van' },
  heating_on_hub: { phases: ['install'], title: 'the heating depends on the hub right now' },
  owner_postponed: { phases: ['install'], title: 'the owner postponed the update' },
  postpone_budget_exhausted: { phases: ['install'], title: 'the owner has used up the postponements' },
  presence_unknown: { phases: ['install'], title: 'presence in the van is unknown' },
  notice_pending: { phases: ['install'], title: 'the people in the van have been told; waiting out the notice' },
  // Data cost on LTE (issue #17): the download gate's network policy.
  roaming: { phases: ['download'], title: 'the modem is roaming' },
  metered_deferred: { phases: ['download'], title: 'the link is metered; downloads wait for an unmetered one' },
  metered_over_max: { phases: ['download'], title: 'the update is larger than allowed on a metered link' },
  hotspot_metered: { phases: ['download'], title: 'connected through a phone hotspot' },
  hotspot_over_max: { phases: ['download'], title: 'the update is larger than allowed through a phone hotspot' },
  roaming_over_small: { phases: ['download'], title: 'the modem is roaming and the update is not small' },
  roaming_size_unknown: { phases: ['download'], title: 'the modem is roaming and the update size is unknown' },
  metered_size_unknown: { phases: ['download'], title: 'the link is metered and the update size is unknown' },
  link_unknown: { phases: ['download'], title: 'the network link could not be determined' },
  // Rollout safety (issue #20).
  energy_budget: { phases: ['install'], title: 'the battery does not cover the update and a rollback' },
  downgrade_refused: { phases: ['install'], title: 'the artifact is older than the installed version' },
  artifact_replayed: { phases: ['install'], title: 'an older signed release was offered again' },
  delta_base_missing: {
    phases: ['install'],
    title: 'a layer the delta artifact builds on is not on this van: it needs the full artifact',
  },
  delta_digest_mismatch: {
    phases: ['install'],
    title: 'a layer or image config of the delta artifact does not match its digest',
  },
  // The post-commit soak (issue #20 item 2, agent-hooks/soak/): after the commit, in `vancore.soak.reason`.
  soak_container_restarts: { phases: ['commit'], title: 'containers kept restarting after the commit' },
  soak_health_failing: { phases: ['commit'], title: 'health checks kept failing after the commit' },
  soak_cloud_lost: { phases: ['commit'], title: 'the van lost contact with the server after the commit' },
} as const satisfies Record<string, ReasonInfo>;

export type ReasonCode = keyof typeof REASON_CATALOGUE;
export const ReasonCodes = Object.keys(REASON_CATALOGUE) as [ReasonCode, ...ReasonCode[]];

export function isReasonCode(code: string): code is ReasonCode {
  return Object.prototype.hasOwnProperty.call(REASON_CATALOGUE, code);
}

/** The title of a code; codes this release does not know (a newer hub) are shown as themselves. */
export function reasonTitle(code: string): string {
  if (code === 'none') return 'no reason reported';
  if (code === 'unknown') return 'a reason without codes (an older hub or a hand-set value)';
  return isReasonCode(code) ? REASON_CATALOGUE[code].title : `reason code ${code}`;
}

/**
 * The reason line `codes: messages` (docs/contracts.md) — the one formatter the gates' journal and the
 * virtual fleet both use. A reason without a message of its own gets its code's title.
 */
export function formatReasonLine(reasons: readonly { code: string; message?: string }[]): string {
  if (reasons.length === 0) return '';
  const codes = reasons.map((r) => r.code).join(', ');
  return `${codes}: ${reasons.map((r) => r.message ?? reasonTitle(r.code)).join('; ')}`;
}

/** `vancore.gate.codes`: the codes of a decision, comma-separated in the order the gate gave them. */
export function formatCodes(codes: readonly string[]): string {
  return [...new Set(codes)].join(',');
}

/** Codes from `vancore.gate.codes` (or a stored column); junk entries are dropped. */
export function parseCodes(text: string | null | undefined): string[] {
  if (!text) return [];
  return [
    ...new Set(
      text
        .split(',')
        .map((c) => c.trim())
        .filter((c) => /^[a-z][a-z0-9_]{0,63}$/.test(c)),
    ),
  ];
}

/** The grouping key of a set of codes: sorted, so `moving,signal_low` and `signal_low,moving` are one bucket. */
export function codesKey(codes: readonly string[]): string {
  return [...new Set(codes)].sort().join(',');
}
