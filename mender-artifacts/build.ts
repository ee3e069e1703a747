// `vancore-ota artifact build`: sense (build-facts) → decide (build-plan) → act (here).
// Acting stages the payload as symlinks in a private work folder inside --out, runs mender-artifact
// once (it signs while writing: no second pass over a big file), hashes the result and only then
// renames the artifact and its manifest into place. Whatever fails, the work folder goes: no partial
// file is left in --out. The converted signing key lives in a 0700 temp folder for exactly the
// mender-artifact call.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { VanError } from '../core/errors.js';
import type { BuildOptions } from './build-options.js';
import { gatherBuildFacts, type SenseDeps } from './build-facts.js';
import { type BuildPlan, menderArtifactWriteArgs, planBuild } from './build-plan.js';
import { BuildManifest } from './manifest.js';
import { poll, processIoBytes, type Progress, silentProgress } from './progress.js';
import { firstLine } from './runner.js';

export interface BuildDeps extends SenseDeps {
  progress: Progress;
  /** Progress of the delta artifact (`--base`); default: silent. */
  deltaProgress?: Progress;
  signal?: AbortSignal;
}

export interface BuildResult {
  artifactPath: string;
  manifestPath: string;
  manifest: BuildManifest;
  /** With `--base`: the layer-delta artifact written beside the full one. */
  delta?: BuildResult;
}

/**
 * sha256 and size of a file, read through one reused 1 MiB buffer: a 200 MB artifact costs neither
 * 200 MB of memory nor 200 short-lived buffers for the garbage collector.
 */
export async function hashFile(
  path: string,
  onBytes?: (done: number) => void,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fh = await open(path, 'r');
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
      onBytes?.(size);
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Copy a byte range (a layer or config inside an image tarball) to `dest`, hashing it: a tarball whose
 * layer does not match the diff id its config names stops the build, not every van that installs it.
 */
async function copyRange(src: string, offset: number, size: number, dest: string, digest: string): Promise<void> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const from = await open(src, 'r');
  const to = await open(dest, 'wx', 0o644);
  try {
    let done = 0;
    while (done < size) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, size - done), offset + done);
      if (bytesRead === 0) throw new VanError('INPUT_INVALID', `${src} ends inside ${digest}`);
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await to.write(chunk);
      done += bytesRead;
    }
  } finally {
    await from.close();
    await to.close();
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== digest) {
    throw new VanError(
      'INPUT_INVALID',
      `${src}: the part meant to be ${digest.slice(0, 19)}… has ${got.slice(0, 19)}… (a compressed or damaged layer: re-export it with docker save)`,
    );
  }
}

async function stage(plan: BuildPlan, stageDir: string): Promise<void> {
  await mkdir(stageDir);
  for (const f of plan.staged) {
    const dest = join(stageDir, f.name);
    switch (f.kind) {
      case 'link':
        await symlink(f.target, dest);
        break;
      case 'text':
        await writeFile(dest, f.text, { mode: 0o644 });
        break;
      case 'range':
        await copyRange(f.source, f.offset, f.size, dest, f.digest);
        break;
      case 'secret': {
        // Trimmed so a trailing newline in the CI secret file does not become part of the key.
        const key = (await readFile(f.source, 'utf8')).trim();
        await writeFile(dest, `${key}\n`, { mode: 0o600 });
        break;
      }
    }
  }
}

/**
 * mender-artifact's own progress is invisible while it writes; its I/O is not. It reads the payload
 * twice (checksums, then compression into a temp file) and writes/reads/writes the compressed data:
 * about five times the payload for data that does not compress. The estimate stops short of 100 %.
 */
const IO_PER_PAYLOAD_BYTE = 5;
const WRITE_SHARE = 0.85;

