// Releases: a named set of component versions, each backed by a synced artifact, checked against its own
// `requires` rules. Pure: the caller passes the artifacts it knows; the verdict carries the reason.
import satisfies from 'semver/functions/satisfies.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import * as z from 'zod';

/**
 * A layer-delta artifact of a release component (issue #17): the same version, built from `base_version`.
 * Mender picks among artifacts of one name by device type only (the smallest wins: mender-server
 * backend/services/deployments/app/app.go assignArtifact → ImageByIdsAndDeviceType), so a delta has a
 * name of its own and the rollout deploys it by that name to the vans on its base.
 */
export const ReleaseDelta = z.object({
  base_version: z.string(),
  artifact_id: z.string(),
  artifact_name: z.string(),
});
export type ReleaseDelta = z.infer<typeof ReleaseDelta>;

export const ReleaseComponent = z.object({
  component: z.string(),
  version: z.string(),
  artifact_id: z.string(),
  artifact_name: z.string(),
  requires: z.record(z.string(), z.string()),
  /** Delta artifacts of this version, one per base version (releases made before #17 have none). */
  deltas: z.array(ReleaseDelta).default([]),
});
export type ReleaseComponent = z.infer<typeof ReleaseComponent>;

/** What the store knows of one artifact (a row of `artifacts`, parsed). */
export interface ArtifactFact {
  id: string;
  name: string;
  component: string;
  version: string;
  requires: Record<string, string>;
  /** A layer-delta artifact: the version it builds on (`vancore.delta_of`). */
  deltaOf?: string | null;
}

export type ReleaseVerdict = { ok: true; components: ReleaseComponent[] } | { ok: false; reason: string };

/**
 * Resolve `{component: version}` against the known artifacts and order the result dependencies first.
 * Rejects: an unknown or ambiguous artifact, a `requires` on a component the release lacks or at a version
 * outside the range, an invalid version or range, and a dependency cycle.
 */
export function resolveRelease(wanted: Record<string, string>, artifacts: ArtifactFact[]): ReleaseVerdict {
  const entries = Object.entries(wanted).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return { ok: false, reason: 'a release needs at least one component' };
  const picked = new Map<string, ReleaseComponent>();
  for (const [component, version] of entries) {
    if (!valid(version)) return { ok: false, reason: `${component}: ${version} is not a semantic version` };
    const same = artifacts.filter((a) => a.component === component && a.version === version);
    const matches = same.filter((a) => !a.deltaOf);
    const deltas = new Map<string, ReleaseDelta>();
    for (const d of same.filter((a) => a.deltaOf)) {
      const seen = deltas.get(d.deltaOf!);
      if (seen && seen.artifact_name !== d.name)
        return {
          ok: false,
          reason: `${component} ${version}: ambiguous, several delta artifacts from ${d.deltaOf} (${seen.artifact_name}, ${d.name})`,
        };
      if (!seen) deltas.set(d.deltaOf!, { base_version: d.deltaOf!, artifact_id: d.id, artifact_name: d.name });
    }
    // A delta alone cannot make a release: vans not on its base need the full artifact.
    if (matches.length === 0)
      return {
        ok: false,
        reason: `${component} ${version}: no such artifact in Mender${deltas.size ? ' (only delta artifacts: upload the full one too)' : ''}`,
      };
    const names = [...new Set(matches.map((m) => m.name))];
    if (names.length > 1)
      return { ok: false, reason: `${component} ${version}: ambiguous, several artifact names (${names.join(', ')})` };
    // Artifacts of one name (one per device type) share their meta-data; the first one speaks for all.
    const a = matches[0]!;
    picked.set(component, {
      component,
      version,
      artifact_id: a.id,
      artifact_name: a.name,
      requires: a.requires,
      deltas: [...deltas.values()].sort((x, y) => x.base_version.localeCompare(y.base_version)),
    });
  }
  for (const c of picked.values()) {
    for (const [need, range] of Object.entries(c.requires)) {
      if (!validRange(range))
        return { ok: false, reason: `${c.component} ${c.version} requires ${need} "${range}": not a valid range` };
      const have = picked.get(need);
      if (!have)
        return {
          ok: false,
          reason: `${c.component} ${c.version} requires ${need} ${range}, which the release does not include`,
        };
      if (!satisfies(have.version, range))
        return {
          ok: false,
          reason: `${c.component} ${c.version} requires ${need} ${range}, but the release has ${need} ${have.version}`,
        };
    }
  }
  const ordered = dependencyOrder([...picked.values()]);
  if (!ordered) return { ok: false, reason: 'the components require each other in a cycle' };
  return { ok: true, components: ordered };
}

/** Dependencies first, ties by name; undefined on a cycle. */
export function dependencyOrder<T extends { component: string; requires: Record<string, string> }>(
  items: T[],
): T[] | undefined {
  const remaining = [...items].sort((a, b) => a.component.localeCompare(b.component));
  const out: T[] = [];
  while (remaining.length) {
    const i = remaining.findIndex((a) =>
      Object.keys(a.requires).every((need) => !remaining.some((r) => r.component === need)),
    );
    if (i === -1) return undefined;
    out.push(remaining.splice(i, 1)[0]!);
  }
  return out;
}
