// What the VanCore update modules record on the van, in <state_dir> (default /var/lib/vancore-ota):
//   versions.json     { "<component>": "<semver>" }  installed version per component, written on commit
//   last-update.json  the outcome of the most recent VanCore update (vancore.health.last_update_status)
// Written by the agent-hooks modules, read by the inventory script and the gates (`requires` checks).
// Both files are replaced atomically; readers never throw on content: a broken entry is skipped.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { ComponentName, IsoDateTime, SemVer } from './schemas/common.js';
import { LastUpdateStatuses } from './schemas/inventory.js';
import { asPromise, readStateJson, STATE_FILES, writeStateJson } from './state-dir.js';

export const VERSIONS_FILE = STATE_FILES.versions.path;
export const LAST_UPDATE_FILE = STATE_FILES.lastUpdate.path;

export const InstalledVersions = z.record(ComponentName, SemVer);
export type InstalledVersions = z.infer<typeof InstalledVersions>;

export const LastUpdate = z.object({
  status: z.enum(LastUpdateStatuses),
  component: ComponentName,
  version: SemVer,
  artifact_name: z.string().check(z.maxLength(256)),
  at: IsoDateTime,
  /** One line for support when the update did not succeed. */
  detail: z.optional(z.string().check(z.maxLength(512))),
});
export type LastUpdate = z.infer<typeof LastUpdate>;

export interface ReadResult<T> {
  value: T;
  /** Why something was skipped or the file was ignored (for a log line, never for stdout). */
  problems: string[];
}

/** The raw JSON or the problem; absent → neither (core/state-dir.ts: no link, no FIFO, bounded). */
function readJson(path: string, maxBytes: number): { raw?: unknown; problem?: string } {
  const read = readStateJson(path, { maxBytes });
  if (read.status === 'missing') return {};
  if (read.status === 'invalid') return { problem: read.problem };
  return { raw: read.value };
}

/**
 * `<stateDir>/versions.json`. Absent → `{}`. Entries with a bad component name or version are
 * skipped one by one (a single bad entry must not hide the others from inventory or the gates).
 */
export function readVersions(stateDir: string): Promise<ReadResult<InstalledVersions>> {
  return asPromise(() => {
    const path = join(stateDir, VERSIONS_FILE);
    const { raw, problem } = readJson(path, STATE_FILES.versions.maxBytes);
    if (problem) return { value: {}, problems: [problem] };
    if (raw === undefined) return { value: {}, problems: [] };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return { value: {}, problems: [`${path}: not an object`] };
    }
    const value: InstalledVersions = {};
    const problems: string[] = [];
    for (const [component, version] of Object.entries(raw)) {
      if (ComponentName.safeParse(component).success && SemVer.safeParse(version).success) {
        value[component] = version as string;
      } else {
        problems.push(`${path}: skipped entry ${JSON.stringify(component).slice(0, 40)}`);
      }
    }
    return { value, problems };
  });
}

/** `<stateDir>/last-update.json`, or null when absent or unusable. */
export function readLastUpdate(stateDir: string): Promise<ReadResult<LastUpdate | null>> {
  return asPromise(() => {
    const path = join(stateDir, LAST_UPDATE_FILE);
    const { raw, problem } = readJson(path, STATE_FILES.lastUpdate.maxBytes);
    if (problem) return { value: null, problems: [problem] };
    if (raw === undefined) return { value: null, problems: [] };
    const r = LastUpdate.safeParse(raw);
    return r.success
      ? { value: r.data, problems: [] }
      : { value: null, problems: [`${path}: not a last-update record`] };
  });
}

/**
 * Set (or, with `version: null`, remove) one component's version. Other entries are kept as they
 * are, valid or not: this writer is not the place to lose another component's record.
 */
export function setInstalledVersion(stateDir: string, component: string, version: string | null): Promise<void> {
  return asPromise(() => {
    const path = join(stateDir, VERSIONS_FILE);
    const { raw } = readJson(path, STATE_FILES.versions.maxBytes);
    const doc: Record<string, unknown> =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : {};
    if (version === null) delete doc[component];
    else doc[component] = version;
    const sorted = Object.fromEntries(Object.entries(doc).sort(([a], [b]) => a.localeCompare(b)));
    writeStateJson(path, sorted, { pretty: true });
  });
}

/**
 * How an update module records an update in `last-update.json`: `in_progress` when it starts, then
 * success, or failure / rolled_back with the journal's error (cut to 512 characters) as the detail
 * support sees.
 */
export async function recordUpdate(
  stateDir: string,
  status: 'in_progress' | 'success' | 'failure' | 'rolled_back',
  update: { component: string; version: string; artifact_name: string; error?: string | undefined },
  at: Date,
): Promise<void> {
  await writeLastUpdate(stateDir, {
    status,
    component: update.component,
    version: update.version,
    artifact_name: update.artifact_name,
    at: at.toISOString(),
    ...((status === 'failure' || status === 'rolled_back') && update.error
      ? { detail: update.error.slice(0, 512) }
      : {}),
  });
}

export function writeLastUpdate(stateDir: string, record: LastUpdate): Promise<void> {
  return asPromise(() => {
    const checked = LastUpdate.parse(record);
    writeStateJson(join(stateDir, LAST_UPDATE_FILE), checked, { pretty: true });
  });
}
