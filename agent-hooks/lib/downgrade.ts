// No downgrades on the van (issue #20 item 4, docs/agent-hooks.md "No downgrades"). Every update module
// asks `decideDowngrade` at Download (before anything is changed) and again at ArtifactInstall: an
// artifact whose component version is older than the installed one is refused unless it is an explicit
// revert of exactly the installed version (`vancore.revert_of`, `artifact build --revert-of`). The
// meta-data is covered by the artifact's signature, which the client checked before any module state
// (RECIPE §2.3: with ArtifactVerifyKey set an unsigned or re-signed artifact never reaches a module), so
// a signed release cannot be turned into a revert.
//
// Sense (versions.json, install-history.json) → decide (pure) → the protocol acts (one stderr line, exit 1).
import { join } from 'node:path';
import compare from 'semver/functions/compare.js';
import valid from 'semver/functions/valid.js';
import * as z from 'zod/mini';
import { formatReasonLine, type ReasonCode } from '../../core/reason-codes.js';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { ComponentName, IsoDateTime, SemVer } from '../../core/schemas/common.js';
import { readStateFile, writeStateFileAtomic } from '../../core/state-files.js';
import { VERSIONS_FILE } from '../../core/versions.js';
import { STATE_FILES, readNamedStateJson, stateFilePath } from '../../core/state-dir.js';

/** `<state_dir>/install-history.json`: every artifact a module committed on this van, oldest first. */
export const INSTALL_HISTORY_FILE = STATE_FILES.installHistory.path;
/** Enough for years of releases of every component; the oldest entries go first. */
export const HISTORY_MAX = 200;

