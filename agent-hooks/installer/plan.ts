// `vancore-ota device install|uninstall`: the pure part. What goes where (the layout), and the
// actions that take a van from what is on disk to that layout — or back, from the install manifest.
// Every file install takes over is backed up first, so uninstall restores the van exactly.
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';
import * as z from 'zod/mini';
import { CLIENT_FILE, NOT_NOW_STATE, type ClientFlavour, type InstalledClient } from '../../core/schemas/client.js';
import { IsoDateTime } from '../../core/schemas/common.js';
import { DEFAULT_STATE_DIR } from '../../core/config/device-config.js';
import { STATE_FILES } from '../../core/state-dir.js';

/** Where install keeps its manifest and the originals of the files it replaced. */
export const INSTALL_STATE_DIR = dirname(`${DEFAULT_STATE_DIR}/${STATE_FILES.installManifest.path}`);
export const MANIFEST_FILE = basename(STATE_FILES.installManifest.path);
export const VERIFY_KEY_DEST = '/etc/mender/artifact-verify-key.pem';
export const MENDER_CONF = '/etc/mender/mender.conf';

/** Device folders for each part of the kit (dist/device/<part>/…); `mender-scripts` are the gates. */
export const LAYOUT: Readonly<Record<string, { dest: string; mode: number }>> = {
  'mender-scripts': { dest: '/etc/mender/scripts', mode: 0o755 },
  modules: { dest: '/usr/share/mender/modules/v3', mode: 0o755 },
  identity: { dest: '/usr/share/mender/identity', mode: 0o755 },
  inventory: { dest: '/usr/share/mender/inventory', mode: 0o755 },
  bin: { dest: '/usr/lib/vancore-ota/bin', mode: 0o755 },
  systemd: { dest: '/etc/systemd/system', mode: 0o644 },
};

/** Files at the top of the kit and where they go. */
export const KIT_ROOT_FILES: Readonly<Record<string, { dest: string; mode: number }>> = {
  'vancore-sensord.js': { dest: '/usr/lib/vancore-ota/bin/vancore-sensord.js', mode: 0o755 },
};

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export const ManifestEntry = z.object({
  dest: z.string(),
  kind: z.enum(['file', 'json-merge']),
  /** What install last wrote there. */
  sha256: z.string(),
  /** A file was there before install took it over; its bytes are in backups/<backup>. */
  existed: z.boolean(),
  backup: z.optional(z.string()),
  /** Mode of the original file (restored with it). */
  mode_before: z.optional(z.int()),
  /** json-merge: the keys install set and their values before (absent = the key was not there). */
  keys: z.optional(z.record(z.string(), z.object({ had: z.boolean(), before: z.optional(z.unknown()) }))),
});
export type ManifestEntry = z.infer<typeof ManifestEntry>;

export const InstallManifest = z.object({
  format: z.literal(1),
  installed_at: IsoDateTime,
  entries: z.array(ManifestEntry),
  /** Directories install created, parents first (removed on uninstall when empty). */
  dirs: z.array(z.string()),
});
export type InstallManifest = z.infer<typeof InstallManifest>;

export interface KitFile {
  /** Path inside the kit, e.g. `modules/vancore-compose`. */
  rel: string;
  content: Buffer;
}

export interface DesiredFile {
  dest: string;
  content: Buffer;
  mode: number;
  /** Where it comes from (for the printed plan). */
  from: string;
}

/** The download gates in the kit, one per client (NOT_NOW_STATE); install lays out only the client's own. */
const DOWNLOAD_GATE = /^mender-scripts\/(Download_Enter|Sync_Leave)_/;

/** Where the client reads its config and its hooks: 5.x honours MENDER_CONF_DIR / MENDER_DATA_DIR (RECIPE-current §2). */
export interface ClientDirs {
  /** mender.conf and scripts/ (default /etc/mender). */
  conf: string;
  /** modules/v3, identity/, inventory/ (default /usr/share/mender). */
  data: string;
}
export const DEFAULT_CLIENT_DIRS: ClientDirs = { conf: '/etc/mender', data: '/usr/share/mender' };

/** Pure: a default device path moved into the client's dirs (5.x with MENDER_CONF_DIR / MENDER_DATA_DIR). */
export function inClientDirs(dest: string, dirs: ClientDirs): string {
  for (const [from, to] of [
    [DEFAULT_CLIENT_DIRS.conf, dirs.conf],
    [DEFAULT_CLIENT_DIRS.data, dirs.data],
  ] as const) {
    if (dest === from || dest.startsWith(`${from}/`)) return `${to}${dest.slice(from.length)}`;
  }
  return dest;
}

/**
 * Pure: the kit's files → the files install puts on the van for `client`. Unknown kit folders are
 * ignored; of the two download gates only the client's NOT_NOW_STATE one is laid out (on 5.x a
 * Download_Enter gate saying "not now" would be a deployment failure, RECIPE-current §3.2 (a)).
 */
