// The attention report as one pure rule set (issue #15 item 2): facts loaded once by the store
// (store/reports.ts loadAttentionFacts) in, the vans that need a person out. No I/O, `now` in the
// arguments, so every code has a table test (test/unit/bridge/attention-rules.test.ts).
import satisfies from 'semver/functions/satisfies.js';
import { shownStatus } from '../lib/waiting.js';
import type { BudgetVerdict } from './data-ledger.js';

export interface AttentionThresholds {
  failed_times: number;
  deferred_days: number;
  not_seen_days: number;
  stuck_downloading_hours: number;
  /** Monthly cellular data budget per van in bytes (`reports.data_budget_mb_per_month`); null = off. */
  data_budget_bytes?: number | null;
}

export const AttentionCodes = [
  'failed_repeatedly',
  'rollback_loop',
  'deferred_long',
  'not_seen',
  'inconsistent_artifact',
  'stuck_downloading',
  'low_disk',
  'incompatible_components',
  'excluded_from_rollouts',
  'vpn_reverted',
  'vpn_manual_rollback',
  'clock_ahead',
  'data_over_budget',
  'revert_not_landed',
  'soak_regressed',
] as const;
export type AttentionCode = (typeof AttentionCodes)[number];

export interface AttentionItem {
  van_id: string;
  device_id: string;
  code: AttentionCode;
  detail: string;
}

/** The van fields the rules read (a subset of the stored record). */
export interface AttentionVan {
  device_id: string;
  van_id: string;
  gate_state: string | null;
  gate_reason: string | null;
  gate_since: string | null;
  last_check_in: string | null;
  artifact_name: string | null;
  disk_ok: number | null;
  excluded: number;
  vpn_state: string | null;
  vpn_step: string | null;
  /** The post-commit soak as reported (`vancore.soak.*`); absent in facts that predate it. */
  soak_state?: string | null;
  soak_reason?: string | null;
  soak_artifact?: string | null;
}

export interface AttentionFacts {
  /** Every live (not decommissioned) van. */
  vans: AttentionVan[];
  /** Every failed device deployment: which device, which artifact. */
  failures: { device_id: string; artifact_name: string }[];
  /** Device deployments Mender shows as downloading, with when they started. */
  downloading: { device_id: string; deployment_id: string; started: string | null }[];
  /** VPN migration vans whose rollback needs hands on the van. */
  manualVpnRollbacks: {
    device_id: string;
    migration_id: string;
    rollback_step: string | null;
    rollback_detail: string | null;
  }[];
  /** `component@version` → the `requires` of the artifact that version came from. */
  requires: ReadonlyMap<string, Record<string, string>>;
  /** Installed components per device. */
  components: ReadonlyMap<string, Record<string, string>>;
  /** This month's data verdict per device (store/data-ledger.ts monthVerdicts); empty without a budget. */
  data?: ReadonlyMap<string, BudgetVerdict>;
  /** Vans a rollout's revert did not take back, and why (bridge/rollout/revert.ts revertNotLanded). */
  revertsNotLanded?: { device_id: string; detail: string }[];
}

const DAY_MS = 86_400_000;
/** A hub clock this far ahead of the bridge's is flagged (#16 item 9); less is ordinary skew. */
const CLOCK_SKEW_MS = 10 * 60_000;

