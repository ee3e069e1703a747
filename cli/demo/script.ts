// The demo's seeded story, as data: which virtual van sits in which ring, which ones drive, sit on weak
// LTE or a low battery when the release reaches them, which one has a failing app, and the rollout
// settings that fit internal soak, pilot soak and the fleet waves into about a minute and a half of real
// time. Pure: the same (vans, seed) always gives the same script (docs/demo.md).
import type { BridgeConfigInput } from '../../core/config/bridge-config.js';
import { prng, shuffle } from '../../mender-sim/fleet/scenario.js';
import type { ScenarioInput } from '../../mender-sim/fleet/index.js';

export const DEMO_DEVICE_TYPE = 'vanpc';
/** What every virtual van runs before the release (the fleet's defaults, stated here for the story). */
export const FACTORY = { artifactName: 'vancore-factory-0.9.0', versions: { platform: '0.9.0', app: '1.3.0' } };
export const RELEASE = { name: '2026.11.1', components: { platform: '1.0.0', app: '1.4.0' } } as const;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** The rollout settings frozen into the demo's rollout (bridge.yaml `rollout.*`). */
export const DEMO_ROLLOUT = {
  wave_percent: 10,
  wave_interval_hours: 24,
  soak_hours: { internal: 24, pilot: 48 },
  // Relaxed gates: one bad van in a small wave (the failing app, or the real client being slow) must not
  // halt the demo; production keeps the defaults (10 % / 90 %).
  max_failure_percent: 34,
  advance_success_percent: 60,
  max_failures_per_wave: 3,
  max_retries_per_van: 1,
} satisfies NonNullable<BridgeConfigInput['rollout']>;

export type Motion = 'parked' | 'driving' | 'weak_lte' | 'low_battery';

export interface DemoVan {
  index: number;
  stage: 'internal' | 'pilot' | 'fleet';
  motion: Motion;
  failingApp: boolean;
}

export interface DemoScript {
  vans: DemoVan[];
  /** For startVirtualFleet: every behaviour as a per-device override. */
  scenario: ScenarioInput;
  counts: { internal: number; pilot: number; fleet: number; driving: number; weakLte: number; lowBattery: number };
  failingVan: number;
}

/** Shares of the vans that defer when the release reaches them, and for how many offers. */
const MOTION = [
  { motion: 'driving', share: 0.15, reason: 'moving', polls: 2 },
  { motion: 'weak_lte', share: 0.1, reason: 'weak_signal', polls: 3 },
  { motion: 'low_battery', share: 0.05, reason: 'low_battery', polls: 2 },
] as const;

export function ringSizes(vans: number): { internal: number; pilot: number; fleet: number } {
  const internal = Math.max(1, Math.round((vans * 5) / 60));
  const pilot = Math.max(1, Math.round((vans * 10) / 60));
  return { internal, pilot, fleet: vans - internal - pilot };
}

export function demoScript(count: number, seed: string): DemoScript {
  const rings = ringSizes(count);
  // Rings from one seeded shuffle (set through the bridge's API once the vans are synced).
  const order = shuffle(count, prng(`${seed}/rings`));
  const stageOf = new Map<number, DemoVan['stage']>();
  order.forEach((index, k) =>
    stageOf.set(index, k < rings.internal ? 'internal' : k < rings.internal + rings.pilot ? 'pilot' : 'fleet'),
  );
  const pilotVans = order.slice(rings.internal, rings.internal + rings.pilot);
  const failingVan = pilotVans[0] ?? order[0] ?? 0;

  const vans: DemoVan[] = Array.from({ length: count }, (_, index) => ({
    index,
    stage: stageOf.get(index) ?? 'fleet',
    motion: 'parked',
    failingApp: index === failingVan,
  }));
  const overrides: NonNullable<ScenarioInput['overrides']> = {
    // The failing app: this van already runs the new platform (installed by hand before the release), and
    // its app install fails every time.
    [String(failingVan)]: { outcome: 'failure', versions: { platform: RELEASE.components.platform } },
  };
  const others = shuffle(count, prng(`${seed}/motion`)).filter((i) => i !== failingVan);
  let k = 0;
  const counts = { driving: 0, weakLte: 0, lowBattery: 0 };
  for (const m of MOTION) {
    const n = Math.round(m.share * count);
    for (const index of others.slice(k, k + n)) {
      (vans[index] as DemoVan).motion = m.motion;
      overrides[String(index)] = { deferral: { polls: m.polls, reason: m.reason } };
    }
    k += n;
    if (m.motion === 'driving') counts.driving = n;
    else if (m.motion === 'weak_lte') counts.weakLte = n;
    else counts.lowBattery = n;
  }
  return {
    vans,
    scenario: { overrides },
    counts: { ...rings, ...counts },
    failingVan,
  };
}

/** Simulated length of the rollout: soaks plus one wave interval per fleet wave after the first. */
export function plannedDays(fleetVans: number): { waves: number; days: number } {
  const size = Math.max(1, Math.ceil((DEMO_ROLLOUT.wave_percent / 100) * fleetVans));
  const waves = Math.ceil(fleetVans / size);
  const hours =
    DEMO_ROLLOUT.soak_hours.internal + DEMO_ROLLOUT.soak_hours.pilot + (waves - 1) * DEMO_ROLLOUT.wave_interval_hours;
  return { waves, days: hours / 24 };
}

/** Share of the virtual vans that run the C++ client `mender-update-5` (the rest run 3.4): half and half. */
export const DEMO_CLIENT_MIX = 0.5;
