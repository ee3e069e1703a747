// `vancore-ota device install|uninstall`: sensing the van and the kit, running the planned actions
// and keeping the manifest (written after every action, so an interrupted run is picked up again).
import { createPublicKey } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, lstat, mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VanError } from '../../core/errors.js';
import {
  CLIENT_BINARY,
  classifyClientVersion,
  parseVersionOutput,
  type ClientFlavour,
  type InstalledClient,
} from '../../core/schemas/client.js';
import type { HostPaths } from '../../core/host-paths.js';
import { asPromise, readStateJson, STATE_FILES, writeStateJson } from '../../core/state-dir.js';
import { writeStateFileAtomic } from '../../core/state-files.js';
import type { CommandRunner } from '../lib/runner.js';
import {
  checkNode,
  DEFAULT_CLIENT_DIRS,
  describeAction,
  desiredFiles,
  inClientDirs,
  InstallManifest,
  INSTALL_STATE_DIR,
  KIT_ROOT_FILES,
  LAYOUT,
  MANIFEST_FILE,
  MENDER_CONF,
  parents,
  planInstall,
  planUninstall,
  sha256,
  VERIFY_KEY_DEST,
  type ClientDirs,
  type InstallAction,
  type KitFile,
  type ManifestEntry,
} from './plan.js';

export const FRAGMENT_FILE = 'mender/mender.conf.fragment.json';

export interface InstallOptions {
  paths: HostPaths;
  /** The device kit (dist/device). */
  from: string;
  verifyKey: string | null;
  allowUnsigned: boolean;
  dryRun: boolean;
  runner: CommandRunner;
  now: Date;
  say: (line: string) => void;
  /** --client: which Mender client to lay out for (auto: detect it). Default auto. */
  client?: ClientFlavour | 'auto';
  /** The installer's environment: 5.x reads MENDER_CONF_DIR / MENDER_DATA_DIR (RECIPE-current §2). */
  env?: { MENDER_CONF_DIR?: string | undefined; MENDER_DATA_DIR?: string | undefined };
}

/** Where a van's PATH looks for programs (searched under --root before the host's PATH). */
const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** `--root` must be an existing, writable directory: one clear line otherwise (not an internal error). */
export async function checkRoot(root: string, write: boolean): Promise<void> {
  const st = await stat(root).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    throw new VanError(
      'USAGE',
      `--root ${root}: ${st.code === 'ENOENT' ? 'no such directory' : (st.code ?? st.message)}`,
    );
  }
  if (!st.isDirectory()) throw new VanError('USAGE', `--root ${root}: not a directory`);
  if (!write) return;
  const denied = await access(root, constants.W_OK).then(
    () => null,
    (e: NodeJS.ErrnoException) => e.code ?? 'not writable',
  );
  if (denied) throw new VanError('INPUT_INVALID', `--root ${root} is not writable (${denied})`);
}

/** `<binary> --version` under the root's PATH, else on the host's; null when it is nowhere. */
async function clientVersion(
  paths: HostPaths,
  binary: string,
  runner: CommandRunner,
): Promise<{ where: string; output: string } | null> {
  const candidates: string[] = [];
  for (const dir of BIN_DIRS) {
    const abs = paths.resolve(`${dir}/${binary}`);
    const st = await stat(abs).catch(() => null);
    if (st?.isFile() && (st.mode & 0o111) !== 0) candidates.push(abs);
  }
  // Not under the root (an image without the client yet, or root = /): the host's PATH.
  candidates.push(binary);
  for (const cmd of candidates) {
    const r = await runner.run(cmd, ['--version'], { timeoutMs: 10_000 });
    if (r.spawnError === 'ENOENT') continue;
    return { where: cmd, output: r.code === 0 ? r.stdout : `${r.stdout}${r.stderr}` };
  }
  return null;
}

/**
 * Which client to lay out for: `mender` 3.x or `mender-update` ≥ 5.0.1, by `--version`; 4.0.x–5.0.0
 * are refused (MEN-7900, RECIPE-current §0). `auto` prefers mender-update when both are there.
 */
export async function detectClient(
  paths: HostPaths,
  want: ClientFlavour | 'auto',
  runner: CommandRunner,
): Promise<InstalledClient> {
  const binaries = want === 'auto' ? (['mender-update', 'mender'] as const) : ([CLIENT_BINARY[want]] as const);
  for (const binary of binaries) {
    const found = await clientVersion(paths, binary, runner);
    if (!found) continue;
    const version = parseVersionOutput(found.output);
    if (!version) {
      throw new VanError(
        'INPUT_INVALID',
        `cannot read the version of ${found.where} from '${found.output.trim().split('\n')[0]?.slice(0, 60) ?? ''}'`,
      );
    }
    const c = classifyClientVersion(binary, version);
    if (!c.ok) throw new VanError('INPUT_INVALID', c.reason);
    return { flavour: c.flavour, version };
  }
  throw new VanError(
    'TOOL_MISSING',
    `no ${binaries.join(' or ')} found under ${paths.root} or on this host's PATH: install the Mender client first (mender-client 3.x or mender-update ≥ 5.0.1)`,
  );
}

