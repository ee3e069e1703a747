// Mender update module protocol v3 (RECIPE §4–§5): the client runs `<module> <State> <tree>` with
// cwd = tree; payload files are in <tree>/files (mode 0600, RECIPE §8.12, because our Download does
// not consume stream-next), the header in <tree>/header. Only NeedsArtifactReboot and SupportsRollback
// answer on stdout; everything else logs to stderr, which the client puts in the deployment log.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VanError, isVanError, oneLine } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { PAYLOAD_INDEX_FILE } from '../../core/schemas/payload-index.js';
import { recordUpdate } from '../../core/versions.js';
import { loadDeviceContext } from '../lib/device.js';
import { decideDowngrade, identifyIncoming, readInstalled, recordInstall } from '../lib/downgrade.js';

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
  /** Where the van is ($VANCORE_OTA_ROOT, …: agent-hooks/lib/device.ts), for the downgrade check. */
  env: NodeJS.ProcessEnv;
}

/** The payload index as JSON, or undefined (the module itself reports a missing or broken index). */
async function readIndexQuietly(tree: ModuleTree): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(tree.filesDir, PAYLOAD_INDEX_FILE), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The downgrade check (agent-hooks/lib/downgrade.ts). At Download only the header is there (the payload
 * arrives after this state), so an artifact without `vancore` meta-data is checked at ArtifactInstall by
 * its index. A refusal throws one line and records it in last-update.json for support; nothing else is
 * touched.
 */
async function checkDowngrade(stateDir: string, tree: ModuleTree, index: unknown, log?: Logger): Promise<void> {
  const id = identifyIncoming(tree.artifactName, tree.metaData, index);
  if (id === null) {
    log?.debug(`${tree.artifactName}: no VanCore component version to compare (not built by artifact build)`);
    return;
  }
  if ('error' in id) throw new VanError('META_DATA_INVALID', id.error);
  const verdict = decideDowngrade(readInstalled(stateDir, id.incoming.component), id.incoming, id.meta);
  if (verdict.allow) {
    log?.debug(verdict.line);
    return;
  }
  await recordUpdate(
    stateDir,
    'failure',
    {
      component: id.incoming.component,
      version: id.incoming.version,
      artifact_name: tree.artifactName,
      error: verdict.line,
    },
    new Date(),
  ).catch(() => undefined);
  throw new VanError('CONFLICT', verdict.line);
}

/** After a successful ArtifactCommit: the install history the replay check reads. Never fails the commit. */
async function recordCommitted(stateDir: string, tree: ModuleTree, log: Logger): Promise<void> {
  const id = identifyIncoming(tree.artifactName, tree.metaData, await readIndexQuietly(tree));
  if (id === null || 'error' in id) return;
  try {
    recordInstall(stateDir, {
      component: id.incoming.component,
      version: id.incoming.version,
      artifact_name: tree.artifactName,
      ...(id.meta.revert_of !== undefined ? { revert_of: id.meta.revert_of } : {}),
      at: new Date().toISOString(),
    });
  } catch (e) {
    log.warn(`install history not updated: ${oneLine(e)}`);
  }
}

/**
 * Dispatch one protocol call. Returns the exit code: 0, or 1 with one line naming the failure on
 * stderr. States this module has nothing to do in exit 0 (the client ignores unknown answers only on
 * stdout, so nothing is printed). `handlers` is created lazily: answering SupportsRollback must not
 * depend on ota.yaml being readable. Download and ArtifactInstall first run the downgrade check, for
 * every payload type; a successful ArtifactCommit is added to the install history.
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
  if (act === undefined && s !== 'Download') return 0;
  try {
    const tree = await readTree(treeArg ?? process.cwd());
    if (act === undefined) {
      // Download: refuse before anything is stored or changed (the client then reports a failure).
      await checkDowngrade((await loadDeviceContext(io.env)).stateDir, tree, undefined);
      return 0;
    }
    const { handlers: h, log } = await handlers();
    log.debug({ state: s, artifact: tree.artifactName }, `${s} ${tree.artifactName}`);
    const stateDir = act === 'install' || act === 'commit' ? (await loadDeviceContext(io.env)).stateDir : '';
    if (act === 'install') await checkDowngrade(stateDir, tree, await readIndexQuietly(tree), log);
    await h[act](tree);
    if (act === 'commit') await recordCommitted(stateDir, tree, log);
    return 0;
  } catch (e) {
    const what = isVanError(e) ? oneLine(e) : `internal error: ${oneLine(e)}`;
    io.stderr.write(`${name}: ${s} failed: ${what}\n`);
    return 1;
  }
}
