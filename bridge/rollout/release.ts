// Releases: a named set of component versions, each backed by a synced artifact, checked against its own
// `requires` rules. Pure: the caller passes the artifacts it knows; the verdict carries the reason.
import satisfies from 'semver/functions/satisfies.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import * as z from 'zod';

export const ReleaseComponent = z.object({
  component: z.string(),
  version: z.string(),
  artifact_id: z.string(),
  artifact_name: z.string(),
  requires: z.record(z.string(), z.string()),
});
export type ReleaseComponent = z.infer<typeof ReleaseComponent>;

/** What the store knows of one artifact (a row of `artifacts`, parsed). */
export interface ArtifactFact {
  id: string;
  name: string;
  component: string;
  version: string;
  requires: Record<string, string>;
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
    const matches = artifacts.filter((a) => a.component === component && a.version === version);
    if (matches.length === 0) return { ok: false, reason: `${component} ${version}: no such artifact in Mender` };
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