async function fileState(path: string): Promise<{ sha256: string; mode: number } | null> {
  const st = await lstat(path).catch(() => null);
  if (!st?.isFile()) return null;
  return { sha256: sha256(await readFile(path)), mode: st.mode & 0o7777 };
}

async function readKit(from: string): Promise<KitFile[]> {
  const out: KitFile[] = [];
  for (const rel of Object.keys(KIT_ROOT_FILES)) {
    const content = await readFile(join(from, rel)).catch(() => null);
    if (content) out.push({ rel, content });
  }
  for (const part of Object.keys(LAYOUT)) {
    const names = await readdir(join(from, part)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const abs = join(from, part, name);
      if ((await lstat(abs)).isFile()) out.push({ rel: `${part}/${name}`, content: await readFile(abs) });
    }
  }
  return out;
}

function readManifest(paths: HostPaths): Promise<InstallManifest | null> {
  return asPromise(() => {
    const path = paths.resolve(`${INSTALL_STATE_DIR}/${MANIFEST_FILE}`);
    const read = readStateJson(path, { schema: InstallManifest, maxBytes: STATE_FILES.installManifest.maxBytes });
    if (read.status === 'missing') return null;
    if (read.status === 'invalid') throw new VanError('INPUT_INVALID', `${read.problem}: fix or remove it`);
    return read.value;
  });
}

class ManifestKeeper {
  constructor(
    private readonly paths: HostPaths,
    public manifest: InstallManifest,
  ) {}

  entry(dest: string): ManifestEntry | undefined {
    return this.manifest.entries.find((e) => e.dest === dest);
  }

  upsert(e: ManifestEntry): void {
    this.manifest = { ...this.manifest, entries: [...this.manifest.entries.filter((x) => x.dest !== e.dest), e] };
  }

  drop(dest: string): void {
    this.manifest = { ...this.manifest, entries: this.manifest.entries.filter((x) => x.dest !== dest) };
  }

  async save(): Promise<void> {
    const dir = this.paths.resolve(INSTALL_STATE_DIR);
    if ((await lstat(dir).catch(() => null)) === null) return;
    writeStateJson(join(dir, MANIFEST_FILE), this.manifest, { mode: 0o600, pretty: true });
  }
}

async function execute(a: InstallAction, keeper: ManifestKeeper, paths: HostPaths): Promise<void> {
  const r = (p: string) => paths.resolve(p);
  const backups = r(`${INSTALL_STATE_DIR}/backups`);
  switch (a.kind) {
    case 'mkdir':
      await mkdir(r(a.dir));
      keeper.manifest = { ...keeper.manifest, dirs: [...keeper.manifest.dirs, a.dir] };
      return;
    case 'backup': {
      await mkdir(backups, { recursive: true });
      const name =
        String(keeper.manifest.entries.length + keeper.manifest.dirs.length) + '-' + sha256(a.dest).slice(0, 8);
      await copyFile(r(a.dest), join(backups, name));
      const st = await lstat(r(a.dest));
      keeper.upsert({
        dest: a.dest,
        kind: a.dest.endsWith('/mender.conf') ? 'json-merge' : 'file',
        sha256: '',
        existed: true,
        backup: name,
        mode_before: st.mode & 0o7777,
      });
      return;
    }
    case 'write': {
      writeStateFileAtomic(r(a.dest), a.content, a.mode);
      const prior = keeper.entry(a.dest);
      keeper.upsert({ ...(prior ?? { existed: false }), dest: a.dest, kind: 'file', sha256: sha256(a.content) });
      return;
    }
    case 'merge-json': {
      // mender.conf may hold a TenantToken: keep its mode, 0600 when install creates it.
      const mode = (await lstat(r(a.dest)).catch(() => null))?.mode ?? 0o600;
      writeStateFileAtomic(r(a.dest), a.text, mode & 0o7777);
      const prior = keeper.entry(a.dest);
      keeper.upsert({
        ...(prior ?? { existed: false }),
        dest: a.dest,
        kind: 'json-merge',
        sha256: sha256(a.text),
        keys: a.keys,
      });
      return;
    }
    case 'restore':
      writeStateFileAtomic(r(a.dest), await readFile(join(backups, a.backup)), a.mode);
      keeper.drop(a.dest);
      return;
    case 'remove':
      await rm(r(a.dest), { force: true });
      keeper.drop(a.dest);
      return;
    case 'revert-json': {
      const mode = (await lstat(r(a.dest)).catch(() => null))?.mode ?? 0o600;
      writeStateFileAtomic(r(a.dest), a.text, mode & 0o7777);
      keeper.drop(a.dest);
      return;
    }
    case 'rmdir':
      // Only if empty: something else may have put files there since.
      await rmdir(r(a.dir)).catch(() => undefined);
      return;
    case 'forget-manifest':
      await rm(r(INSTALL_STATE_DIR), { recursive: true, force: true });
      return;
  }
}

