// ArtifactInstall_Enter, pure: the artifact's own requirements and constraints (its meta-data). The
// artifact is downloaded; waiting here blocks the client, so 21 ("retry later") is used only within
// the configured wait budget, measured from the first attempt. A hard requirement that waiting cannot
// fix (meta-data, installed versions) fails at once with 1, and Mender rolls back and reports failure.
import satisfies from 'semver/functions/satisfies.js';
import type { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { assessConditions, readingsSummary, type Staleness } from './conditions.js';
import { planEnergy, type EnergyConfig, type InstallRun } from './energy.js';
import { assessPresence, presenceSummary, type PresenceFacts } from './presence.js';
import {
  failing,
  human,
  reason,
  reasonsOf,
  type Check,
  type ReadingsFacts,
  type Verdict,
  type WallClock,
} from './types.js';

export type MetaFacts =
  { status: 'ok'; meta: ArtifactMetaData; artifact_name: string | null } | { status: 'invalid'; problem: string };

/** Installed versions as core/versions.ts reads them (absent file = none; bad entries skipped, with why). */
export interface VersionsFacts {
  versions: Record<string, string>;
  problems: string[];
}

export interface InstallFacts {
  now: Date;
  meta: MetaFacts;
  installed: VersionsFacts;
  readings: ReadingsFacts;
  staleness: Staleness;
  /** Wall clock in the constraint window's zone (null when the artifact has no window). */
  wall_clock: WallClock | null;
  /** When this artifact's first ArtifactInstall_Enter attempt ran (this one, if it is the first). */
  first_attempt_at: Date;
  wait_budget_seconds: number;
  /** Presence and consent from Home Assistant, when configured (policy/presence.ts). */
  presence?: PresenceFacts;
  /**
   * The notice the people in the van get before an install that interrupts services: when it was
   * shown (null = not yet), and how long before the install it must come. Absent = no notice is owed
   * (HA publishing off or unreachable: HA never holds an update).
   */
  notice?: { given_at: string | null; lead_seconds: number };
  /**
   * The energy budget (policy/energy.ts): ota.yaml `energy` and this van's past installs. Absent, or
   * `capacity_wh: null`, = no budget (the artifact's `min_battery_soc` alone).
   */
  energy?: { config: EnergyConfig; history: readonly InstallRun[] };
}

/** `requires` against the installed versions: one check per required component. */
export function requirementChecks(requires: Record<string, string>, installed: VersionsFacts): Check[] {
  return Object.entries(requires).map(([component, range]): Check => {
    const have = installed.versions[component];
    if (have === undefined) {
      // Not recorded: not installed, or the record is broken (then say so: support must see why).
      const broken = installed.problems[0];
      return broken
        ? {
            code: 'versions_unknown',
            ok: false,
            message: `${component} version unknown (needs ${range}): ${broken}`,
            clears_in_s: null,
          }
        : {
            code: 'requires_unmet',
            ok: false,
            message: `${component} is not installed (needs ${range})`,
            clears_in_s: null,
          };
    }
    const good = satisfies(have, range, { includePrerelease: true });
    return {
      code: 'requires_unmet',
      ok: good,
      message: good ? `${component} ${have} satisfies ${range}` : `${component} ${have} does not satisfy ${range}`,
      clears_in_s: null,
    };
  });
}

export function decideInstall(f: InstallFacts): Verdict {
  const base = {
    now: f.now.toISOString(),
    first_attempt_at: f.first_attempt_at.toISOString(),
    wait_budget_s: f.wait_budget_seconds,
  };
  if (f.meta.status !== 'ok') {
    const check: Check = { code: 'meta_data_invalid', ok: false, message: f.meta.problem, clears_in_s: null };
    return { verdict: 'fail', reasons: reasonsOf([check]), checks: [check], facts: base };
  }
  const v = f.meta.meta.vancore;
  const energy = f.energy
    ? planEnergy(
        {
          config: f.energy.config,
          component: v.component,
          meta_install_seconds: v.expected_install_seconds ?? null,
          history: f.energy.history,
        },
        f,
        v.constraints.shore_power_overrides_battery,
      )
    : null;
  const facts = {
    ...base,
    artifact: { name: f.meta.artifact_name, component: v.component, version: v.version },
    requires: v.requires,
    installed: f.installed.versions,
    ...(f.installed.problems.length ? { installed_problems: f.installed.problems } : {}),
    constraints: v.constraints,
    readings: readingsSummary(f.readings, f.now),
    ...(f.presence ? { presence: presenceSummary(f.presence) } : {}),
    ...(f.notice ? { notice: f.notice } : {}),
    ...(energy ? { energy: energy.facts } : {}),
  };
  const hard = requirementChecks(v.requires, f.installed);
  if (failing(hard).length > 0) return { verdict: 'fail', reasons: reasonsOf(failing(hard)), checks: hard, facts };

  const conditions = assessConditions(v.constraints, f);
  // Both the SOC threshold and the energy budget must pass; an unknown battery is said once.
  const energyCheck =
    energy && !(energy.check.code !== 'energy_budget' && failing(conditions).some((c) => c.code === energy.check.code))
      ? [energy.check]
      : [];
  const soft = [...conditions, ...energyCheck, ...(f.presence ? assessPresence(f.presence) : [])];
  // The notice comes last: it is owed only once nothing else holds the install.
  if (f.notice && failing(soft).length === 0) soft.push(noticeCheck(f.notice, f.now));
  const checks = [...hard, ...soft];
  const bad = failing(soft);
  if (bad.length === 0) {
    return {
      verdict: 'proceed',
      reasons: [reason('conditions_met', checks.map((c) => c.message).join('; ') || 'no constraints')],
      checks,
      facts,
    };
  }
  const waited_s = Math.max(0, (f.now.getTime() - f.first_attempt_at.getTime()) / 1000);
  if (waited_s < f.wait_budget_seconds) {
    return { verdict: 'retry', reasons: reasonsOf(bad), checks, facts: { ...facts, waited_s: Math.round(waited_s) } };
  }
  return {
    verdict: 'fail',
    reasons: [
      reason('wait_budget_exhausted', `waited ${human(waited_s)} (budget ${human(f.wait_budget_seconds)})`),
      ...reasonsOf(bad),
    ],
    checks,
    facts: { ...facts, waited_s: Math.round(waited_s) },
  };
}

/** Pure: has the notice been shown long enough before this install? */
export function noticeCheck(n: { given_at: string | null; lead_seconds: number }, now: Date): Check {
  if (n.lead_seconds <= 0) return { code: 'notice_pending', ok: true, message: 'no notice period', clears_in_s: null };
  const since_s = n.given_at === null ? 0 : (now.getTime() - Date.parse(n.given_at)) / 1000;
  return since_s >= n.lead_seconds
    ? {
        code: 'notice_pending',
        ok: true,
        message: `the people in the van were told ${human(since_s)} ago`,
        clears_in_s: null,
      }
    : {
        code: 'notice_pending',
        ok: false,
        message: `the people in the van are told ${human(n.lead_seconds)} before the install (${human(n.lead_seconds - since_s)} to go)`,
        clears_in_s: Math.ceil(n.lead_seconds - since_s),
      };
}
