// `vancore-ota artifact verify FILE --key PUB [--manifest FILE]`.
// mender-artifact 3.9's exit code cannot be trusted alone (RECIPE §2.3): `validate -k <ed25519 key>`
// exits 0 on anything, `read` with a wrong key exits 0. So: the key's type is checked first (only RSA
// and P-256 exist for Mender), `validate` must exit 0 AND say "validated successfully", `read` must
// say "signed and verified correctly", and the header, meta-data and manifest must agree.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import gt from 'semver/functions/gt.js';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type ArtifactFileInfo, readArtifactFile } from '../core/artifact-file.js';
import { VanError } from '../core/errors.js';
import { ArtifactMetaData } from '../core/schemas/artifact-meta.js';
import { describeIssues } from '../core/validation.js';
import { artifactName, SOFTWARE_FILESYSTEM } from './build-plan.js';
import { parseVerifyKey, type VerifyKey } from './keys.js';
import { BuildManifest, manifestPathFor } from './manifest.js';
import { type CommandRunner, type RunResult, firstLine } from './runner.js';

export interface VerifyOptions {
  file: string;
  keyFile: string;
  /** An explicit manifest (must exist); null = use `<name>.manifest.json` beside the file if present. */
  manifestFile: string | null;
}

export interface VerifyFacts {
  file: string;
  key: Omit<VerifyKey, 'spkiPem'>;
  keyFile: string;
  validate: RunResult;
  read: RunResult;
  /** Read by core's artifact reader: header, payload checksums checked, sha256 and size of the file. */
  artifact: ArtifactFileInfo;
  manifest: { path: string; value: BuildManifest } | null;
}

export interface VerifyReport {
  file: string;
  name: string;
  type: string;
  size: number;
  key: Omit<VerifyKey, 'spkiPem'>;
  provides: Record<string, string>;
  deviceTypes: string[];
  scripts: string[];
  manifest: string | null;
  /** `vancore.revert_of`: the version this revert artifact takes the component back from; null otherwise. */
  revertOf: string | null;
  /** `vancore.delta_of`: a layer-delta artifact, installable only on vans running this version; null otherwise. */
  deltaOf: string | null;
}

