// The van's state directory (default /var/lib/vancore-ota, `state_dir` in ota.yaml): every file in
// it, named once, with who writes and who reads it (issue #15 item 5). Two runtimes share these files
// (the gates in state-scripts/, the hooks in agent-hooks/), so the names, the reader and the writer
// live here and nowhere else. Each file's schema stays with its owner; this table only names.
//
// Reading: `readStateJson` — missing → `missing`; a symlink, FIFO, device, directory, an oversized
// file, invalid JSON or a schema mismatch → `invalid` with one line saying which and why. It never
// throws and never blocks (core/state-files.ts: O_NOFOLLOW | O_NONBLOCK, fstat, bounded read).
// Writing: `writeStateJson` / `writeStateFileAtomic` — temp file (O_EXCL), write, fsync, rename,
// fsync of the directory. Appending (the gate history only): `appendStateFile`.
import { join } from 'node:path';
import type { SafeParser } from './validation.js';
import { describeIssues } from './validation.js';
import { readStateFile, removeStateFile, STATE_FILE_MAX_BYTES, writeStateFileAtomic } from './state-files.js';

export interface StateFileSpec {
  /** Path under the state dir; `<component>` and `<slot>` are filled in with `stateFilePath`. */
  readonly path: string;
  readonly format: 'json' | 'jsonl' | 'v8-cache';
  /** Reads refuse a larger file (`invalid`). */
  readonly maxBytes: number;
  /** The module that owns the file: its schema and its writer live there. */
  readonly owner: string;
  readonly writers: string;
  readonly readers: string;
  /** How it is written: atomic replace, append (rotated by rename), or by something outside this repo. */
  readonly write: 'atomic' | 'append' | 'external';
  readonly what: string;
}

const KiB = 1024;