export function desiredFiles(
  kit: readonly KitFile[],
  verifyKey: Buffer | null,
  /** Absent: the Go client's layout and no client record (callers that only look at the other parts). */
  client?: InstalledClient,
  dirs: ClientDirs = DEFAULT_CLIENT_DIRS,
): DesiredFile[] {
  const out: DesiredFile[] = [];
  for (const f of kit) {
    const gate = DOWNLOAD_GATE.exec(f.rel);
    if (gate && gate[1] !== NOT_NOW_STATE[client?.flavour ?? 'mender-3']) continue;
    const top = KIT_ROOT_FILES[f.rel];
    if (top) {
      out.push({ dest: top.dest, content: f.content, mode: top.mode, from: f.rel });
      continue;
    }
    const [part, ...rest] = f.rel.split('/');
    const place = part === undefined ? undefined : LAYOUT[part];
    if (!place || rest.length !== 1) continue;
    out.push({ dest: `${place.dest}/${rest[0]}`, content: f.content, mode: place.mode, from: f.rel });
  }
  // 3.4 refuses every state script without this file (RECIPE §5); 5.x would take a missing one as 3
  // (RECIPE-current §3.1). Written for both, so the layout does not lean on that default.
  out.push({ dest: '/etc/mender/scripts/version', content: Buffer.from('3\n'), mode: 0o644, from: '(generated)' });
  if (verifyKey) out.push({ dest: VERIFY_KEY_DEST, content: verifyKey, mode: 0o644, from: '--verify-key' });
  for (const f of out) f.dest = inClientDirs(f.dest, dirs);
  if (client) {
    out.push({
      dest: CLIENT_FILE,
      content: Buffer.from(`${JSON.stringify({ flavour: client.flavour, version: client.version })}\n`),
      mode: 0o644,
      from: `(detected ${client.flavour} ${client.version})`,
    });
  }
  return out.sort((a, b) => a.dest.localeCompare(b.dest));
}

/** Pure: which flavour `--client` asks for (auto = whatever is detected). */
export function requestedFlavour(value: string): ClientFlavour | 'auto' | undefined {
  return value === 'auto' ? 'auto' : value === '3' ? 'mender-3' : value === '5' ? 'mender-update-5' : undefined;
}

export interface InstallFacts {
  desired: DesiredFile[];
  /** Where mender.conf is (MENDER_CONF, or under MENDER_CONF_DIR on 5.x). */
  menderConfDest?: string;
  /** mender.conf keys to set (the fragment, minus ArtifactVerifyKey without a key). */
  menderKeys: Record<string, unknown>;
  /** Current state of every path involved: file sha256 + mode, or null when absent. */
  existing: Record<string, { sha256: string; mode: number } | null>;
  /** mender.conf as it is now (text), or null. */
  menderConf: string | null;
  /** Directories that do not exist yet (device paths). */
  missingDirs: string[];
  manifest: InstallManifest | null;
}

export type InstallAction =
  | { kind: 'mkdir'; dir: string }
  | { kind: 'backup'; dest: string }
  | { kind: 'write'; dest: string; content: Buffer; mode: number; from: string }
  | { kind: 'merge-json'; dest: string; text: string; keys: Record<string, { had: boolean; before?: unknown }> }
  | { kind: 'restore'; dest: string; backup: string; mode: number }
  | { kind: 'remove'; dest: string }
  | { kind: 'revert-json'; dest: string; text: string }
  | { kind: 'rmdir'; dir: string }
  | { kind: 'forget-manifest' };

export function describeAction(a: InstallAction): string {
  switch (a.kind) {
    case 'mkdir':
      return `mkdir   ${a.dir}`;
    case 'backup':
      return `backup  ${a.dest}`;
    case 'write':
      return `install ${a.dest} (${a.mode.toString(8).padStart(4, '0')}) from ${a.from}`;
    case 'merge-json':
      return `merge   ${a.dest}: ${Object.keys(a.keys).join(', ')}`;
    case 'restore':
      return `restore ${a.dest}`;
    case 'remove':
      return `remove  ${a.dest}`;
    case 'revert-json':
      return `revert  ${a.dest} (only the keys install set: it was edited since)`;
    case 'rmdir':
      return `rmdir   ${a.dir}`;
    case 'forget-manifest':
      return `remove  ${INSTALL_STATE_DIR}`;
  }
}

/** Parents of `path` up to (not including) "/", nearest last: /a, /a/b for /a/b/c. */
export function parents(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) out.unshift(d);
  return out;
}

/** Pure: mender.conf text with `keys` set; throws on a mender.conf that is not a JSON object. */
export function mergeMenderConf(current: string | null, keys: Record<string, unknown>): string {
  let doc: Record<string, unknown> = {};
  if (current !== null && current.trim() !== '') {
    const parsed = JSON.parse(current) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    doc = parsed as Record<string, unknown>;
  }
  return `${JSON.stringify({ ...doc, ...keys }, null, 2)}\n`;
}