export function attention(facts: AttentionFacts, t: AttentionThresholds, now: Date): AttentionItem[] {
  const byDevice = new Map(facts.vans.map((v) => [v.device_id, v]));
  const items: AttentionItem[] = [];
  const add = (deviceId: string, code: AttentionCode, detail: string) => {
    const v = byDevice.get(deviceId);
    if (v) items.push({ van_id: v.van_id, device_id: deviceId, code, detail });
  };
  const nowMs = now.getTime();

  const failCount = new Map<string, number>();
  const perArtifact = new Map<string, number>();
  for (const f of facts.failures) {
    failCount.set(f.device_id, (failCount.get(f.device_id) ?? 0) + 1);
    const k = `${f.device_id}\u0000${f.artifact_name}`;
    perArtifact.set(k, (perArtifact.get(k) ?? 0) + 1);
  }
  for (const [device, n] of failCount) if (n >= t.failed_times) add(device, 'failed_repeatedly', `${n} failed updates`);
  for (const [k, n] of perArtifact) {
    if (n < 2) continue;
    const [device, artifact] = k.split('\u0000') as [string, string];
    add(device, 'rollback_loop', `${artifact} failed and rolled back ${n} times`);
  }

  for (const v of facts.vans) {
    if (v.gate_state === 'deferred' && v.gate_since && nowMs - Date.parse(v.gate_since) > t.deferred_days * DAY_MS) {
      const d = ((nowMs - Date.parse(v.gate_since)) / DAY_MS).toFixed(1);
      add(v.device_id, 'deferred_long', `deferred ${d} days: ${v.gate_reason ?? 'no reason reported'}`);
    }
    // A gate dated in the future (a hub's clock ahead, or a forged value) would never count as
    // "deferred long": it is flagged instead.
    if (v.gate_since && Date.parse(v.gate_since) - nowMs > CLOCK_SKEW_MS)
      add(v.device_id, 'clock_ahead', `gate state dated ${v.gate_since}, after the bridge's ${now.toISOString()}`);
    if (!v.last_check_in || nowMs - Date.parse(v.last_check_in) > t.not_seen_days * DAY_MS)
      add(v.device_id, 'not_seen', v.last_check_in ? `last seen ${v.last_check_in}` : 'never checked in');
    if (v.artifact_name?.endsWith('_INCONSISTENT'))
      add(v.device_id, 'inconsistent_artifact', `artifact ${v.artifact_name}`);
    if (v.disk_ok === 0) add(v.device_id, 'low_disk', 'disk check failing');
    // The van's post-commit soak regressed on the artifact it runs (issue #20 item 2).
    if (v.soak_state === 'regressed' && (!v.soak_artifact || v.soak_artifact === v.artifact_name))
      add(
        v.device_id,
        'soak_regressed',
        `${v.soak_artifact ?? v.artifact_name ?? 'the last update'} regressed after its commit: ${v.soak_reason ?? 'no reason reported'}`,
      );
    // Set by the rollout controller after a van failed more times than rollout.max_retries_per_van.
    if (v.excluded === 1)
      add(
        v.device_id,
        'excluded_from_rollouts',
        'excluded from rollouts after repeated failures; clear it with PATCH /api/v1/vans/:vanId',
      );
    // VPN migration (docs/vpn-migration.md): the van's deadman put the previous step back.
    if (v.vpn_state === 'reverted')
      add(
        v.device_id,
        'vpn_reverted',
        `VPN migration reverted by the van's deadman (now at step ${v.vpn_step ?? 'unknown'}); support access is back on the previous VPN`,
      );
  }

  // Ops asked for a rollback that only hands on the van can do (the migration's per-van record).
  for (const m of facts.manualVpnRollbacks)
    add(
      m.device_id,
      'vpn_manual_rollback',
      `VPN migration ${m.migration_id}: the rollback${m.rollback_step ? ` of step ${m.rollback_step}` : ''} needs hands on the van${m.rollback_detail ? `: ${m.rollback_detail}` : ''}`,
    );

  // A rollout's revert (issue #20 item 1) that did not take this van back to the previous release.
  for (const r of facts.revertsNotLanded ?? []) add(r.device_id, 'revert_not_landed', r.detail);

  for (const d of facts.downloading) {
    // A van whose gate holds the update is waiting, not stuck (deferred_long covers it).
    const v = byDevice.get(d.device_id);
    if (v && shownStatus('downloading', { state: v.gate_state, reason: v.gate_reason }).status === 'waiting') continue;
    if (d.started && nowMs - Date.parse(d.started) > t.stuck_downloading_hours * 3_600_000)
      add(d.device_id, 'stuck_downloading', `downloading since ${d.started} (deployment ${d.deployment_id})`);
  }

  // Issue #17 item 5: a van over its monthly data budget (its modem's counter, or the OTA bytes).
  const mb = (n: number) => `${(n / 1_048_576).toFixed(1)} MB`;
  for (const [device, d] of facts.data ?? [])
    if (d.over_budget && d.budget_bytes !== null)
      add(
        device,
        'data_over_budget',
        `${mb(d.used_bytes)} used in ${d.month} of a ${mb(d.budget_bytes)} budget (cellular ${d.link_bytes === null ? 'not reported' : mb(d.link_bytes)}, OTA ${mb(d.ota_bytes)})`,
      );

  // Installed combinations against the `requires` of the artifact each installed version came from.
  for (const [device, installed] of facts.components) {
    for (const [component, version] of Object.entries(installed)) {
      for (const [needed, range] of Object.entries(facts.requires.get(`${component}@${version}`) ?? {})) {
        const have = installed[needed];
        if (!have || !satisfies(have, range))
          add(
            device,
            'incompatible_components',
            `${component} ${version} requires ${needed} ${range}, has ${have ?? 'none'}`,
          );
      }
    }
  }
  return items.sort((a, b) => a.van_id.localeCompare(b.van_id) || a.code.localeCompare(b.code));
}
