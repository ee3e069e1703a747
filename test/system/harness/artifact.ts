// Builds module-image artifacts with the real mender-artifact 3.9 (RECIPE §2.1).
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROBE_MODULE_TYPE, probeScript } from '../../../mender-sim/real-client/sandbox.js';

const execFileP = promisify(execFile);

/** Artifact states `-s` accepts (Idle/Sync/Download scripts live on the device instead, RECIPE §2.1). */
const ARTIFACT_STATE =
  /^(ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure)_(Enter|Leave|Error)_[0-9]{2}(_\S+)?$/;

/** Every artifact state script a probe can stand for (ArtifactRollbackReboot has no _Error). */
export const ALL_ARTIFACT_PROBES: readonly string[] = [
  'ArtifactInstall',
  'ArtifactReboot',
  'ArtifactCommit',
  'ArtifactRollback',
  'ArtifactRollbackReboot',
  'ArtifactFailure',
].flatMap((st) =>
  ['Enter', 'Leave', 'Error']
    .filter((act) => !(st === 'ArtifactRollbackReboot' && act === 'Error'))
    .map((act) => `${st}_${act}_00_probe`),
);

export interface ArtifactSpec {
  /** Folder to write into (a fresh temp folder below it holds the inputs). */
  dir: string;
  name: string;
  deviceTypes?: readonly string[];
  payloadType?: string;
  /** Payload files: file name → content. */
  files?: Record<string, string>;
  /** Artifact state scripts: a list of names (each one the marker probe), or name → source file. */
  scripts?: readonly string[] | Record<string, string>;
  metaData?: unknown;
}

const isNameList = (s: readonly string[] | Record<string, string>): s is readonly string[] => Array.isArray(s);

function scriptSources(scripts: readonly string[] | Record<string, string>): Record<string, string> {
  return isNameList(scripts) ? Object.fromEntries(scripts.map((name) => [name, probeScript])) : scripts;
}

/** Writes `<dir>/<name>.mender` and returns its path. */
export async function buildArtifact(spec: ArtifactSpec): Promise<string> {
  const work = await mkdtemp(join(spec.dir, `${spec.name}-`));
  const out = join(spec.dir, `${spec.name}.mender`);
  const args = [
    'write',
    'module-image',
    '-T',
    spec.payloadType ?? PROBE_MODULE_TYPE,
    '-n',
    spec.name,
    ...(spec.deviceTypes ?? ['vanpc']).flatMap((t) => ['-t', t]),
    '-o',
    out,
  ];
  for (const [file, content] of Object.entries(spec.files ?? { VERSION: `${spec.name}\n` })) {
    await writeFile(join(work, file), content);
    args.push('-f', join(work, file));
  }
  const scripts = scriptSources(spec.scripts ?? {});
  if (Object.keys(scripts).length > 0) await mkdir(join(work, 'scripts'));
  for (const [name, source] of Object.entries(scripts)) {
    if (!ARTIFACT_STATE.test(name)) throw new Error(`${name}: not an artifact state script name`);
    const dest = join(work, 'scripts', name);
    await copyFile(source, dest);
    await chmod(dest, 0o755);
    args.push('-s', dest);
  }
  if (spec.metaData !== undefined) {
    await writeFile(join(work, 'meta-data.json'), JSON.stringify(spec.metaData));
    args.push('-m', join(work, 'meta-data.json'));
  }
  try {
    await execFileP('mender-artifact', args, { timeout: 30_000 });
  } catch (err) {
    const detail = err instanceof Error && 'stderr' in err ? String(err.stderr) : String(err);
    throw new Error(`mender-artifact ${args.join(' ')} failed: ${detail}`);
  }
  return out;
}
