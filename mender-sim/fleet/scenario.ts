// The fleet's seeded script: which virtual device fails, rolls back, defers or goes offline. A scenario is
// plain JSON (shares per behaviour plus per-device overrides); `assignBehaviours` turns it into one
// behaviour per device, deterministically from the seed, with exact counts (round(share × count)), so a
// test can predict a deployment's statistics to the device.
import { z } from 'zod';
import { ClientFlavours, type ClientFlavour } from '../../core/schemas/client.js';
import { type VpnStep, VpnStepsInArtifact } from '../../core/schemas/payload-index.js';

/** Why a scripted gate says "not now"; `roaming` and `metered_over_max` are the network policy's (issue #17). */
export const DeferralReasons = ['moving', 'weak_signal', 'low_battery', 'roaming', 'metered_over_max'] as const;
export type DeferralReason = (typeof DeferralReasons)[number];

/**
 * How a device's next update goes. `failure`: install fails; `rollback`: commit fails, it rolls back;
 * `energy_refused`: the install gate's energy budget never covers the update (issue #20): it waits out
 * its budget at ArtifactInstall_Enter, then refuses (exit 1), nothing installed.
 */
export const Outcomes = ['success', 'failure', 'rollback', 'energy_refused'] as const;
export type Outcome = (typeof Outcomes)[number];

/** The rootfs states a VanCore download gate can say "not now" in (core/schemas/client.ts NOT_NOW_STATE). */
export const DeferralStates = ['Download_Enter', 'Sync_Leave'] as const;
export type DeferralState = (typeof DeferralStates)[number];

export interface Deferral {
  /** How many deployment offers the gate turns down ("not now") before it lets one through. */
  polls: number;
  reason: DeferralReason;
  /**
   * Where the gate says it; default the client's own "not now" state (Download_Enter on 3.x, Sync_Leave on
   * 5.x). `Download_Enter` on a 5.x van is the 3.x layout on the C++ client: a reported failure.
   */
  at?: DeferralState;
}

export interface Behaviour {
  outcome: Outcome;
  deferral?: Deferral;
  /** Stops polling (and everything else) after this many completed update checks. */
  offline?: { afterPolls: number };
  /** The artifact the device runs at start, instead of the fleet's (e.g. to get `already-installed`). */
  artifactName?: string;
  /** Installed component versions at start, merged over the fleet's. */
  versions?: Record<string, string>;
  /**
   * vancore-vpn steps: `failStep` fails its probes at every install (the client rolls back, vpn.json
   * unchanged); `revertStep` commits, then the deadman reverts it (vpn.json `reverted` / previous step).
   */
  vpn?: { failStep?: VpnStep; revertStep?: VpnStep };
  /** After each commit its post-commit soak regresses (reported when the fleet reports soak, issue #20). */
  soakRegression?: boolean;
}

