// The vans' post-commit soak in a wave's gates (issue #20 item 2; docs/rollouts.md "Post-commit soak"),
// pure and kept apart from the planner, which calls it at two points:
//  * failure gate: a van of the wave that committed the whole release and now reports `vancore.soak.state`
//    `regressed` counts as a failed update of its wave (a failure that came hours after the commit);
//  * advance gate: with `device_soak.required` (default) a wave closes only when each such van reports
//    soak `passed` — a van that reports no soak at all (soak off, or a hub before the soak watcher) counts
//    as passed; vans still `watching` hold the wave for at most `device_soak.max_wait_hours` after its
//    last success, then it closes and the close reason names them.
import type { RolloutSettings, VanFacts, WaveFacts } from './planner.js';
import type { SoakStates } from '../../core/schemas/inventory.js';
import type { ReleaseComponent } from './release.js';
import { isRevertOf } from './revert-name.js';

/** As the van reports it (core/schemas/inventory.ts SoakStates), read by bridge/rollout/store.ts loadVans. */
export type SoakState = (typeof SoakStates)[number];

const HOUR = 3_600_000;

/**
 * A van's soak of this release: its reported state when the report is about one of the release's
 * artifacts (a component's full artifact or one of its deltas); `regressed` once the van went back from
 * the release on its own (its report is about a revert artifact of a release component: it was reverted
 * because its soak regressed, revert.soak_regressed_vans); `watching` while the report is still about an
 * earlier commit (the van committed, its inventory has not caught up); undefined when it reports none.
 */
export function releaseSoak(v: VanFacts | undefined, components: readonly ReleaseComponent[]): SoakState | undefined {
  if (v?.soak === undefined) return undefined;
  const a = v.soakArtifact;
  if (a === undefined) return v.soak;
  if (components.some((c) => c.artifact_name === a || c.deltas.some((d) => d.artifact_name === a))) return v.soak;
  if (components.some((c) => isRevertOf(a, c.component, c.version))) return 'regressed';
  return 'watching';
}

/** The wave's vans that committed the release and report a soak regression of it. */
export function soakRegressed(
  wave: WaveFacts,
  vans: Map<string, VanFacts>,
  complete: (id: string) => boolean,
  components: readonly ReleaseComponent[],
): string[] {
  return wave.deviceIds.filter((id) => complete(id) && releaseSoak(vans.get(id), components) === 'regressed');
}

/** The advance gate's success share does not count a van whose soak of the release regressed. */
export function soakFailed(v: VanFacts | undefined, components: readonly ReleaseComponent[]): boolean {
  return releaseSoak(v, components) === 'regressed';
}

/**
 * The advance gate's soak hold: a `wait` reason while updated vans still soak (until the deadline), or a
 * note for the close reason once the deadline passed with vans still watching; null when nothing holds.
 */
export function soakHold(
  wave: WaveFacts,
  vans: Map<string, VanFacts>,
  complete: (id: string) => boolean,
  components: readonly ReleaseComponent[],
  lastSuccess: number,
  now: Date,
  s: RolloutSettings,
): { wait: string } | { note: string } | null {
  if (!s.device_soak.required) return null;
  const watching = wave.deviceIds.filter((id) => complete(id) && releaseSoak(vans.get(id), components) === 'watching');
  if (watching.length === 0) return null;
  const deadline = lastSuccess + s.device_soak.max_wait_hours * HOUR;
  if (now.getTime() < deadline)
    return {
      wait: `wave ${wave.label}: ${watching.length} vans still soaking after their commit (waiting until ${new Date(deadline).toISOString()} at most)`,
    };
  return { note: `; ${watching.length} vans still soaking after ${s.device_soak.max_wait_hours} h` };
}