/** Pure: install actions (empty when the van already has exactly this layout: idempotent). */
export function planInstall(f: InstallFacts): InstallAction[] {
  const conf = f.menderConfDest ?? MENDER_CONF;
  const owned = new Map((f.manifest?.entries ?? []).map((e) => [e.dest, e]));
  const actions: InstallAction[] = [];
  const wantDirs = new Set<string>();
  for (const d of [...f.desired.map((x) => x.dest), conf, `${INSTALL_STATE_DIR}/${MANIFEST_FILE}`]) {
    for (const p of parents(d)) wantDirs.add(p);
  }
  // The manifest's own folder first: from then on every action is recorded as it happens.
  const stateChain = new Set(parents(`${INSTALL_STATE_DIR}/${MANIFEST_FILE}`));
  const dirs = [...wantDirs].sort(
    (a, b) => Number(stateChain.has(b)) - Number(stateChain.has(a)) || a.localeCompare(b),
  );
  for (const dir of dirs) if (f.missingDirs.includes(dir)) actions.push({ kind: 'mkdir', dir });
  // Files an earlier install laid out that this one does not (another client's download gate after
  // a client change): give back what was there before, exactly as uninstall would.
  const wanted = new Set(f.desired.map((d) => d.dest));
  for (const e of f.manifest?.entries ?? []) {
    // The verification key stays: an install without --verify-key keeps the one on the van.
    if (e.kind !== 'file' || wanted.has(e.dest) || e.dest.endsWith('/artifact-verify-key.pem')) continue;
    if (e.existed && e.backup)
      actions.push({ kind: 'restore', dest: e.dest, backup: e.backup, mode: e.mode_before ?? 0o644 });
    else actions.push({ kind: 'remove', dest: e.dest });
  }
  for (const want of f.desired) {
    const cur = f.existing[want.dest] ?? null;
    if (!owned.has(want.dest) && cur) actions.push({ kind: 'backup', dest: want.dest });
    if (!cur || cur.sha256 !== sha256(want.content) || cur.mode !== want.mode) {
      actions.push({ kind: 'write', dest: want.dest, content: want.content, mode: want.mode, from: want.from });
    } else if (!owned.has(want.dest)) {
      // Already identical: take it over (with its backup) so uninstall gives back exactly this.
      actions.push({ kind: 'write', dest: want.dest, content: want.content, mode: want.mode, from: want.from });
    }
  }
  const text = mergeMenderConf(f.menderConf, f.menderKeys);
  const prior = owned.get(conf);
  if (!prior && f.menderConf !== null) actions.push({ kind: 'backup', dest: conf });
  if (text !== f.menderConf || !prior) {
    const before: Record<string, unknown> = f.menderConf ? (JSON.parse(f.menderConf) as Record<string, unknown>) : {};
    // Keep the values from before the first install; keys added by a later install record theirs now.
    const keys: Record<string, { had: boolean; before?: unknown }> = { ...(prior?.keys ?? {}) };
    for (const k of Object.keys(f.menderKeys)) {
      if (keys[k] === undefined) keys[k] = k in before ? { had: true, before: before[k] } : { had: false };
    }
    actions.push({ kind: 'merge-json', dest: conf, text, keys });
  }
  return actions;
}

/** Pure: uninstall actions from the manifest, newest first; a file edited since install is still
 *  restored (install's job is undone), except mender.conf where only install's keys are reverted. */
export function planUninstall(
  manifest: InstallManifest,
  existing: Record<string, { sha256: string; mode: number } | null>,
  menderConf: string | null,
): InstallAction[] {
  const actions: InstallAction[] = [];
  for (const e of [...manifest.entries].reverse()) {
    const cur = existing[e.dest] ?? null;
    if (e.kind === 'json-merge' && cur && cur.sha256 !== e.sha256 && menderConf !== null) {
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(menderConf) as Record<string, unknown>;
      } catch {
        doc = {};
      }
      for (const [k, v] of Object.entries(e.keys ?? {})) {
        if (v.had) doc[k] = v.before;
        else delete doc[k];
      }
      actions.push({ kind: 'revert-json', dest: e.dest, text: `${JSON.stringify(doc, null, 2)}\n` });
    } else if (e.existed && e.backup) {
      actions.push({ kind: 'restore', dest: e.dest, backup: e.backup, mode: e.mode_before ?? 0o644 });
    } else if (cur) {
      actions.push({ kind: 'remove', dest: e.dest });
    }
  }
  actions.push({ kind: 'forget-manifest' });
  for (const dir of [...manifest.dirs].reverse()) actions.push({ kind: 'rmdir', dir });
  return actions;
}

/** Pure: Node.js major version check for the bundled hooks (`#!/usr/bin/env node`). */
export function checkNode(versionText: string | null): string | null {
  if (versionText === null) return 'Node.js is not installed (no `node` in PATH): the VanCore hooks need Node.js >= 20';
  const m = /^v?(\d+)\./.exec(versionText.trim());
  if (!m) return `cannot read the Node.js version from '${versionText.trim().slice(0, 40)}'`;
  return Number(m[1]) >= 20 ? null : `Node.js ${versionText.trim()} is too old: the VanCore hooks need Node.js >= 20`;
}
