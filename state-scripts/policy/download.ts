// Download_Enter, pure. Under the daemon, exit 1 at Download_Enter means "not now": the client goes
// back to idle, reports no failure and fetches the deployment again at its next poll (RECIPE §5.2).
// Exit 21 blocks the daemon (no polls, no inventory) until the script says otherwise, so it is kept
// for waits that are known to clear within `short_wait_seconds` (docs/gates.md, "21 or 1").
import { assessConditions, readingsSummary, type Conditions, type Staleness } from './conditions.js';
import { assessPresence, presenceSummary, type PresenceFacts } from './presence.js';
import { assessNetwork, networkSummary, type NetworkFacts, type NetworkPolicy, type SizeHint } from './network.js';
import { failing, human, reason, reasonsOf, type ReadingsFacts, type Verdict, type WallClock } from './types.js';

export interface DownloadFacts {
  now: Date;
  policy: Conditions & { short_wait_seconds: number };
  staleness: Staleness;
  readings: ReadingsFacts;
  /** Wall clock in the window's zone (null when no window is configured). */
  wall_clock: WallClock | null;
  /** Presence and consent from Home Assistant, when configured (policy/presence.ts). */
  presence?: PresenceFacts;
  /** The network policy and the link facts (policy/network.ts); absent = not assessed (sensord's wake rule). */
  network?: { policy: NetworkPolicy; facts: NetworkFacts };
}

export function decideDownload(f: DownloadFacts): Verdict {
  const checks = [
    ...assessConditions(f.policy, f),
    ...(f.presence ? assessPresence(f.presence) : []),
    ...(f.network ? assessNetwork(f.network.policy, f.network.facts, f.now) : []),
  ];
  const bad = failing(checks);
  const facts = {
    now: f.now.toISOString(),
    policy: f.policy,
    readings: readingsSummary(f.readings, f.now),
    ...(f.wall_clock ? { wall_clock: f.wall_clock } : {}),
    ...(f.presence ? { presence: presenceSummary(f.presence) } : {}),
    ...(f.network ? { network: networkSummary(f.network.policy, f.network.facts, f.now) } : {}),
  };
  if (bad.length === 0) {
    return {
      verdict: 'proceed',
      reasons: [reason('conditions_met', checks.map((c) => c.message).join('; ') || 'no conditions configured')],
      checks,
      facts,
    };
  }
  const waits = bad.map((c) => c.clears_in_s);
  const longest = waits.every((s): s is number => s !== null) ? Math.max(...waits) : null;
  const short = longest !== null && longest <= f.policy.short_wait_seconds;
  return {
    verdict: short ? 'retry' : 'defer',
    reasons: reasonsOf(bad),
    checks,
    facts: { ...facts, expected_wait: longest === null ? 'unknown' : human(longest) },
  };
}

/**
 * Whether the download gate's size probe should ask the server (sense/size-probe.ts, docs/gates.md "The
 * download size"): `none` when no size rule is undecided without a size; `held` when other checks hold
 * the download whatever its size (a driving van, a closed window: no data spent on a size it cannot use
 * yet, and none in a retry loop); `ask` when only the size decides.
 */
export function sizeProbeNeed(f: DownloadFacts): 'none' | 'held' | 'ask' {
  const net = f.network;
  if (!net) return 'none';
  const withHint = (size_hint: SizeHint | null) =>
    decideDownload({ ...f, network: { ...net, facts: { ...net.facts, size_hint } } });
  if (!withHint(null).reasons.some((r) => r.code.endsWith('_size_unknown'))) return 'none';
  const anySize: SizeHint = { bytes: 0, artifact_name: null, at: f.now.toISOString(), source: 'what-if' };
  return withHint(anySize).verdict === 'proceed' ? 'ask' : 'held';
}
