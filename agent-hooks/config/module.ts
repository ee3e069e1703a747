// vancore-config: the update module that installs config files (protocol v3). Each file is written
// atomically (temp file in the target directory, owner, mode, fsync, rename); what it replaces is
// backed up byte for byte first and put back exactly on rollback; named systemd units are restarted
// after the write (and again after a restore).
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, open, readFile, realpath, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import { stateFilePath } from '../../core/state-dir.js';
import type { Logger } from '../../core/logger.js';
import {
  CONFIG_DEST_ROOTS,
  ConfigPayloadIndex,
  isConfigDestAllowed,
  type ConfigFileEntry,
} from '../../core/schemas/payload.js';
import { PAYLOAD_INDEX_FILE } from '../../core/schemas/payload-index.js';
import { parseWith } from '../../core/validation.js';
import { syncStateDir } from '../../core/state-files.js';
import { readVersions, setInstalledVersion, recordUpdate } from '../../core/versions.js';
import { convergeJournaled } from '../lib/converge.js';
import type { DeviceContext } from '../lib/device.js';
import type { Hold } from '../lib/hold.js';
import { readJournalFile, writeJournalFile } from '../lib/journal.js';
import { checkComponent, checkMetaAgrees, checkPayloadFiles, listPayloadFiles, readIndexJson } from '../lib/payload.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';
import type { ModuleHandlers, ModuleTree } from '../module/protocol.js';
import {
  ConfigJournal,
  configStepLabel,
  isStaleConfig,
  planConfigCommit,
  planConfigInstall,
  planConfigRollback,
  type ConfigFacts,
  type ConfigFileRecord,
  type ConfigStep,
} from './plan.js';

export interface ConfigDeps {
  ctx: DeviceContext;
  runner: CommandRunner;
  clock: Clock;
  log: Logger;
  hold?: Hold;
}

const RESTART_TIMEOUT_MS = 120_000;

