// The VanCore update plan for one van (docs/contracts.md "Update plan"), as a pure function of facts the
// /plan route loads once (`PlanFacts`: the van's device type and installed versions, the known VanCore
// artifacts, which release reached the van). The target is the newest version of each component whose
// `requires` the rest of the target satisfies. No clock, no I/O: table tests in test/unit/bridge/plan.test.ts.
import rcompare from 'semver/functions/rcompare.js';
import satisfies from 'semver/functions/satisfies.js';
import gt from 'semver/functions/gt.js';
import { Constraints, type Constraints as ConstraintsT } from '../core/schemas/artifact-meta.js';
import { PayloadTypes } from '../core/schemas/common.js';
import type { ArtifactsTable } from './store/schema.js';

export interface KnownArtifact {
  id: string;
  name: string;
  component: string;
  version: string;
  payloadType: string;
  deviceTypes: string[];
  requires: Record<string, string>;
  constraints: ConstraintsT;
}

export interface VanPlan {
  update_required: boolean;
  target: { release: string; components: Record<string, string> } | null;
  steps: KnownArtifact[];
  constraints: ConstraintsT;
}

/** Pick the target set: per component the newest version whose requires the other picks satisfy. */
export function chooseTarget(artifacts: KnownArtifact[]): Map<string, KnownArtifact> {
  const byComponent = new Map<string, KnownArtifact[]>();
  for (const a of artifacts) byComponent.set(a.component, [...(byComponent.get(a.component) ?? []), a]);
  for (const list of byComponent.values()) list.sort((x, y) => rcompare(x.version, y.version));
  const pick = new Map<string, KnownArtifact>();
  for (const [c, list] of byComponent) pick.set(c, list[0]!);
  // Step a component back while its requires are not met by the others; each step only lowers a
  // version, so this ends.
  for (let changed = true; changed;) {
    changed = false;
    for (const [c, a] of pick) {
      const ok = Object.entries(a.requires).every(([need, range]) => {
        const have = pick.get(need);
        return have !== undefined && satisfies(have.version, range);
      });
      if (ok) continue;
      const list = byComponent.get(c)!;
      const next = list[list.indexOf(a) + 1];
      if (next) pick.set(c, next);
      else pick.delete(c);
      changed = true;
    }
  }
  return pick;
}

/** Dependencies first: a component comes after every component it requires. */
export function installOrder(steps: KnownArtifact[]): KnownArtifact[] {
  const remaining = [...steps].sort((a, b) => a.component.localeCompare(b.component));
  const done = new Set<string>();
  const out: KnownArtifact[] = [];
  while (remaining.length) {
    const i = remaining.findIndex((a) =>
      Object.keys(a.requires).every((need) => done.has(need) || !remaining.some((r) => r.component === need)),
    );
    const [next] = remaining.splice(i === -1 ? 0 : i, 1);
    out.push(next!);
    done.add(next!.component);
  }
  return out;
}

/** The strictest combination: every planned artifact's conditions must hold for the plan. */
export function strictest(list: ConstraintsT[]): ConstraintsT {
  const base = Constraints.parse({});
  if (list.length === 0) return base;
  return {
    must_be_stationary: list.some((c) => c.must_be_stationary),
    stationary_minutes: Math.max(...list.map((c) => c.stationary_minutes)),
    min_signal_quality: Math.max(...list.map((c) => c.min_signal_quality)),
    min_battery_soc: Math.max(...list.map((c) => c.min_battery_soc)),
    shore_power_overrides_battery: list.every((c) => c.shore_power_overrides_battery),
    maintenance_window: list.find((c) => c.maintenance_window)?.maintenance_window ?? null,
  };
}

export function planForVan(
  van: { deviceType: string | null; components: Record<string, string> },
  artifacts: KnownArtifact[],
): VanPlan {
  const compatible = artifacts.filter((a) => van.deviceType !== null && a.deviceTypes.includes(van.deviceType));
  const target = chooseTarget(compatible);
  if (target.size === 0) return { update_required: false, target: null, steps: [], constraints: Constraints.parse({}) };
  const components = Object.fromEntries([...target].map(([c, a]) => [c, a.version]));
  const steps = installOrder(
    [...target.values()].filter((a) => {
      const have = van.components[a.component];
      return have === undefined || gt(a.version, have);
    }),
  );
  const release = Object.entries(components)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, v]) => `${c}-${v}`)
    .join('+');
  return {
    update_required: steps.length > 0,
    target: { release, components },
    steps,
    constraints: strictest(steps.map((s) => s.constraints)),
  };
}

/**
 * Which release a van's plan follows: the release of the newest rollout (not aborted) whose waves hold
 * the van; `not-reached` when rollouts exist but none has reached it; `none` before any rollout.
 */
export type ReleaseReaching =
  { kind: 'release'; name: string; artifactIds: string[] } | { kind: 'not-reached' } | { kind: 'none' };

/**
 * The plan under staged rollouts: the release that reached the van is the target (a fleet van is not
 * told to update before its wave); nothing before its wave; the newest compatible set before any rollout.
 */
export function planForVanRollout(
  van: { deviceType: string | null; components: Record<string, string> },
  artifacts: KnownArtifact[],
  reaching: ReleaseReaching,
): VanPlan {
  if (reaching.kind === 'none') return planForVan(van, artifacts);
  if (reaching.kind === 'not-reached') return planForVan(van, []);
  const ids = new Set(reaching.artifactIds);
  const plan = planForVan(
    van,
    artifacts.filter((a) => ids.has(a.id)),
  );
  return plan.target ? { ...plan, target: { ...plan.target, release: reaching.name } } : plan;
}

/** Everything the update plan of one van depends on, loaded once by the route. */
export interface PlanFacts {
  van: { deviceType: string | null; components: Record<string, string> };
  /** The usable VanCore artifacts (rows that are not are left out by `knownArtifact`). */
  artifacts: KnownArtifact[];
  reaching: ReleaseReaching;
}

/** facts → plan: the one decision behind `GET /api/v1/vans/:vanId/plan`. */
export function planUpdate(facts: PlanFacts): VanPlan {
  return planForVanRollout(facts.van, facts.artifacts, facts.reaching);
}

/** An artifacts row as the planner needs it, or undefined when it is not a usable VanCore artifact. */
export function knownArtifact(
  r: Pick<
    ArtifactsTable,
    | 'id'
    | 'name'
    | 'component'
    | 'version'
    | 'payload_type'
    | 'device_types_json'
    | 'requires_json'
    | 'constraints_json'
  >,
): KnownArtifact | undefined {
  if (!r.component || !r.version || !r.payload_type || !(PayloadTypes as readonly string[]).includes(r.payload_type))
    return undefined;
  try {
    const constraints = Constraints.safeParse(r.constraints_json ? JSON.parse(r.constraints_json) : {});
    return {
      id: r.id,
      name: r.name,
      component: r.component,
      version: r.version,
      payloadType: r.payload_type,
      deviceTypes: JSON.parse(r.device_types_json) as string[],
      requires: JSON.parse(r.requires_json) as Record<string, string>,
      constraints: constraints.success ? constraints.data : Constraints.parse({}),
    };
  } catch {
    return undefined;
  }
}
