// Sense: everything a build decides on, gathered from disk and tools into one plain object. Nothing is
// written here, so bad input stops the build before a byte lands in --out. File contents are not
// read (bundles may be hundreds of MB): only directory listings, stat()s, the small compose file,
// the constraints file and the keys.
import { constants } from 'node:fs';
import { access, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import gt from 'semver/functions/gt.js';
import { parseYamlText } from '../core/config/load.js';
import { VanError } from '../core/errors.js';
import { Constraints } from '../core/schemas/artifact-meta.js';
import { isSafeBundlePath } from '../core/schemas/payload-index.js';
import { parseWith } from '../core/validation.js';
import type { BuildOptions } from './build-options.js';
import type { BuildFacts, PayloadFacts, ScriptFile, SourceFile } from './build-plan.js';
import { parseSigningKey } from './keys.js';
import { type CommandRunner, menderArtifactVersion } from './runner.js';
import { type BaseFacts, gatherBase } from './base-facts.js';
import type { TargetTarball } from './delta-plan.js';
import { readSavedImages } from './image-tar.js';

/** The gate scripts every VanCore artifact carries (built by the gates issue into dist/device/mender-scripts). */
export const GATE_SCRIPTS = ['ArtifactInstall_Enter_50_vancore-gate', 'ArtifactCommit_Enter_50_vancore-validate'];

/** Compose file names Docker Compose looks for, in its order of preference. */
export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Artifact state scripts mender-artifact accepts with -s (RECIPE §2.1, §5). */
const ARTIFACT_SCRIPT =
  /^(ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure)_(Enter|Leave|Error)_[0-9]{2}(_\S+)?$/;

const AUTHKEY_MAX = 512;

export interface SenseDeps {
  runner: CommandRunner;
  now: () => Date;
  /** Where the bundled gate scripts are when --scripts-dir is not given (dist/device/mender-scripts). */
  defaultScriptsDir: string;
}

const invalid = (msg: string) => new VanError('INPUT_INVALID', msg);

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** stat(), or one line naming the input as the user gave it (`shown`). */
async function statOrFail(path: string, what: string, shown = path) {
  try {
    return await stat(path);
  } catch (e) {
    throw invalid(`${what} ${shown} ${errCode(e) === 'ENOENT' ? 'does not exist' : `cannot be read (${errCode(e)})`}`);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw invalid(`cannot read ${what} ${path}: ${errCode(e)}`);
  }
}

async function assertReadable(path: string, what: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (e) {
    throw invalid(`cannot read ${what} ${path}: ${errCode(e)}`);
  }
}

function sourceOf(abs: string, st: { size: number; mode: number }): SourceFile {
  return { abs, size: st.size, mode: st.mode & 0o7777 };
}

/** Every regular file below `dir`, as `/`-separated relative paths, sorted. Symlinks are refused. */
async function walkBundle(dir: string): Promise<(SourceFile & { path: string })[]> {
  const out: (SourceFile & { path: string })[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      const abs = join(dir, childRel);
      if (e.isDirectory()) await visit(childRel);
      else if (e.isSymbolicLink()) {
        // A link cannot be recreated faithfully on the van and may point at anything on this machine.
        throw invalid(`bundle ${dir} contains a symlink ${childRel}: replace it with the file itself`);
      } else if (!e.isFile()) throw invalid(`bundle ${dir} contains ${childRel}, which is not a regular file`);
      else {
        if (!isSafeBundlePath(childRel)) throw invalid(`bundle ${dir}: unusable file name ${JSON.stringify(childRel)}`);
        await assertReadable(abs, 'bundle file');
        out.push({ ...sourceOf(abs, await stat(abs)), path: childRel });
      }
    }
  };
  await visit('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * `needImages` (a delta build): every image tarball must be a readable `docker save`. Otherwise a
 * tarball that is not one only leaves the manifest without its `images` list (as before deltas).
 */
async function composeFacts(bundle: string, outDir: string, needImages: boolean): Promise<PayloadFacts> {
  const dir = resolve(bundle);
  const st = await statOrFail(dir, 'bundle directory', bundle);
  if (!st.isDirectory()) throw invalid(`bundle ${bundle} is not a directory`);
  if (outDir === dir || outDir.startsWith(dir + sep)) {
    throw invalid(`--out ${outDir} is inside the bundle ${bundle}: the artifact would pack itself`);
  }
  const files = await walkBundle(dir);
  const present = COMPOSE_FILES.filter((n) => files.some((f) => f.path === n));
  if (present.length === 0) {
    throw invalid(`bundle ${bundle} has no compose file (${COMPOSE_FILES.join(', ')}) at its top level`);
  }
  if (present.length > 1) throw invalid(`bundle ${bundle} has more than one compose file: ${present.join(', ')}`);
  const composeFile = present[0] as string;
  const doc = parseYamlText(await readText(join(dir, composeFile), 'compose file'), join(bundle, composeFile));
  const services = (doc as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null || Array.isArray(services)) {
    throw invalid(`${join(bundle, composeFile)} has no services: it is not a compose file`);
  }
  const images = files.filter((f) => /^images\/[^/]+\.tar$/.test(f.path)).map((f) => f.path);
  let saved: TargetTarball[] | null = [];
  for (const f of files.filter((x) => images.includes(x.path))) {
    try {
      saved.push({ path: f.path, abs: f.abs, images: await readSavedImages(f.abs) });
    } catch (e) {
      if (needImages) throw e;
      saved = null;
      break;
    }
  }
  return { type: 'compose', files, composeFile, images, saved };
}

async function configFacts(files: { src: string; dest: string }[]): Promise<PayloadFacts> {
  const out: (SourceFile & { dest: string })[] = [];
  for (const f of files) {
    const abs = resolve(f.src);
    const st = await statOrFail(abs, '--file source', f.src);
    if (!st.isFile()) throw invalid(`--file source ${f.src} is not a regular file`);
    await assertReadable(abs, '--file source');
    out.push({ ...sourceOf(abs, st), dest: f.dest });
  }
  return { type: 'config', files: out };
}

async function vpnFacts(p: Extract<BuildOptions['payload'], { type: 'vpn' }>): Promise<PayloadFacts> {
  if (p.authkeyFile === null) return { type: 'vpn', step: p.step, loginServer: p.loginServer, authkey: null };
  const abs = resolve(p.authkeyFile);
  // Read only to check its shape; the key itself goes nowhere but the staged payload file.
  const key = (await readText(abs, '--authkey-file')).trim();
  if (key === '' || key.length > AUTHKEY_MAX || /\s/.test(key)) {
    throw invalid(`--authkey-file ${p.authkeyFile} must hold one pre-auth key on one line`);
  }
  return {
    type: 'vpn',
    step: p.step,
    loginServer: p.loginServer,
    authkey: { abs, size: Buffer.byteLength(key), mode: 0o600 },
  };
}

async function scriptFacts(o: BuildOptions, defaultDir: string): Promise<ScriptFile[]> {
  if (!o.gateScripts && o.scriptsDir === null) return [];
  const dir = resolve(o.scriptsDir ?? defaultDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw invalid(`cannot read scripts directory ${dir}: ${errCode(e)}`);
    names = [];
  }
  if (o.gateScripts) {
    const missing = GATE_SCRIPTS.find((g) => !names.includes(g));
    if (missing) {
      throw invalid(
        o.scriptsDir === null
          ? `gate script ${join(dir, missing)} is missing: run 'npm run build' (it bundles the gates), or pass --scripts-dir DIR`
          : `gate script ${missing} is missing in --scripts-dir ${o.scriptsDir}`,
      );
    }
  }
  const scripts: ScriptFile[] = [];
  // Only artifact-state scripts travel in an artifact. Idle/Sync/Download scripts built beside them
  // (the Download_Enter gate) are installed on the device by `vancore-ota device install`; other
  // files are not scripts at all, but a source map next to a bundle would match Mender's name
  // pattern (`<State>_<Action>_NN_<anything>`) and be run as one: leave *.map out.
  for (const name of names.filter((n) => ARTIFACT_SCRIPT.test(n) && !n.endsWith('.map')).sort()) {
    const abs = join(dir, name);
    if (!(await statOrFail(abs, 'state script')).isFile()) throw invalid(`state script ${abs} is not a regular file`);
    await assertReadable(abs, 'state script');
    scripts.push({ name, abs });
  }
  return scripts;
}

async function baseFacts(o: BuildOptions, path: string): Promise<BaseFacts> {
  await statOrFail(resolve(path), '--base', path);
  const b = await gatherBase(path);
  if (b.component !== o.component) {
    throw invalid(`--base ${path} is a ${b.component} release, not ${o.component}`);
  }
  if (!gt(o.version, b.version)) {
    throw invalid(
      `--base ${path} is version ${b.version}: a delta goes from an older release to --version ${o.version}`,
    );
  }
  return b;
}

async function constraintsFacts(file: string | null) {
  if (file === null) return parseWith(Constraints, {}, 'constraints');
  const raw = parseYamlText(await readText(file, '--constraints file'), file);
  return parseWith(Constraints, raw ?? {}, `invalid constraints ${file}`);
}

/**
 * Gather the facts for `planBuild`. The signing key's PEM (converted for mender-artifact) is returned
 * beside the facts, never inside them, so the facts can be printed or logged whole.
 */
export async function gatherBuildFacts(
  options: BuildOptions,
  deps: SenseDeps,
): Promise<{ facts: BuildFacts; signingPem: string | null }> {
  const outDir = resolve(options.out);
  const versionP = menderArtifactVersion(deps.runner);
  // Settle the tool probe even if an input check fails first (no unhandled rejection).
  versionP.catch(() => undefined);
  const constraints = await constraintsFacts(options.constraintsFile);
  const p = options.payload;
  const payload =
    p.type === 'compose'
      ? await composeFacts(p.bundle, outDir, options.base !== null)
      : p.type === 'config'
        ? await configFacts(p.files)
        : p.type === 'ha-addons'
          ? { type: 'ha-addons' as const, addons: p.addons }
          : await vpnFacts(p);
  const scripts = await scriptFacts(options, deps.defaultScriptsDir);
  const base = options.base === null ? null : await baseFacts(options, options.base);
  let signing = null;
  let signingPem: string | null = null;
  if (options.signKey !== null) {
    const key = parseSigningKey(await readText(options.signKey, 'signing key'), options.signKey);
    signing = { algorithm: key.algorithm, bits: key.bits, fingerprint: key.fingerprint };
    signingPem = key.menderPem;
  }
  const outSt = await stat(outDir).catch(() => null);
  if (outSt && !outSt.isDirectory()) throw invalid(`--out ${options.out} is not a directory`);
  return {
    facts: {
      options: { ...options, out: outDir },
      constraints,
      payload,
      scripts,
      signing,
      base,
      menderArtifactVersion: await versionP,
      now: deps.now(),
    },
    signingPem,
  };
}
