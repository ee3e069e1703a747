// Sensing for the artifact gates. State scripts get no arguments and Mender's environment (RECIPE §5),
// so the artifact in flight is read from the update module's work tree in the client's data dir:
// <data>/modules/v3/payloads/0000/tree/header/{meta-data,artifact_name}. Installed component
// versions come from <state_dir>/versions.json, read with core/versions.ts (the agent hooks write it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactMetaData } from '../core/schemas/artifact-meta.js';
import { describeIssues } from '../core/validation.js';
import { readVersions } from '../core/versions.js';
import { readStateJson } from '../core/state-dir.js';
import type { MetaFacts, VersionsFacts } from './policy/install.js';

export function inFlightHeaderDir(menderDataDir: string): string {
  return join(menderDataDir, 'modules/v3/payloads/0000/tree/header');
}

function firstIssue(issues: Parameters<typeof describeIssues>[0]): string {
  const lines = describeIssues(issues);
  return `${lines[0] ?? 'invalid'}${lines.length > 1 ? ` (+${lines.length - 1} more)` : ''}`;
}

/** The artifact's meta-data, validated with the contract schema. Never throws. */
export function readMetaFacts(metaFile: string, artifactNameFile: string | null): MetaFacts {
  // The client's file, read like a state file: no link followed, no FIFO, bounded.
  const raw = readStateJson(metaFile);
  if (raw.status === 'missing') return { status: 'invalid', problem: `no meta-data at ${metaFile}` };
  if (raw.status === 'invalid') return { status: 'invalid', problem: raw.problem };
  const r = ArtifactMetaData.safeParse(raw.value, { reportInput: true });
  if (!r.success) return { status: 'invalid', problem: `meta-data ${firstIssue(r.error.issues)}` };
  let name: string | null = null;
  if (artifactNameFile) {
    try {
      name = readFileSync(artifactNameFile, 'utf8').trim() || null;
    } catch {
      name = null;
    }
  }
  return { status: 'ok', meta: r.data, artifact_name: name };
}

export async function readInstalledVersions(stateDir: string): Promise<VersionsFacts> {
  const { value, problems } = await readVersions(stateDir);
  return { versions: value, problems };
}