async function nodeVersion(runner: CommandRunner): Promise<string | null> {
  const res = await runner.run('node', ['--version'], { timeoutMs: 10_000 });
  return res.code === 0 ? res.stdout.trim() : null;
}

/** RSA below this is refused on every client: too weak for signing releases (NIST SP 800-131A). */
export const MIN_RSA_VERIFY_BITS = 2048;

/**
 * Why the installed client could not verify artifacts with this public key (undefined: it can).
 * - mender 3.x (Go): the verifier takes RSA or ECDSA keys only and ECDSA signatures of 64 bytes
 *   (P-256): mender's vendored mender-artifact `artifact/signer.go` `getKeyAndVerifyMethod` /
 *   `ECDSA256.Verify`; an Ed25519 key is "unsupported public key type" (RECIPE.md §2.3, verified).
 * - mender-update 5.x (C++): any key OpenSSL reads (`PEM_read_bio_PUBKEY` in
 *   src/common/crypto/platform/openssl/crypto.cpp), Ed25519 included.
 * RSA below 2048 bits is refused on both as too weak (the 3.4 client itself accepts 1024: measured).
 */
export function verifyKeyProblem(pem: Buffer, flavour: ClientFlavour): string | undefined {
  let key;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    return `not a readable public key (${e instanceof Error ? e.message : String(e)})`;
  }
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    return bits < MIN_RSA_VERIFY_BITS
      ? `an RSA key of ${bits} bits is too weak to sign releases: use RSA ≥ ${MIN_RSA_VERIFY_BITS} bits or ECDSA P-256`
      : undefined;
  }
  if (flavour === 'mender-update-5') return undefined;
  if (type === 'ec')
    return details.namedCurve === 'prime256v1'
      ? undefined
      : `mender 3.x verifies ECDSA signatures on P-256 only, not ${details.namedCurve ?? 'this curve'}: use an ECDSA P-256 or RSA ≥ ${MIN_RSA_VERIFY_BITS} key`;
  return `mender 3.x cannot verify artifacts with an ${type === 'ed25519' ? 'Ed25519' : type} key (RSA and ECDSA P-256 only): use an ECDSA P-256 or RSA ≥ ${MIN_RSA_VERIFY_BITS} key, or mender-update 5.x`;
}