export const HistoryEntry = z.object({
  component: ComponentName,
  version: SemVer,
  artifact_name: z.string().check(z.maxLength(256)),
  revert_of: z.optional(SemVer),
  at: IsoDateTime,
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const InstallHistory = z.object({ format: z.literal(1), entries: z.array(HistoryEntry) });
export type InstallHistory = z.infer<typeof InstallHistory>;

/** What the van runs of the incoming artifact's component. */
export interface Installed {
  /** The installed version; null = nothing recorded for the component (a first install). */
  version: string | null;
  /** Set when versions.json cannot be read or its entry for the component is not a version. */
  unknown?: string;
  /** install-history.json (empty when absent or unreadable: it only chooses the reason, never the outcome). */
  history: readonly HistoryEntry[];
}

/** The component and version an artifact installs (from its meta-data, else its payload index). */
export interface Incoming {
  artifactName: string;
  component: string;
  version: string;
}

export interface IncomingMeta {
  revert_of?: string | undefined;
}

export type DowngradeVerdict =
  | { allow: true; kind: 'first_install' | 'upgrade' | 'reinstall' | 'revert'; line: string }
  | {
      allow: false;
      code: Extract<ReasonCode, 'downgrade_refused' | 'artifact_replayed' | 'versions_unknown'>;
      line: string;
    };

const refuse = (
  code: Extract<ReasonCode, 'downgrade_refused' | 'artifact_replayed' | 'versions_unknown'>,
  message: string,
): DowngradeVerdict => ({ allow: false, code, line: formatReasonLine([{ code, message }]) });

/**
 * Pure. The rules, in order:
 * - installed version unknown (versions.json unreadable) → refuse `versions_unknown` (unknown never lets
 *   an update through; support repairs the file);
 * - nothing installed → allow (first install);
 * - newer → allow (upgrade; `revert_of` plays no part);
 * - equal → allow (reinstall: the same version again changes no version, e.g. a repair, or a revert
 *   deployment retried after it landed);
 * - older with `revert_of` equal to the installed version → allow (the explicit revert);
 * - older with another `revert_of` → refuse `downgrade_refused` (a revert of a release this van no longer
 *   runs cannot be replayed against a later one);
 * - older, this van committed that version (or that very artifact) before → refuse `artifact_replayed`;
 * - older otherwise → refuse `downgrade_refused`.
 */
export function decideDowngrade(installed: Installed, incoming: Incoming, meta: IncomingMeta): DowngradeVerdict {
  const { artifactName: name, component: c, version: v } = incoming;
  const revert = `only a signed revert artifact (artifact build --revert-of ${installed.version ?? '?'}) may take ${c} back`;
  if (installed.unknown !== undefined) {
    return refuse('versions_unknown', `${installed.unknown}: cannot tell whether ${name} (${c} ${v}) is a downgrade`);
  }
  if (installed.version === null) {
    return { allow: true, kind: 'first_install', line: `${name}: first install of ${c} (${v})` };
  }
  const have = installed.version;
  const cmp = compare(v, have);
  if (cmp > 0) return { allow: true, kind: 'upgrade', line: `${name}: upgrade of ${c} from ${have} to ${v}` };
  if (cmp === 0) return { allow: true, kind: 'reinstall', line: `${name}: reinstall of ${c} ${v}` };
  if (meta.revert_of !== undefined) {
    if (valid(meta.revert_of) !== null && compare(meta.revert_of, have) === 0) {
      return { allow: true, kind: 'revert', line: `${name}: explicit revert of ${c} from ${have} to ${v}` };
    }
    return refuse(
      'downgrade_refused',
      `${name} reverts ${c} from ${meta.revert_of}, but this van runs ${have}: refusing to go back to ${v}`,
    );
  }
  const earlier = [...installed.history]
    .reverse()
    .find((e) => e.component === c && (e.artifact_name === name || compare(e.version, v) === 0));
  if (earlier) {
    return refuse(
      'artifact_replayed',
      `${name} (${c} ${v}) was installed on this van at ${earlier.at} and superseded by ${have}; ${revert}`,
    );
  }
  return refuse('downgrade_refused', `${name} would take ${c} back from ${have} to ${v}; ${revert}`);
}

/**
 * Pure: what an artifact installs, from its `vancore` meta-data, else (ArtifactInstall) from the payload
 * index every VanCore payload carries. null = neither says (an artifact not built by `artifact build`:
 * nothing to compare). Invalid `vancore` meta-data is an error line (`meta_data_invalid`).
 */
export function identifyIncoming(
  artifactName: string,
  metaData: unknown,
  index?: unknown,
): { incoming: Incoming; meta: IncomingMeta } | { error: string } | null {
  if (typeof metaData === 'object' && metaData !== null && 'vancore' in metaData) {
    const r = ArtifactMetaData.safeParse(metaData);
    if (!r.success) return { error: formatReasonLine([{ code: 'meta_data_invalid' }]) };
    const { component, version, revert_of } = r.data.vancore;
    return { incoming: { artifactName, component, version }, meta: { revert_of } };
  }
  if (typeof index === 'object' && index !== null) {
    const { component, version } = index as { component?: unknown; version?: unknown };
    if (ComponentName.safeParse(component).success && SemVer.safeParse(version).success) {
      return { incoming: { artifactName, component: component as string, version: version as string }, meta: {} };
    }
  }
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Sense: the installed version of `component` and the install history, never throwing on content. */
export function readInstalled(stateDir: string, component: string): Installed {
  const history = readHistory(stateDir);
  const path = join(stateDir, VERSIONS_FILE);
  const read = readStateFile(path);
  if (read.status === 'missing') return { version: null, history };
  if (read.status === 'invalid') return { version: null, unknown: read.problem, history };
  const raw = parseJson(read.text);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { version: null, unknown: `${path} is not a JSON object`, history };
  }
  const entry = (raw as Record<string, unknown>)[component];
  if (entry === undefined) return { version: null, history };
  if (!SemVer.safeParse(entry).success) {
    return { version: null, unknown: `${path}: the entry for ${component} is not a version`, history };
  }
  return { version: entry as string, history };
}

/** install-history.json's entries; [] when absent or unreadable. */
export function readHistory(stateDir: string): HistoryEntry[] {
  const read = readNamedStateJson(stateDir, 'installHistory', { schema: InstallHistory });
  return read.status === 'ok' ? read.value.entries : [];
}

/** Pure: the history after a commit. A repeated commit of the same artifact adds nothing. */
export function appendHistory(entries: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const last = [...entries].reverse().find((e) => e.component === entry.component);
  if (last && last.artifact_name === entry.artifact_name && last.version === entry.version) return [...entries];
  return [...entries, entry].slice(-HISTORY_MAX);
}

/** Record a committed artifact (after the module's ArtifactCommit succeeded). */
export function recordInstall(stateDir: string, entry: HistoryEntry): void {
  const entries = appendHistory(readHistory(stateDir), HistoryEntry.parse(entry));
  const doc: InstallHistory = { format: 1, entries };
  writeStateFileAtomic(stateFilePath(stateDir, 'installHistory'), `${JSON.stringify(doc, null, 2)}\n`);
}