export interface ConfigPayload {
  artifactName: string;
  /** The tree's files/ directory the payload files are read from. */
  filesDir: string;
  component: string;
  version: string;
  files: (ConfigFileEntry & { uid?: number; gid?: number; modeBits: number })[];
  restart: string[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Numeric ids from <root>/etc/passwd or /etc/group (`name:x:id:…`). */
export function lookupId(dbText: string, name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  for (const line of dbText.split('\n')) {
    const [n, , id] = line.split(':');
    if (n === name && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  return undefined;
}

async function readDb(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Validate the payload against the index and the van. Throws one INPUT_INVALID line; writes nothing. */
export async function readConfigPayload(ctx: DeviceContext, tree: ModuleTree): Promise<ConfigPayload> {
  const raw = await readIndexJson(tree.filesDir, 'vancore-config');
  const index = parseWith(ConfigPayloadIndex, raw, `invalid ${PAYLOAD_INDEX_FILE}`);
  const component = checkComponent('vancore-config', index.component);
  checkMetaAgrees(tree.metaData, component, index.version);
  checkPayloadFiles(index.files, await listPayloadFiles(tree.filesDir));
  const dests = new Set<string>();
  const passwd = await readDb(ctx.paths.resolve('/etc/passwd'));
  const group = await readDb(ctx.paths.resolve('/etc/group'));
  const rootReal = await realpath(ctx.paths.root);
  const files: ConfigPayload['files'] = [];
  for (const f of index.files) {
    if (dests.has(f.dest)) throw new VanError('INPUT_INVALID', `destination ${f.dest} is listed twice`);
    if (!isConfigDestAllowed(f.dest)) {
      throw new VanError(
        'INPUT_INVALID',
        `destination ${f.dest} is outside the config directories (${CONFIG_DEST_ROOTS.join(', ')})`,
      );
    }
    dests.add(f.dest);
    const target = ctx.paths.resolve(f.dest);
    // A symlinked directory on the way must not lead the write outside the van's root.
    let probe = dirname(target);
    for (;;) {
      try {
        const real = await realpath(probe);
        if (real !== rootReal && !real.startsWith(rootReal === '/' ? '/' : `${rootReal}/`)) {
          throw new VanError('INPUT_INVALID', `destination ${f.dest} leads outside the root through a symlink`);
        }
        break;
      } catch (e) {
        if (e instanceof VanError) throw e;
        probe = dirname(probe);
      }
    }
    const st = await lstat(target).catch(() => null);
    if (st && !st.isFile()) {
      throw new VanError('INPUT_INVALID', `destination ${f.dest} exists and is not a regular file`);
    }
    if (f.sha256 && sha256(await readFile(join(tree.filesDir, f.name))) !== f.sha256) {
      throw new VanError('INPUT_INVALID', `payload file '${f.name}' does not match its sha256`);
    }
    const uid = f.owner === undefined ? undefined : lookupId(passwd, f.owner);
    const gid = f.group === undefined ? undefined : lookupId(group, f.group);
    if (f.owner !== undefined && uid === undefined) throw new VanError('INPUT_INVALID', `unknown user '${f.owner}'`);
    if (f.group !== undefined && gid === undefined) throw new VanError('INPUT_INVALID', `unknown group '${f.group}'`);
    files.push({
      ...f,
      modeBits: Number.parseInt(f.mode, 8),
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    });
  }
  return {
    artifactName: tree.artifactName,
    filesDir: tree.filesDir,
    component,
    version: index.version,
    files,
    restart: index.restart,
  };
}

/** Write `src` bytes to `dest` atomically with owner and mode. */
async function installFile(src: string, dest: string, mode: number, uid: number, gid: number): Promise<void> {
  const tmp = join(dirname(dest), `.${randomBytes(6).toString('hex')}.vancore-tmp`);
  try {
    await copyFile(src, tmp);
    const fh = await open(tmp, 'r+');
    try {
      await fh.chown(uid, gid);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  syncStateDir(dirname(dest));
}

export function configDir(stateDir: string): string {
  return join(stateDir, 'config');
}

export function configHandlers(deps: ConfigDeps): ModuleHandlers {
  const { ctx, clock, log } = deps;
  const base = configDir(ctx.stateDir);
  const journalPath = stateFilePath(ctx.stateDir, 'configJournal');
  const backups = join(base, 'backups');
  const read = () => readJournalFile(journalPath, ConfigJournal);
  const write = (j: ConfigJournal) => writeJournalFile(journalPath, { ...j, updated_at: clock.now().toISOString() });
  const patch = async (fn: (j: ConfigJournal) => ConfigJournal) => {
    const j = await read();
    if (!j) throw new VanError('INTERNAL', 'journal vanished');
    await write(fn(j));
  };
  const ownUid = process.getuid?.() ?? 0;
  const ownGid = process.getgid?.() ?? 0;

  /**
   * Restart the units. During install a failure aborts (the new config is not good). During rollback
   * every unit is still tried and a failure is only logged: the old files are back, which is the
   * rollback's job; a unit that will not start even on them needs a human either way.
   */
  const restart = async (units: string[], phase: 'install' | 'rollback') => {
    for (const unit of units) {
      const r = await deps.runner.run('systemctl', ['restart', unit], { timeoutMs: RESTART_TIMEOUT_MS });
      if (r.code === 0) {
        log.info(`restarted ${unit}`);
        continue;
      }
      const why = describeResult(`systemctl restart ${unit}`, r);
      if (phase === 'install') throw new VanError('TOOL_FAILED', why);
      log.warn(`rollback: ${why}`);
    }
  };

  const execute = async (step: ConfigStep, facts: ConfigFacts, payload?: ConfigPayload): Promise<void> => {
    const j = facts.journal;
    const need = <T>(v: T | undefined | null, what: string): T => {
      if (v === undefined || v === null) throw new VanError('INTERNAL', `step ${configStepLabel(step)} needs ${what}`);
      return v;
    };
    switch (step.kind) {
      case 'begin': {
        const p = need(payload, 'the payload');
        await rm(backups, { recursive: true, force: true });
        const now = clock.now().toISOString();
        await mkdir(base, { recursive: true });
        await write({
          format: 1,
          artifact_name: p.artifactName,
          component: p.component,
          version: p.version,
          versions_before: (await readVersions(ctx.stateDir)).value[p.component] ?? null,
          files: [],
          created_dirs: [],
          restart: p.restart,
          outcome: 'installing',
          started: [],
          done: [],
          updated_at: now,
        });
        await recordUpdate(
          ctx.stateDir,
          'in_progress',
          { component: p.component, version: p.version, artifact_name: p.artifactName },
          new Date(now),
        );
        return;
      }
      case 'backup': {
        const p = need(payload, 'the payload');
        // Redone from scratch after a kill: nothing has been written to a target yet.
        await rm(backups, { recursive: true, force: true });
        await mkdir(backups, { recursive: true });
        const records: ConfigFileRecord[] = [];
        const created: string[] = [];
        for (const [i, f] of p.files.entries()) {
          const target = ctx.paths.resolve(f.dest);
          const st = await lstat(target).catch(() => null);
          if (st) {
            if (!st.isFile()) throw new VanError('INPUT_INVALID', `destination ${f.dest} is not a regular file`);
            const bytes = await readFile(target);
            const name = String(i);
            await installFile(target, join(backups, name), 0o600, ownUid, ownGid);
            records.push({
              dest: f.dest,
              existed: true,
              backup: name,
              mode: st.mode & 0o7777,
              uid: st.uid,
              gid: st.gid,
              sha256: sha256(bytes),
            });
          } else {
            records.push({ dest: f.dest, existed: false });
          }
          const missing: string[] = [];
          for (let d = dirname(f.dest); d !== '/'; d = dirname(d)) {
            if (
              await lstat(ctx.paths.resolve(d)).then(
                () => false,
                () => true,
              )
            ) {
              missing.unshift(d);
            }
          }
          for (const d of missing) if (!created.includes(d)) created.push(d);
        }
        await patch((x) => ({ ...x, files: records, created_dirs: created }));
        return;
      }
      case 'write': {
        const p = need(payload, 'the payload');
        const jr = need(j, 'a journal');
        for (const [i, f] of p.files.entries()) {
          const target = ctx.paths.resolve(f.dest);
          await mkdir(dirname(target), { recursive: true });
          const before = jr.files[i];
          const uid = f.uid ?? before?.uid ?? ownUid;
          const gid = f.gid ?? before?.gid ?? ownGid;
          await installFile(join(p.filesDir, f.name), target, f.modeBits, uid, gid);
          log.info(`wrote ${f.dest} (${f.mode})`);
        }
        return;
      }
      case 'restart':
        await restart(need(j, 'a journal').restart, step.phase);
        return;
      case 'record': {
        const jr = need(j, 'a journal');
        await setInstalledVersion(ctx.stateDir, jr.component, jr.version);
        await recordUpdate(ctx.stateDir, 'success', jr, clock.now());
        return;
      }
      case 'start_rollback':
        await patch((x) => ({ ...x, outcome: 'rolling_back' }));
        return;
      case 'restore': {
        const jr = need(j, 'a journal');
        for (const rec of [...jr.files].reverse()) {
          const target = ctx.paths.resolve(rec.dest);
          if (rec.existed) {
            const src = join(backups, need(rec.backup, 'a backup name'));
            await mkdir(dirname(target), { recursive: true });
            await installFile(src, target, rec.mode ?? 0o644, rec.uid ?? ownUid, rec.gid ?? ownGid);
            if (rec.sha256 && sha256(await readFile(target)) !== rec.sha256) {
              throw new VanError('INTERNAL', `restored ${rec.dest} does not match its backup`);
            }
            log.info(`restored ${rec.dest}`);
          } else {
            await rm(target, { force: true });
            log.info(`removed ${rec.dest} (it did not exist before)`);
          }
        }
        for (const d of [...jr.created_dirs].reverse()) {
          await rmdir(ctx.paths.resolve(d)).catch(() => undefined);
        }
        return;
      }
      case 'unrecord': {
        const jr = need(j, 'a journal');
        await setInstalledVersion(ctx.stateDir, jr.component, jr.versions_before);
        return;
      }
      case 'finish': {
        const jr = need(j, 'a journal');
        await patch((x) => ({ ...x, outcome: step.outcome }));
        if (step.outcome === 'rolled_back') {
          await recordUpdate(ctx.stateDir, 'rolled_back', jr, clock.now());
        }
        return;
      }
      case 'stuck':
        throw new VanError('CONFLICT', step.why);
    }
  };

  const run = (
    artifact: string,
    planner: (f: ConfigFacts) => ConfigStep[],
    what: string,
    payload?: ConfigPayload,
  ): Promise<string[]> =>
    convergeJournaled<ConfigFacts, ConfigStep, ConfigJournal>({
      sense: async () => ({ artifact, journal: await read() }),
      plan: planner,
      label: configStepLabel,
      execute: (step, facts) => execute(step, facts, payload),
      ...(deps.hold ? { hold: deps.hold } : {}),
      readJournal: read,
      writeJournal: (j) => writeJournalFile(journalPath, j),
      now: () => clock.now(),
      log,
      what,
    });

  return {
    async install(tree) {
      const payload = await readConfigPayload(ctx, tree);
      const stale = await read();
      if (isStaleConfig(stale)) {
        log.warn(`deployment ${stale.artifact_name} was interrupted (${stale.outcome}): rolling it back first`);
        await run(stale.artifact_name, planConfigRollback, 'recover');
      }
      await run(tree.artifactName, planConfigInstall, 'install', payload);
    },
    async commit(tree) {
      await run(tree.artifactName, planConfigCommit, 'commit');
    },
    async rollback(tree) {
      const executed = await run(tree.artifactName, planConfigRollback, 'rollback');
      if (executed.length === 0) log.info(`rollback: nothing to do (${tree.artifactName} was not installed)`);
    },
    async failure(tree) {
      const j = await read().catch(() => null);
      if (!j || j.artifact_name !== tree.artifactName || j.outcome === 'rolled_back') return;
      await recordUpdate(ctx.stateDir, 'failure', j, clock.now());
    },
    async cleanup() {
      // Backups stay until the next deployment begins: a rollback after a cut commit still needs them.
    },
  };
}