/** Every file of the state dir. docs/gates.md "The state directory" is this table in prose. */
export const STATE_FILES = {
  readings: {
    path: 'readings.json',
    format: 'json',
    maxBytes: 64 * KiB,
    owner: 'state-scripts/readings-file.ts',
    writers: 'sensord',
    readers: 'gates, inventory',
    write: 'atomic',
    what: 'latest motion / signal / power readings (core/schemas/readings.ts)',
  },
  motion: {
    path: 'motion.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/sense/motion-file.ts',
    writers: 'an outside system (or a test)',
    readers: 'sensord (motion source `file`)',
    write: 'external',
    what: '{ stationary_since, at } for vans whose motion comes from elsewhere',
  },
  gateJournal: {
    path: 'gate.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'core/gate-journal.ts',
    writers: 'gates',
    readers: 'inventory, sensord, gates, `gate check`',
    write: 'atomic',
    what: 'latest gate decision overall and per phase, and what inventory publishes',
  },
  gateHistory: {
    path: 'gate-history.jsonl',
    format: 'jsonl',
    maxBytes: STATE_FILE_MAX_BYTES,
    owner: 'core/gate-journal.ts',
    writers: 'gates',
    readers: 'support (by hand)',
    write: 'append',
    what: 'one decision per line, rotated at 500 lines',
  },
  gateHistoryPrevious: {
    path: 'gate-history.1.jsonl',
    format: 'jsonl',
    maxBytes: STATE_FILE_MAX_BYTES,
    owner: 'core/gate-journal.ts',
    writers: 'gates (rename of gate-history.jsonl)',
    readers: 'support (by hand)',
    write: 'append',
    what: 'the previous history file',
  },
  installWait: {
    path: 'install-wait.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/install-wait.ts',
    writers: 'ArtifactInstall_Enter gate',
    readers: 'ArtifactInstall_Enter gate',
    write: 'atomic',
    what: 'when the install gate first said "retry later" for the artifact in flight',
  },
  installDurations: {
    path: 'install-durations.json',
    format: 'json',
    maxBytes: 64 * KiB,
    owner: 'state-scripts/install-durations.ts',
    writers: 'ArtifactCommit_Enter and ArtifactInstall_Error gates',
    readers: 'ArtifactInstall_Enter gate (energy budget)',
    write: 'atomic',
    what: "how long this van's last 50 installs took, per component (the energy budget learns from them)",
  },
  downloadSize: {
    path: 'download-size.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/sense/size-hint.ts',
    writers:
      'the download gate (its size probe, state-scripts/sense/size-probe.ts), or a site tool that learns the size (docs/gates.md "Network policy")',
    readers: 'download gate (network policy)',
    write: 'atomic',
    what: "the pending download's size hint for the roaming / metered size rules",
  },
  dataUsage: {
    path: 'data-usage.json',
    format: 'json',
    maxBytes: 16 * KiB,
    owner: 'agent-hooks/inventory/data-usage.ts',
    writers: 'the inventory script (each run)',
    readers: 'the inventory script (`vancore.data.*`)',
    write: 'atomic',
    what: "this month's cellular bytes and the interface counters last seen (reboots and counter resets)",
  },
  installHistory: {
    path: 'install-history.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'agent-hooks/lib/downgrade.ts',
    writers: 'update modules (after a commit)',
    readers: 'update modules (no-downgrade check)',
    write: 'atomic',
    what: 'every artifact a module committed on this van, oldest first (last 200): tells a replay',
  },
  haPostpone: {
    path: 'ha-postpone.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/ha/van-screen.ts',
    writers: 'gates',
    readers: 'gates',
    write: 'atomic',
    what: 'the postpone button budget (Home Assistant)',
  },
  haNotice: {
    path: 'ha-notice.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/ha/van-screen.ts',
    writers: 'ArtifactInstall_Enter gate',
    readers: 'ArtifactInstall_Enter gate',
    write: 'atomic',
    what: 'when the install notice for an artifact was shown in Home Assistant',
  },
  haPublish: {
    path: 'ha-publish.json',
    format: 'json',
    maxBytes: 4 * KiB,
    owner: 'state-scripts/ha/van-screen.ts',
    writers: 'gates',
    readers: 'gates',
    write: 'atomic',
    what: 'since when Home Assistant refuses updates (one log line per outage)',
  },
  configCache: {
    path: 'cache/ota-config.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'state-scripts/config-cache.ts',
    writers: 'gates, sensord',
    readers: 'gates, sensord',
    write: 'atomic',
    what: 'ota.yaml parsed by the schema, keyed by file identity and build',
  },
  codeCache: {
    path: 'cache/<script>-<build>.jsc',
    format: 'v8-cache',
    maxBytes: 64 * KiB * KiB,
    owner: 'scripts/build.mjs (withCodeCache)',
    writers: 'the bundled gates, at exit',
    readers: 'the bundled gates, at start',
    write: 'atomic',
    what: 'V8 code cache of a bundled state script',
  },
  versions: {
    path: 'versions.json',
    format: 'json',
    maxBytes: 64 * KiB,
    owner: 'core/versions.ts',
    writers: 'update modules (commit, rollback)',
    readers: 'inventory, gates (`requires`)',
    write: 'atomic',
    what: 'installed version per component',
  },
  lastUpdate: {
    path: 'last-update.json',
    format: 'json',
    maxBytes: 16 * KiB,
    owner: 'core/versions.ts',
    writers: 'update modules',
    readers: 'inventory, gates (Home Assistant)',
    write: 'atomic',
    what: 'outcome of the most recent VanCore update',
  },
  soak: {
    path: 'soak.json',
    format: 'json',
    maxBytes: 16 * KiB,
    owner: 'agent-hooks/soak/soak.ts',
    writers: 'vancore-ota-soak (vancore-ota-soak.timer)',
    readers: 'inventory',
    write: 'atomic',
    what: 'the post-commit soak of the last commit: watching, passed or regressed, and why',
  },
  vpnState: {
    path: 'vpn.json',
    format: 'json',
    maxBytes: 16 * KiB,
    owner: 'core/vpn-state.ts',
    writers: 'vancore-vpn module, deadman',
    readers: 'inventory, vancore-vpn module',
    write: 'atomic',
    what: 'where the VPN migration stands on this van',
  },
  vpnDeadman: {
    path: 'vpn/deadman.json',
    format: 'json',
    maxBytes: 16 * KiB,
    owner: 'agent-hooks/vpn/deadman.ts',
    writers: 'vancore-vpn module, deadman timer',
    readers: 'deadman timer, vancore-vpn module',
    write: 'atomic',
    what: 'the armed deadman of the last VPN step (no file = nothing armed)',
  },
  vpnJournal: {
    path: 'vpn/journal.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'agent-hooks/vpn/module.ts',
    writers: 'vancore-vpn module',
    readers: 'vancore-vpn module, deadman',
    write: 'atomic',
    what: 'the VPN module journal (steps started / done)',
  },
  composeJournal: {
    path: 'compose/<component>/journal.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'agent-hooks/compose/journal.ts',
    writers: 'vancore-compose module',
    readers: 'vancore-compose module',
    write: 'atomic',
    what: 'the compose module journal of one component',
  },
  composeMarker: {
    path: 'compose/<component>/<slot>/.vancore-bundle.json',
    format: 'json',
    maxBytes: 64 * KiB,
    owner: 'agent-hooks/compose/bundle.ts',
    writers: 'vancore-compose module',
    readers: 'vancore-compose module, health checks',
    write: 'atomic',
    what: 'which bundle a slot (NEW, CURRENT, PREVIOUS, OLDER, FAILED) holds',
  },
  configJournal: {
    path: 'config/journal.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'agent-hooks/config/module.ts',
    writers: 'vancore-config module',
    readers: 'vancore-config module',
    write: 'atomic',
    what: 'the config module journal (backups beside it in config/backups/)',
  },
  haJournal: {
    path: 'ha/journal.json',
    format: 'json',
    maxBytes: 256 * KiB,
    owner: 'agent-hooks/ha/module.ts',
    writers: 'vancore-ha module',
    readers: 'vancore-ha module',
    write: 'atomic',
    what: 'the vancore-ha (Home Assistant add-ons) module journal',
  },
  installManifest: {
    path: 'device-install/manifest.json',
    format: 'json',
    maxBytes: STATE_FILE_MAX_BYTES,
    owner: 'agent-hooks/installer/install.ts',
    writers: '`vancore-ota device install|uninstall`',
    readers: '`vancore-ota device install|uninstall`',
    write: 'atomic',
    what: 'what the device installer placed, with backups beside it (always under /var/lib/vancore-ota)',
  },
} as const satisfies Record<string, StateFileSpec>;

