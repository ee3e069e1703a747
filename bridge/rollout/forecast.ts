// The rollout forecast (issue #17 item 6): before anything is deployed, what a rollout of a release would
// send — vans and bytes per wave and in total, and how many of those vans currently wait for an unmetered
// link. Pure: the waves come from `planRollout` itself (run forward on simulated facts in which every
// deployment succeeds), so they are exactly the waves the real rollout opens while nothing fails and the
// fleet does not change. See docs/rollouts.md "Forecast".
import type { Stage } from '../store/fleet-store.js';
import { type RolloutSettings, type VanFacts, type WaveFacts, atLeast, deltaFor, planRollout } from './planner.js';
import type { ReleaseComponent } from './release.js';

const HOUR = 3_600_000;

export interface ForecastVan extends VanFacts {
  /** Mender device type (picks the artifact of the release's artifact name built for it); null: unknown. */
  deviceType: string | null;
  /** The reason codes the van's gate last gave (`vans.gate_codes`, core/reason-codes.ts). */
  gateCodes: string[];
}

/** One synced artifact (a row of `artifacts`): Mender's `size` is the number of bytes a van downloads. */
export interface ForecastArtifact {
  id: string;
  name: string;
  deviceTypes: string[];
  size: number | null;
}

export interface ForecastFacts {
  now: Date;
  release: string;
  settings: RolloutSettings;
  /** In install order (dependencies first). */
  components: ReleaseComponent[];
  vans: ForecastVan[];
  artifacts: ForecastArtifact[];
}

export interface ForecastBytes {
  /** Full artifacts: per van, the size of each release component it lacks. */
  full_bytes: number;
  /** Delta artifacts (issue #17): per van on a delta's base version, the delta's size instead of the full one. */
  delta_bytes: number;
  /** Vans that take at least one component as a delta. */
  delta_vans: number;
  /** full_bytes + delta_bytes: what the fleet downloads if every van installs once. */
  bytes: number;
  /** Vans of this scope whose gate currently waits for an unmetered link (roaming, metered, hotspot). */
  waiting_unmetered: number;
  /** The bytes of those vans (they are counted in `bytes` too: they download once the link allows). */
  waiting_unmetered_bytes: number;
  /** Vans needing a component whose artifact size Mender did not report (their bytes are missing). */
  size_unknown: number;
}

export interface ForecastWave extends ForecastBytes {
  wave: number;
  label: string;
  stage: Stage;
  vans: number;
  /** The earliest the wave can open (previous soak / wave interval), assuming every update succeeds at once. */
  opens_at_earliest: string;
  /** Deployments the wave creates: per component, how many vans lack it. */
  components: {
    component: string;
    artifact_name: string;
    vans: number;
    full_bytes: number;
    /** Vans of `vans` that take the delta (on its base version), and their bytes. */
    delta_vans: number;
    delta_bytes: number;
  }[];
}

export interface RolloutForecast extends ForecastBytes {
  release: string;
  /** Vans in some wave (every van that downloads anything). */
  vans: number;
  fleet: {
    /** Accepted, non-decommissioned vans. */
    total: number;
    /** Already on every component version of the release (or newer): in no wave. */
    current: number;
    held: number;
    excluded: number;
  };
  waves: ForecastWave[];
  notes: string[];
}

/** A gate code that means "waiting for an unmetered link": roaming, metered or phone-hotspot rules. */
export function waitsForUnmetered(code: string): boolean {
  return /^(roaming|metered|hotspot)(_|$)/.test(code);
}

/** The size Mender reports for the artifact of that name a van of `deviceType` gets. */
const sizeOf = (
  facts: ForecastFacts,
  artifact: { artifact_id: string; artifact_name: string },
  deviceType: string | null,
): number | null => {
  const byName = facts.artifacts.filter((a) => a.name === artifact.artifact_name);
  const forType = deviceType === null ? undefined : byName.find((a) => a.deviceTypes.includes(deviceType));
  const a = forType ?? facts.artifacts.find((x) => x.id === artifact.artifact_id) ?? byName[0];
  return a?.size ?? null;
};

/**
 * Plan the rollout forward: open each wave the planner opens, let every van of it take the release, move
 * the clock past the soak or wave interval, and plan again until the planner completes.
 */