/** Why `validate` failed, in words a release engineer acts on. */
function signatureProblem(text: string, keyFile: string): string {
  if (/missing signature/.test(text)) return 'the artifact is not signed';
  if (/verification error|verification failed|invalid ecdsa key size|invalid signature/i.test(text)) {
    return `the signature does not match the key ${keyFile}`;
  }
  return `mender-artifact validate failed: ${firstLine(text)}`;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** Decide: every problem found, in the order a human should fix them (empty = verified). */
export function judgeVerification(f: VerifyFacts): string[] {
  const problems: string[] = [];
  const vText = `${f.validate.stdout}\n${f.validate.stderr}`;
  const validated = f.validate.exitCode === 0 && /validated successfully/.test(vText);
  if (!validated || /unsupported public key type/.test(vText)) problems.push(signatureProblem(vText, f.keyFile));
  const rText = `${f.read.stdout}\n${f.read.stderr}`;
  if (!/Signature: signed and verified correctly/.test(rText)) {
    if (problems.length === 0) {
      problems.push(
        /Signature: no signature/.test(rText)
          ? 'the artifact is not signed'
          : /verification using provided key failed/.test(rText)
            ? `the signature does not match the key ${f.keyFile}`
            : `mender-artifact read did not confirm the signature: ${firstLine(f.read.stderr, f.read.stdout)}`,
      );
    }
  }
  const a = f.artifact;
  const payload = a.payloads[0];
  const provides = payload?.provides ?? {};
  const readName = /^\s*Name: (.*)$/m.exec(f.read.stdout)?.[1]?.trim();
  if (readName !== undefined && readName !== a.name) problems.push(`artifact name differs: ${readName} vs ${a.name}`);
  if (!a.signed && problems.length === 0) problems.push('the artifact is not signed');
  if (a.payloads.length !== 1)
    problems.push(`the artifact has ${a.payloads.length} payloads, VanCore artifacts have one`);

  const meta = ArtifactMetaData.safeParse(payload?.metaData);
  if (!meta.success) {
    problems.push(`meta-data: ${describeIssues(meta.error.issues)[0] ?? 'invalid'}`);
  } else {
    const { component, version, revert_of: revertOf, delta_of: deltaOf } = meta.data.vancore;
    const providesKey = `${SOFTWARE_FILESYSTEM}.${component}.version`;
    if (provides[providesKey] !== version) {
      problems.push(`provides ${providesKey}=${provides[providesKey] ?? '(none)'} but meta-data says ${version}`);
    }
    const wantName = artifactName(component, version, revertOf ?? null, deltaOf ?? null);
    if (a.name !== wantName) problems.push(`artifact name ${a.name} does not match meta-data (${wantName})`);
    if (deltaOf !== undefined) {
      // The delta must install only where its base runs: the client enforces the depends, nothing else.
      const dep = payload?.depends[providesKey];
      const deps = Array.isArray(dep) ? dep : dep === undefined ? [] : [dep];
      if (deps.length !== 1 || deps[0] !== deltaOf) {
        problems.push(`delta of ${deltaOf} but it depends on ${providesKey}=${deps.join(',') || '(nothing)'}`);
      }
      if (!gt(version, deltaOf)) problems.push(`meta-data delta_of ${deltaOf} is not older than version ${version}`);
    }
    if (revertOf !== undefined && !gt(revertOf, version)) {
      problems.push(`meta-data revert_of ${revertOf} is not newer than version ${version}: not a revert`);
    }
  }

  const m = f.manifest;
  if (m) {
    const want = m.value;
    const where = `manifest ${basename(m.path)}`;
    if (want.sha256 !== a.sha256) problems.push(`${where}: sha256 differs (file ${a.sha256})`);
    if (want.size !== a.size) problems.push(`${where}: size ${want.size} but the file has ${a.size}`);
    if (want.name !== a.name) problems.push(`${where}: name ${want.name} but the artifact is ${a.name}`);
    if (want.type !== payload?.type) problems.push(`${where}: type ${want.type} but the artifact is ${payload?.type}`);
    const { artifact_name: wantName, ...wantProvides } = want.provides;
    if (wantName !== a.name || JSON.stringify(sorted(wantProvides)) !== JSON.stringify(sorted(provides))) {
      problems.push(`${where}: provides differ from the artifact's`);
    }
    if (!sameSet(want.device_types, a.deviceTypes)) problems.push(`${where}: device types differ from the artifact's`);
    const metaStep = meta.success ? (meta.data.vancore.vpn?.step ?? null) : null;
    if (meta.success && (want.vpn_step ?? null) !== metaStep) {
      problems.push(`${where}: vpn step ${want.vpn_step ?? '(none)'} but meta-data says ${metaStep ?? '(none)'}`);
    }
    const metaRevert = meta.success ? (meta.data.vancore.revert_of ?? null) : null;
    if (meta.success && (want.revert_of ?? null) !== metaRevert) {
      problems.push(`${where}: revert of ${want.revert_of ?? '(none)'} but meta-data says ${metaRevert ?? '(none)'}`);
    }
    const metaDelta = meta.success ? (meta.data.vancore.delta_of ?? null) : null;
    if (meta.success && (want.delta?.base_version ?? null) !== metaDelta) {
      problems.push(
        `${where}: delta of ${want.delta?.base_version ?? '(none)'} but meta-data says ${metaDelta ?? '(none)'}`,
      );
    }
    if (want.signed_by === null) problems.push(`${where}: says unsigned, but the artifact is signed`);
    else if (want.signed_by.fingerprint !== f.key.fingerprint) {
      problems.push(`${where}: signed by key ${short(want.signed_by.fingerprint)}, not by ${short(f.key.fingerprint)}`);
    }
  }
  return problems;
}

function sorted(r: Record<string, string>): [string, string][] {
  return Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function keyLabel(k: { algorithm: string; bits: number }): string {
  return k.algorithm === 'rsa' ? `RSA-${k.bits}` : 'ECDSA P-256';
}

export function short(fingerprint: string): string {
  return `${fingerprint.slice(0, 16)}…`;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new VanError('INPUT_INVALID', `cannot read key ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

async function loadManifest(path: string): Promise<BuildManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VanError('INPUT_INVALID', `cannot read manifest ${path}: ${code ?? 'not JSON'}`);
  }
  const r = BuildManifest.safeParse(raw);
  if (!r.success) {
    throw new VanError('INPUT_INVALID', `manifest ${path}: ${describeIssues(r.error.issues)[0] ?? 'invalid'}`);
  }
  return r.data;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/** Sense: run the tools and read what is needed. Throws only on unusable input (no file, bad key). */
export async function gatherVerifyFacts(opts: VerifyOptions, runner: CommandRunner): Promise<VerifyFacts> {
  const key = parseVerifyKey(await readKeyFile(opts.keyFile), opts.keyFile);
  const st = await stat(opts.file).catch((e: NodeJS.ErrnoException) => {
    throw new VanError('INPUT_INVALID', `cannot read ${opts.file}: ${e.code ?? String(e)}`);
  });
  if (!st.isFile()) throw new VanError('INPUT_INVALID', `${opts.file} is not a file`);
  const manifestPath = opts.manifestFile ?? manifestPathFor(opts.file);
  const manifest = opts.manifestFile !== null || (await exists(manifestPath)) ? await loadManifest(manifestPath) : null;
  // One streamed pass: header, payload checksums against the bytes, sha256 and size of the file.
  const artifact = await readArtifactFile(opts.file);

  const dir = await mkdtemp(join(tmpdir(), 'vancore-verify-'));
  try {
    const pub = join(dir, 'key.pub');
    await writeFile(pub, key.spkiPem, { mode: 0o600 });
    const validate = await runner.run('mender-artifact', ['validate', '-k', pub, opts.file]);
    const read = await runner.run('mender-artifact', ['read', '--no-progress', '-k', pub, opts.file]);
    const { spkiPem: _pem, ...keyInfo } = key;
    return {
      file: opts.file,
      key: keyInfo,
      keyFile: opts.keyFile,
      validate,
      read,
      artifact,
      manifest: manifest ? { path: manifestPath, value: manifest } : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Verify, or throw a one-line VanError naming the first problem (the rest in its details). */
export async function verifyArtifact(opts: VerifyOptions, runner: CommandRunner): Promise<VerifyReport> {
  const facts = await gatherVerifyFacts(opts, runner);
  const problems = judgeVerification(facts);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    throw new VanError('INPUT_INVALID', `${opts.file}: ${problems[0]}${more}`, { details: problems });
  }
  return {
    file: opts.file,
    name: facts.artifact.name,
    type: facts.artifact.payloads[0]?.type ?? '',
    size: facts.artifact.size,
    key: facts.key,
    provides: facts.artifact.payloads[0]?.provides ?? {},
    deviceTypes: facts.artifact.deviceTypes,
    scripts: facts.artifact.scripts,
    manifest: facts.manifest?.path ?? null,
    revertOf: ArtifactMetaData.safeParse(facts.artifact.payloads[0]?.metaData).data?.vancore.revert_of ?? null,
    deltaOf: ArtifactMetaData.safeParse(facts.artifact.payloads[0]?.metaData).data?.vancore.delta_of ?? null,
  };
}

export function formatVerifyReport(r: VerifyReport): string {
  const provides = Object.entries(r.provides)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const rows: [string, string][] = [
    ['artifact', `${r.name} (${r.type}), ${r.size} bytes`],
    ['signature', `verified with ${keyLabel(r.key)} key ${short(r.key.fingerprint)}`],
    ['provides', provides || '(none)'],
    ['devices', r.deviceTypes.join(', ')],
    ['scripts', r.scripts.join(', ') || '(none)'],
    ...(r.revertOf !== null
      ? ([['revert', `of ${r.revertOf} (an explicit, signed revert)`]] as [string, string][])
      : []),
    ...(r.deltaOf !== null
      ? ([['delta', `layer delta from ${r.deltaOf}: installs only on vans running ${r.deltaOf}`]] as [string, string][])
      : []),
    ['manifest', r.manifest ? `${basename(r.manifest)}: sha256, size, name, provides, key match` : '(none found)'],
  ];
  return `ok: ${r.file}\n${rows.map(([k, v]) => `  ${k.padEnd(10)}${v}`).join('\n')}\n`;
}
