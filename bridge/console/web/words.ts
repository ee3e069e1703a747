// Plain words for the codes the bridge stores: gate states and reason codes (core/schemas/gate.ts,
// docs/contracts.md), attention codes (bridge/store/reports.ts), VPN states and steps. A code without
// words shows as itself, so a new code is never hidden.
import type { AttentionCode } from '../../store/reports.js';
import { ReasonCodes, reasonTitle } from '../../../core/reason-codes.js';

export const gateStateWords: Record<string, string> = {
  open: 'Free to update',
  deferred: 'Waiting for better conditions',
  blocked: 'Refused by a check',
};

/** Gate reason codes in words: the one catalogue's titles (core/reason-codes.ts), never a second list. */
export const reasonWords: Record<string, string> = Object.fromEntries(
  [...ReasonCodes, 'none', 'unknown'].map((code) => [code, reasonTitle(code)]),
);

export const attentionWords: Record<AttentionCode, { what: string; action: string }> = {
  failed_repeatedly: {
    what: 'Updates failed repeatedly',
    action: "Read the deployment logs in Mender's UI and fix the cause before the next attempt.",
  },
  rollback_loop: {
    what: 'Same artifact failed and rolled back more than once',
    action: 'Stop offering that artifact to this van and check why validation fails.',
  },
  deferred_long: {
    what: 'Waiting for a long time',
    action: 'Ask the owner to park with signal and power for a while, or check the sensors.',
  },
  not_seen: { what: 'Not seen lately', action: 'Contact the owner: the hub has not checked in with Mender.' },
  inconsistent_artifact: {
    what: 'Installed state is inconsistent',
    action: 'Reinstall a known release on the van.',
  },
  stuck_downloading: {
    what: 'Download stuck',
    action: "Check the van's connection; abort the deployment in Mender if it stays stuck.",
  },
  low_disk: { what: 'Disk almost full', action: 'Free space on the hub (old images, logs).' },
  incompatible_components: {
    what: 'Components do not fit together',
    action: 'Deploy a release whose component versions match each other.',
  },
  excluded_from_rollouts: {
    what: 'Left out of rollouts after failures',
    action: 'Fix the cause, then re-admit the van (ops: vancore-ota rollout van … --include).',
  },
  vpn_reverted: {
    what: 'VPN step reverted by the van',
    action: 'Check the Headscale path from this van, then release it in the VPN migration.',
  },
  clock_ahead: {
    what: "The hub's clock is ahead",
    action: 'Check the hub time source (GNSS / NTP); its gate decisions look dated in the future.',
  },
  vpn_manual_rollback: {
    what: 'VPN rollback needs hands on the van',
    action: 'Follow docs/vpn-migration.md (manual rollback) with the owner or a technician.',
  },
  revert_not_landed: {
    what: "The rollout's revert did not reach this van",
    action:
      'Check the revert deployment in Mender (or build and upload the revert artifact it names), then deploy it again.',
  },
  soak_regressed: {
    what: 'Health regressed after the update committed',
    action: 'Read the soak reason on the van page; revert the van (rollout revert) or fix the service.',
  },
  data_over_budget: {
    what: 'Over its monthly data budget',
    action:
      'Hold the van from rollouts until next month or until it is on Wi-Fi / shore (GET /api/v1/vans/:vanId/data).',
  },
};

export const vpnStateWords: Record<string, string> = {
  tailscale: 'on Tailscale (not migrated yet)',
  dual: 'on both Tailscale and Headscale',
  headscale: 'on Headscale',
  retired: 'on Headscale, Tailscale removed',
  reverted: 'reverted to the previous step by the van',
  unknown: 'not reported',
};

export const vpnStepWords: Record<string, string> = {
  none: 'not started',
  add: 'Headscale added',
  verify: 'Headscale verified',
  cutover: 'switched to Headscale',
  retire: 'Tailscale retired',
};

export const words = (table: Record<string, string>, code: string | null | undefined): string =>
  code ? (table[code] ?? code) : 'unknown';

export { gateReasonCodes, gateReasonMessage as reasonMessage } from '../../../core/gate-reason.js';