export async function deviceInstall(o: InstallOptions): Promise<InstallAction[]> {
  await checkRoot(o.paths.root, !o.dryRun);
  const nodeProblem = checkNode(await nodeVersion(o.runner));
  if (nodeProblem) throw new VanError('TOOL_MISSING', nodeProblem);
  const kit = await readKit(o.from);
  const has = (part: string) => kit.some((f) => f.rel.startsWith(`${part}/`));
  if (!has('mender-scripts')) {
    throw new VanError(
      'INPUT_INVALID',
      `the gate scripts are missing from ${join(o.from, 'mender-scripts')}: build them first (npm run build)`,
    );
  }
  for (const part of ['modules', 'identity', 'inventory']) {
    if (!has(part))
      throw new VanError('INPUT_INVALID', `${join(o.from, part)} is missing: build the kit first (npm run build)`);
  }
  let fragment: Record<string, unknown>;
  try {
    fragment = JSON.parse(await readFile(join(o.from, FRAGMENT_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    throw new VanError('INPUT_INVALID', `${join(o.from, FRAGMENT_FILE)} is missing or not JSON: build the kit first`);
  }
  const client = await detectClient(o.paths, o.client ?? 'auto', o.runner);
  // Only the C++ client reads these; the Go client hard-codes /etc/mender and /usr/share/mender.
  const dirs: ClientDirs =
    client.flavour === 'mender-update-5'
      ? {
          conf: o.env?.MENDER_CONF_DIR || DEFAULT_CLIENT_DIRS.conf,
          data: o.env?.MENDER_DATA_DIR || DEFAULT_CLIENT_DIRS.data,
        }
      : DEFAULT_CLIENT_DIRS;
  const confDest = inClientDirs(MENDER_CONF, dirs);
  const keyDest = inClientDirs(VERIFY_KEY_DEST, dirs);
  const verifyKey =
    o.verifyKey === null
      ? null
      : await readFile(o.verifyKey).catch((e: NodeJS.ErrnoException) => {
          throw new VanError('INPUT_INVALID', `--verify-key ${o.verifyKey}: ${e.code ?? e.message}`);
        });
  if (verifyKey && !/-----BEGIN PUBLIC KEY-----/.test(verifyKey.toString('utf8'))) {
    throw new VanError('INPUT_INVALID', `${o.verifyKey} is not a PEM public key (-----BEGIN PUBLIC KEY-----)`);
  }
  if (verifyKey) {
    const problem = verifyKeyProblem(verifyKey, client.flavour);
    if (problem) throw new VanError('INPUT_INVALID', `--verify-key ${o.verifyKey}: ${problem}`);
  }
  const keyOnVan = (await fileState(o.paths.resolve(keyDest))) !== null;
  const menderKeys = { ...fragment };
  if (typeof menderKeys.ArtifactVerifyKey === 'string')
    menderKeys.ArtifactVerifyKey = inClientDirs(menderKeys.ArtifactVerifyKey, dirs);
  if (!verifyKey && !keyOnVan) {
    if (!o.allowUnsigned) {
      throw new VanError(
        'INPUT_INVALID',
        `no artifact verification key: pass --verify-key FILE (the public key CI signs with) or --allow-unsigned`,
      );
    }
    delete menderKeys.ArtifactVerifyKey;
  }
  const desired = desiredFiles(kit, verifyKey, client, dirs);
  o.say(`client: ${CLIENT_BINARY[client.flavour]} ${client.version} (${client.flavour})`);
  const manifest = await readManifest(o.paths);
  const existing: Record<string, { sha256: string; mode: number } | null> = {};
  for (const d of [...desired.map((x) => x.dest), confDest]) existing[d] = await fileState(o.paths.resolve(d));
  const menderConfPath = o.paths.resolve(confDest);
  const menderConf = existing[confDest] ? await readFile(menderConfPath, 'utf8') : null;
  const allDirs = new Set<string>();
  for (const d of [...desired.map((x) => x.dest), confDest, `${INSTALL_STATE_DIR}/${MANIFEST_FILE}`]) {
    for (const p of parents(d)) allDirs.add(p);
  }
  const missingDirs: string[] = [];
  for (const d of allDirs) if ((await lstat(o.paths.resolve(d)).catch(() => null)) === null) missingDirs.push(d);
  let actions: InstallAction[];
  try {
    actions = planInstall({
      desired,
      menderConfDest: confDest,
      menderKeys,
      existing,
      menderConf,
      missingDirs,
      manifest,
    });
  } catch (e) {
    throw new VanError('INPUT_INVALID', `${menderConfPath} is not valid JSON (${(e as Error).message}): fix it first`);
  }
  if (o.dryRun) return actions;
  const keeper = new ManifestKeeper(
    o.paths,
    manifest ?? { format: 1, installed_at: o.now.toISOString(), entries: [], dirs: [] },
  );
  for (const a of actions) {
    await executeOrSay(a, keeper, o.paths);
    await keeper.save();
  }
  return actions;
}

/** An action that fails (a read-only or unwritable folder) is one clear line; the manifest keeps what was done. */
async function executeOrSay(a: InstallAction, keeper: ManifestKeeper, paths: HostPaths): Promise<void> {
  try {
    await execute(a, keeper, paths);
  } catch (e) {
    if (e instanceof VanError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new VanError(
      'INPUT_INVALID',
      `cannot ${describeAction(a).replace(/\s+/g, ' ')} under ${paths.root}: ${code}`,
    );
  }
}

export async function deviceUninstall(o: Pick<InstallOptions, 'paths' | 'dryRun'>): Promise<InstallAction[]> {
  await checkRoot(o.paths.root, !o.dryRun);
  const manifest = await readManifest(o.paths);
  if (!manifest) {
    throw new VanError(
      'NOT_FOUND',
      `nothing to uninstall: no ${o.paths.resolve(`${INSTALL_STATE_DIR}/${MANIFEST_FILE}`)}`,
    );
  }
  const existing: Record<string, { sha256: string; mode: number } | null> = {};
  for (const e of manifest.entries) existing[e.dest] = await fileState(o.paths.resolve(e.dest));
  const conf = manifest.entries.find((e) => e.kind === 'json-merge')?.dest ?? MENDER_CONF;
  const menderConf = existing[conf] ? await readFile(o.paths.resolve(conf), 'utf8') : null;
  const actions = planUninstall(manifest, existing, menderConf);
  if (o.dryRun) return actions;
  const keeper = new ManifestKeeper(o.paths, manifest);
  for (const a of actions) {
    await executeOrSay(a, keeper, o.paths);
    if (a.kind !== 'forget-manifest' && a.kind !== 'rmdir') await keeper.save();
  }
  return actions;
}