const Share = z.number().min(0).max(1);
const DeferralSpec = z.union([
  Share,
  z
    .object({
      share: Share,
      polls: z.number().int().min(1).default(3),
      reason: z.enum(DeferralReasons).default('moving'),
      at: z.enum(DeferralStates).optional(),
    })
    .strict(),
]);
const OfflineSpec = z.union([
  Share,
  z.object({ share: Share, afterPolls: z.number().int().min(0).default(1) }).strict(),
]);
/** Steps the deadman watches after a commit (retire is final). */
const RevertibleStep = z.enum(['add', 'verify', 'cutover']);
const VpnFailureSpec = z.union([
  Share,
  z.object({ share: Share, step: z.enum(VpnStepsInArtifact).default('verify') }).strict(),
]);
const VpnRevertSpec = z.union([Share, z.object({ share: Share, step: RevertibleStep.default('cutover') }).strict()]);
const BehaviourSpec = z
  .object({
    outcome: z.enum(Outcomes).default('success'),
    deferral: z
      .object({
        polls: z.number().int().min(1).default(3),
        reason: z.enum(DeferralReasons).default('moving'),
        at: z.enum(DeferralStates).optional(),
      })
      .strict()
      .optional(),
    offline: z
      .object({ afterPolls: z.number().int().min(0).default(1) })
      .strict()
      .optional(),
    artifactName: z.string().min(1).optional(),
    versions: z.record(z.string(), z.string()).optional(),
    vpn: z
      .object({ failStep: z.enum(VpnStepsInArtifact).optional(), revertStep: RevertibleStep.optional() })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The scenario format. Shares are fractions of the fleet and are disjoint slices of one seeded shuffle
 * (offline, then failure, rollback, deferral, vpnFailure, vpnRevert, energyRefused, soakRegression), so they must add up to at most 1. `overrides` replace the
 * drawn behaviour of single devices, keyed by device index ("0", "17") or van id.
 */
export const Scenario = z
  .object({
    failure: Share.optional(),
    rollback: Share.optional(),
    deferral: DeferralSpec.optional(),
    offline: OfflineSpec.optional(),
    /** vancore-vpn installs of `step` (default verify) fail their probes on these devices. */
    vpnFailure: VpnFailureSpec.optional(),
    /** The deadman reverts `step` (default cutover) on these devices after it committed. */
    vpnRevert: VpnRevertSpec.optional(),
    /** The install gate's energy budget refuses the update on these devices (outcome `energy_refused`). */
    energyRefused: Share.optional(),
    /** These devices' post-commit soak regresses after each commit (with the fleet's `reportSoak`). */
    soakRegression: Share.optional(),
    overrides: z.record(z.string(), BehaviourSpec).optional(),
  })
  .strict();
export type ScenarioInput = z.input<typeof Scenario>;

/** Parse a scenario (e.g. from JSON); throws a readable `path: message` error. */
export function parseScenario(raw: unknown): z.output<typeof Scenario> {
  const r = Scenario.safeParse(raw ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new RangeError(`scenario: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}`);
  }
  return r.data;
}

/** A 32-bit seed from a number or a string (FNV-1a for strings). */
export function seed32(seed: number | string): number {
  if (typeof seed === 'number') return seed >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast, well-spread PRNG; returns numbers in [0, 1). */
export function prng(seed: number | string): () => number {
  let a = seed32(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates with the seeded PRNG: a permutation of 0..n-1. */
export function shuffle(n: number, rand: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

/**
 * One behaviour per device index. Pure and deterministic: the same (count, seed, scenario, vanIds) always
 * gives the same answer. `vanIdOf` resolves override keys given as van ids.
 */
export function assignBehaviours(
  count: number,
  seed: number | string,
  scenarioRaw: unknown,
  vanIdOf: (index: number) => string = (i) => String(i),
): Behaviour[] {
  const scenario = parseScenario(scenarioRaw);
  const num = (v: number | { share: number } | undefined) =>
    v === undefined ? 0 : typeof v === 'number' ? v : v.share;
  const take = {
    offline: Math.round(num(scenario.offline) * count),
    failure: Math.round(num(scenario.failure) * count),
    rollback: Math.round(num(scenario.rollback) * count),
    deferral: Math.round(num(scenario.deferral) * count),
    vpnFailure: Math.round(num(scenario.vpnFailure) * count),
    vpnRevert: Math.round(num(scenario.vpnRevert) * count),
    energyRefused: Math.round(num(scenario.energyRefused) * count),
    soakRegression: Math.round(num(scenario.soakRegression) * count),
  };
  const total = Object.values(take).reduce((a, b) => a + b, 0);
  if (total > count)
    throw new RangeError(`scenario: the shares add up to ${total} devices, more than the fleet's ${count}`);

  const deferral: Deferral =
    typeof scenario.deferral === 'object'
      ? {
          polls: scenario.deferral.polls,
          reason: scenario.deferral.reason,
          ...(scenario.deferral.at ? { at: scenario.deferral.at } : {}),
        }
      : { polls: 3, reason: 'moving' };
  const afterPolls = typeof scenario.offline === 'object' ? scenario.offline.afterPolls : 1;

  const out: Behaviour[] = Array.from({ length: count }, () => ({ outcome: 'success' }));
  const order = shuffle(count, prng(seed));
  let k = 0;
  const slice = (n: number, set: (b: Behaviour) => void) => {
    for (let end = k + n; k < end; k++) set(out[order[k] as number] as Behaviour);
  };
  slice(take.offline, (b) => (b.offline = { afterPolls }));
  slice(take.failure, (b) => (b.outcome = 'failure'));
  slice(take.rollback, (b) => (b.outcome = 'rollback'));
  slice(take.deferral, (b) => (b.deferral = { ...deferral }));
  const failStep = typeof scenario.vpnFailure === 'object' ? scenario.vpnFailure.step : 'verify';
  const revertStep = typeof scenario.vpnRevert === 'object' ? scenario.vpnRevert.step : 'cutover';
  slice(take.vpnFailure, (b) => (b.vpn = { failStep }));
  slice(take.vpnRevert, (b) => (b.vpn = { revertStep }));
  slice(take.energyRefused, (b) => (b.outcome = 'energy_refused'));
  slice(take.soakRegression, (b) => (b.soakRegression = true));

  if (scenario.overrides) {
    const byVanId = new Map<string, number>();
    for (let i = 0; i < count; i++) byVanId.set(vanIdOf(i), i);
    for (const [key, spec] of Object.entries(scenario.overrides)) {
      const index = /^\d+$/.test(key) && Number(key) < count ? Number(key) : byVanId.get(key);
      if (index === undefined) throw new RangeError(`scenario: overrides.${key}: no such device index or van id`);
      const b: Behaviour = { outcome: spec.outcome };
      if (spec.deferral) {
        const { at, ...rest } = spec.deferral;
        b.deferral = { ...rest, ...(at ? { at } : {}) };
      }
      if (spec.offline) b.offline = { ...spec.offline };
      if (spec.artifactName !== undefined) b.artifactName = spec.artifactName;
      if (spec.versions) b.versions = { ...spec.versions };
      if (spec.vpn) b.vpn = { ...spec.vpn };
      out[index] = b;
    }
  }
  return out;
}

/**
 * Stage (rollout ring) per device: `{ dev: 0.01, pilot: 0.05 }` takes round(share × count) devices per
 * ring, in the order given, from a seeded shuffle independent of the behaviours; the rest have none.
 */
export function assignStages(
  count: number,
  seed: number | string,
  stages: Record<string, number> | undefined,
): (string | undefined)[] {
  const out: (string | undefined)[] = new Array<string | undefined>(count).fill(undefined);
  if (!stages) return out;
  const order = shuffle(count, prng(`${String(seed)}/stages`));
  let k = 0;
  for (const [name, share] of Object.entries(stages)) {
    if (!/^[A-Za-z0-9_-]{1,1024}$/.test(name))
      throw new RangeError(`stages: '${name}' is not a valid Mender group name`);
    if (!(share >= 0 && share <= 1)) throw new RangeError(`stages.${name}: the share must be between 0 and 1`);
    const n = Math.round(share * count);
    if (k + n > count) throw new RangeError('stages: the shares add up to more than the fleet');
    for (let end = k + n; k < end; k++) out[order[k] as number] = name;
  }
  return out;
}

/**
 * Which Mender client each device runs: `mix` is the share of `mender-update-5` vans (0–1) or one flavour
 * for all. round(share × count) devices from a seeded shuffle of their own, so the same (count, seed) gives
 * the same vans whatever the behaviours are.
 */
export function assignClients(count: number, seed: number | string, mix: number | ClientFlavour): ClientFlavour[] {
  if (typeof mix === 'string') {
    if (!(ClientFlavours as readonly string[]).includes(mix))
      throw new RangeError(`clients: '${String(mix)}' is not one of ${ClientFlavours.join(', ')}`);
    return new Array<ClientFlavour>(count).fill(mix);
  }
  if (!(mix >= 0 && mix <= 1))
    throw new RangeError(`clients: the share of mender-update-5 vans must be 0–1, got ${mix}`);
  const out = new Array<ClientFlavour>(count).fill('mender-3');
  const order = shuffle(count, prng(`${String(seed)}/clients`));
  for (const i of order.slice(0, Math.round(mix * count))) out[i] = 'mender-update-5';
  return out;
}