export function forecastRollout(facts: ForecastFacts): RolloutForecast {
  const s = facts.settings;
  const byId = new Map(facts.vans.map((v) => [v.deviceId, v]));
  const simVans: VanFacts[] = facts.vans.map((v) => ({ ...v, components: { ...v.components } }));
  const waves: WaveFacts[] = [];
  const out: ForecastWave[] = [];
  let now = facts.now;
  // Each step opens a wave of at least one van; the bound only guards against a planner bug.
  for (let i = 0; i <= facts.vans.length + 3; i++) {
    const steps = planRollout({
      now,
      rolloutId: 'forecast',
      release: facts.release,
      status: 'active',
      settings: s,
      components: facts.components,
      vans: simVans,
      waves,
      deployments: [],
      acknowledgedWaves: [],
    });
    const open = steps.find((x) => x.kind === 'open_wave');
    if (!open || open.kind !== 'open_wave') break;
    out.push(waveForecast(facts, open, now, byId));
    // The simulated outcome: every van of the wave now runs the release; the wave is closed.
    const members = new Set(open.deviceIds);
    for (const v of simVans)
      if (members.has(v.deviceId))
        for (const c of facts.components)
          if (!atLeast(v.components[c.component], c.version)) v.components[c.component] = c.version;
    const gap =
      open.stage === 'internal'
        ? s.soak_hours.internal
        : open.stage === 'pilot'
          ? s.soak_hours.pilot
          : s.wave_interval_hours;
    waves.push({
      wave: open.wave,
      label: open.label,
      stage: open.stage,
      deviceIds: open.deviceIds,
      openedAt: now.toISOString(),
      closedAt: now.toISOString(),
    });
    now = new Date(now.getTime() + gap * HOUR);
  }

  const sum = (k: keyof ForecastBytes) => out.reduce((a, w) => a + w[k], 0);
  const eligible = facts.vans.filter((v) => !v.hold && !v.excluded);
  const current = eligible.filter((v) =>
    facts.components.every((c) => atLeast(v.components[c.component], c.version)),
  ).length;
  return {
    release: facts.release,
    vans: out.reduce((a, w) => a + w.vans, 0),
    full_bytes: sum('full_bytes'),
    delta_bytes: sum('delta_bytes'),
    delta_vans: sum('delta_vans'),
    bytes: sum('bytes'),
    waiting_unmetered: sum('waiting_unmetered'),
    waiting_unmetered_bytes: sum('waiting_unmetered_bytes'),
    size_unknown: sum('size_unknown'),
    fleet: {
      total: facts.vans.length,
      current,
      held: facts.vans.filter((v) => v.hold).length,
      excluded: facts.vans.filter((v) => v.excluded && !v.hold).length,
    },
    waves: out,
    notes: [
      'bytes count, per van and component it lacks, the Mender artifact size of what the planner sends it: the delta artifact from the version it runs (delta_bytes) or else the full one (full_bytes)',
      'assumes every update succeeds on its first attempt and the fleet does not change; retries of failed vans download again',
      'waiting_unmetered: vans whose last gate codes are roaming, metered_* or hotspot_*; they are counted in bytes and download once the link allows',
    ],
  };
}

function waveForecast(
  facts: ForecastFacts,
  open: { wave: number; label: string; stage: Stage; deviceIds: string[] },
  now: Date,
  byId: Map<string, ForecastVan>,
): ForecastWave {
  const comps = facts.components.map((c) => ({
    component: c.component,
    artifact_name: c.artifact_name,
    vans: 0,
    full_bytes: 0,
    delta_vans: 0,
    delta_bytes: 0,
  }));
  let full = 0;
  let delta = 0;
  let deltaVans = 0;
  let waiting = 0;
  let waitingBytes = 0;
  let unknown = 0;
  for (const id of open.deviceIds) {
    const v = byId.get(id);
    if (!v) continue;
    let vanBytes = 0;
    let vanUnknown = false;
    let vanDelta = false;
    for (const [k, c] of facts.components.entries()) {
      const installed = v.components[c.component];
      if (atLeast(installed, c.version)) continue;
      // The planner's choice (artifactVariants): the delta from the version the van runs, if there is one.
      const d = deltaFor(c, installed);
      const size = sizeOf(facts, d ?? c, v.deviceType);
      comps[k]!.vans++;
      if (d) comps[k]!.delta_vans++;
      if (size === null) vanUnknown = true;
      else if (d) {
        comps[k]!.delta_bytes += size;
        delta += size;
        vanDelta = true;
        vanBytes += size;
      } else {
        comps[k]!.full_bytes += size;
        full += size;
        vanBytes += size;
      }
    }
    if (vanDelta) deltaVans++;
    if (vanUnknown) unknown++;
    if (v.gateCodes.some(waitsForUnmetered)) {
      waiting++;
      waitingBytes += vanBytes;
    }
  }
  return {
    wave: open.wave,
    label: open.label,
    stage: open.stage,
    vans: open.deviceIds.length,
    opens_at_earliest: now.toISOString(),
    full_bytes: full,
    delta_bytes: delta,
    delta_vans: deltaVans,
    bytes: full + delta,
    waiting_unmetered: waiting,
    waiting_unmetered_bytes: waitingBytes,
    size_unknown: unknown,
    components: comps.filter((c) => c.vans > 0),
  };
}