export type StateFileName = keyof typeof STATE_FILES;

/** `<stateDir>/<path>`, with `<component>` / `<slot>` filled in where the path has them. */
export function stateFilePath(
  stateDir: string,
  name: StateFileName,
  parts: { component?: string; slot?: string } = {},
): string {
  let rel: string = STATE_FILES[name].path;
  for (const [key, value] of Object.entries(parts)) rel = rel.replace(`<${key}>`, value);
  if (/<[a-z]+>/.test(rel)) throw new Error(`stateFilePath(${name}): ${rel} still has a placeholder`);
  return join(stateDir, rel);
}

export type StateJsonRead<T> =
  { status: 'ok'; value: T } | { status: 'missing' } | { status: 'invalid'; problem: string };

export interface ReadStateJsonOptions<T> {
  /** Checked with safeParse; a mismatch is `invalid` with the first issue. */
  schema?: SafeParser<T>;
  /** Default: the table's limit when `name` is given, else STATE_FILE_MAX_BYTES. */
  maxBytes?: number;
}

/**
 * Read a JSON state file: missing → `missing`; not a regular file (symlink, FIFO, device, directory),
 * larger than the limit, not JSON, or not matching `schema` → `invalid` with one line naming the
 * file. Never throws, never blocks.
 */
export function readStateJson<T = unknown>(path: string, o: ReadStateJsonOptions<T> = {}): StateJsonRead<T> {
  const read = readStateFile(path, o.maxBytes ?? STATE_FILE_MAX_BYTES);
  if (read.status !== 'ok') return read;
  let raw: unknown;
  try {
    raw = JSON.parse(read.text);
  } catch {
    return { status: 'invalid', problem: read.text.trim() === '' ? `${path} is empty` : `${path} is not JSON` };
  }
  if (!o.schema) return { status: 'ok', value: raw as T };
  const r = o.schema.safeParse(raw);
  if (r.success) return { status: 'ok', value: r.data };
  const first = describeIssues(r.error.issues)[0];
  return { status: 'invalid', problem: `${path} does not match its schema${first ? ` (${first})` : ''}` };
}

/** `readStateJson` of a file named in the table (its size limit applies). */
export function readNamedStateJson<T = unknown>(
  stateDir: string,
  name: StateFileName,
  o: ReadStateJsonOptions<T> & { parts?: { component?: string; slot?: string } } = {},
): StateJsonRead<T> {
  return readStateJson(stateFilePath(stateDir, name, o.parts), { maxBytes: STATE_FILES[name].maxBytes, ...o });
}

/** The value, or `fallback` when the file is missing or invalid (for readers that only log problems). */
export function stateJsonOr<T, F>(read: StateJsonRead<T>, fallback: F): T | F {
  return read.status === 'ok' ? read.value : fallback;
}

/**
 * Replace a JSON state file atomically and durably (core/state-files.ts: temp O_EXCL, fsync,
 * rename, fsync dir). `pretty` indents by two spaces (files people read); a trailing newline always.
 */
export function writeStateJson(path: string, value: unknown, o: { mode?: number; pretty?: boolean } = {}): void {
  writeStateFileAtomic(path, `${JSON.stringify(value, null, o.pretty === true ? 2 : undefined)}\n`, o.mode);
}

export { removeStateFile };

/**
 * A synchronous state-file step for callers that speak promises (the update modules): a throw
 * becomes a rejection, as it was when these files were read with fs/promises.
 */
export function asPromise<T>(op: () => T): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