export async function executeBuild(
  plan: BuildPlan,
  outDir: string,
  signingPem: string | null,
  deps: BuildDeps,
): Promise<BuildResult> {
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(outDir, '.vancore-build-'));
  let keyDir: string | null = null;
  const { progress } = deps;
  try {
    const stageDir = join(work, 'payload');
    await stage(plan, stageDir);
    // mender-artifact keeps its compressed copy in TMPDIR: put it in the work folder so it is
    // cleaned up with it and lands on the same disk as the output.
    const tmp = join(work, 'tmp');
    await mkdir(tmp);
    const metaDataFile = join(work, 'meta-data.json');
    await writeFile(metaDataFile, JSON.stringify(plan.metaData));
    let keyFile: string | null = null;
    if (signingPem !== null) {
      keyDir = await mkdtemp(join(tmpdir(), 'vancore-key-'));
      keyFile = join(keyDir, 'signing-key.pem');
      await writeFile(keyFile, signingPem, { mode: 0o600 });
    }
    const output = join(work, plan.artifactFile);
    const args = menderArtifactWriteArgs(plan, { stageDir, metaDataFile, keyFile, output });

    progress.update(0, 'writing');
    // Plus what the tool reads besides the payload (scripts, its own files): small payloads stay honest.
    const expected = plan.payloadBytes * IO_PER_PAYLOAD_BYTE + 1024 * 1024;
    let pid: number | undefined;
    const stopPolling = poll(async () => {
      const bytes = pid === undefined ? undefined : await processIoBytes(pid);
      if (bytes !== undefined) progress.update(WRITE_SHARE * Math.min(0.99, bytes / expected), 'writing');
    }, 250);
    let r;
    try {
      r = await deps.runner.run('mender-artifact', args, {
        env: { TMPDIR: tmp },
        ...(deps.signal ? { signal: deps.signal } : {}),
        onStart: (p) => (pid = p),
      });
    } finally {
      stopPolling();
      if (keyDir !== null) {
        await rm(keyDir, { recursive: true, force: true });
        keyDir = null;
      }
    }
    const written = await stat(output).catch(() => null);
    if (r.exitCode !== 0 || !written?.isFile()) {
      throw new VanError('TOOL_FAILED', `mender-artifact write failed: ${firstLine(r.stderr, r.stdout)}`);
    }

    const { sha256, size } = await hashFile(output, (done) =>
      progress.update(WRITE_SHARE + (1 - WRITE_SHARE) * (done / Math.max(1, written.size)), 'hashing'),
    );
    const manifest = BuildManifest.parse({ ...plan.manifest, sha256, size });
    const manifestTmp = join(work, plan.manifestFile);
    await writeFile(manifestTmp, `${JSON.stringify(manifest, null, 2)}\n`);

    const artifactPath = join(outDir, plan.artifactFile);
    const manifestPath = join(outDir, plan.manifestFile);
    await rename(output, artifactPath);
    try {
      await rename(manifestTmp, manifestPath);
    } catch (e) {
      await rm(artifactPath, { force: true });
      throw e;
    }
    progress.done(true);
    return { artifactPath, manifestPath, manifest };
  } catch (e) {
    progress.done(false);
    throw e;
  } finally {
    if (keyDir !== null) await rm(keyDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Build the artifact; with `--base`, the layer-delta artifact too (full first: vans on other versions
 * and the service bay need it). If the delta fails, the full artifact just written is removed again:
 * a release is both files or neither.
 */
export async function buildArtifact(options: BuildOptions, deps: BuildDeps): Promise<BuildResult> {
  // Reading a base .mender (streamed once: seconds for a big one) comes before any byte is written: say
  // so. A manifest is read at once, and a base that is not there gets its one error line alone.
  const base = options.base;
  if (base?.endsWith('.mender') && (await stat(base).catch(() => null))?.isFile()) {
    deps.progress.update(0, `reading base ${basename(base)}`);
  }
  const { facts, signingPem } = await gatherBuildFacts(options, deps);
  const full = await executeBuild(planBuild(facts), facts.options.out, signingPem, deps);
  if (facts.base === null) return full;
  try {
    const delta = await executeBuild(planBuild(facts, 'delta'), facts.options.out, signingPem, {
      ...deps,
      progress: deps.deltaProgress ?? silentProgress,
    });
    return { ...full, delta };
  } catch (e) {
    await rm(full.artifactPath, { force: true });
    await rm(full.manifestPath, { force: true });
    throw e;
  }
}
