// Mender update module protocol v3 (RECIPE §4–§5): the client runs `<module> <State> <tree>` with
// cwd = tree; payload files are in <tree>/files (mode 0600, RECIPE §8.12, because our Download does
// not consume stream-next), the header in <tree>/header. Only NeedsArtifactReboot and SupportsRollback
// answer on stdout; everything else logs to stderr, which the client puts in the deployment log.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VanError, isVanError, oneLine } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export const ModuleStates = [
  'Download',
  'ArtifactInstall',
  'NeedsArtifactReboot',
  'SupportsRollback',
  'ArtifactReboot',
  'ArtifactVerifyReboot',
  'ArtifactCommit',
  'ArtifactRollback',
  'ArtifactRollbackReboot',
  'ArtifactVerifyRollbackReboot',
  'ArtifactFailure',
  'Cleanup',
] as const;
export type ModuleState = (typeof ModuleStates)[number];

export interface ModuleTree {
  dir: string;
  filesDir: string;
  /** The module's own scratch space inside the tree (removed by the client after Cleanup). */
  tmpDir: string;
  artifactName: string;
  /** header/meta-data as JSON, or undefined when absent or not JSON. */
  metaData: unknown;
}

export async function readTree(dir: string): Promise<ModuleTree> {
  let artifactName: string;
  try {
    artifactName = (await readFile(join(dir, 'header/artifact_name'), 'utf8')).trim();
  } catch (e) {
    throw new VanError(
      'INPUT_INVALID',
      `not an update module tree: ${join(dir, 'header/artifact_name')} is unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  let metaData: unknown;
  try {
    metaData = JSON.parse(await readFile(join(dir, 'header/meta-data'), 'utf8')) as unknown;
  } catch {
    metaData = undefined;
  }
  return { dir, filesDir: join(dir, 'files'), tmpDir: join(dir, 'tmp'), artifactName, metaData };
}

/** What a module does in each state that changes something; the protocol answers are fixed here. */
export interface ModuleHandlers {
  install(tree: ModuleTree): Promise<void>;
  commit(tree: ModuleTree): Promise<void>;
  rollback(tree: ModuleTree): Promise<void>;
  failure(tree: ModuleTree): Promise<void>;
  cleanup(tree: ModuleTree): Promise<void>;
}

export interface ModuleIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Dispatch one protocol call. Returns the exit code: 0, or 1 with one line naming the failure on
 * stderr. States this module has nothing to do in exit 0 (the client ignores unknown answers only on
 * stdout, so nothing is printed). `handlers` is created lazily: answering SupportsRollback must not
 * depend on ota.yaml being readable.
 */
export async function runUpdateModule(
  name: string,
  argv: readonly string[],
  io: ModuleIo,
  handlers: () => Promise<{ handlers: ModuleHandlers; log: Logger }>,
): Promise<number> {
  const [state, treeArg] = argv;
  if (state === 'NeedsArtifactReboot') {
    io.stdout.write('No\n');
    return 0;
  }
  if (state === 'SupportsRollback') {
    io.stdout.write('Yes\n');
    return 0;
  }
  if (state === undefined || !(ModuleStates as readonly string[]).includes(state)) {
    // Newer clients may call states this protocol version does not know: doing nothing is the contract.
    return 0;
  }
  const s = state as ModuleState;
  const act =
    s === 'ArtifactInstall'
      ? 'install'
      : s === 'ArtifactCommit'
        ? 'commit'
        : s === 'ArtifactRollback'
          ? 'rollback'
          : s === 'ArtifactFailure'
            ? 'failure'
            : s === 'Cleanup'
              ? 'cleanup'
              : undefined;
  if (act === undefined) return 0;
  try {
    const tree = await readTree(treeArg ?? process.cwd());
    const { handlers: h, log } = await handlers();
    log.debug({ state: s, artifact: tree.artifactName }, `${s} ${tree.artifactName}`);
    await h[act](tree);
    return 0;
  } catch (e) {
    const what = isVanError(e) ? oneLine(e) : `internal error: ${oneLine(e)}`;
    io.stderr.write(`${name}: ${s} failed: ${what}\n`);
    return 1;
  }
}
