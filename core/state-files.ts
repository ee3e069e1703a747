// State files on the van (readings.json, the gate journal, caches) read and written defensively
// (issue #16 item 8, docs/security.md): a state file is a regular file or it is refused. Opens never
// follow a symlink (O_NOFOLLOW), never block on a FIFO (O_NONBLOCK, then fstat), reads are bounded,
// and writes go to a fresh temp file (O_EXCL) that is fsynced and renamed over the target.
// Synchronous on purpose, like the callers: the files are small and local. core/state-dir.ts names
// every state file and adds the JSON reader on top; callers use that module.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** Default cap on a state file read: the largest of them (the journal) stays far below it. */
export const STATE_FILE_MAX_BYTES = 1024 * 1024;

export type StateFileRead =
  { status: 'ok'; text: string } | { status: 'missing' } | { status: 'invalid'; problem: string };

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;

// Pseudo filesystems whose "files" are not state: procfs, sysfs, devtmpfs/tmpfs-on-/dev is fine.
const PSEUDO_FS: Record<number, string> = { 0x9fa0: 'procfs', 0x62656572: 'sysfs', 0x64626720: 'debugfs' };

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  // O_NOFOLLOW on a symlink fails with ELOOP: say what it means.
  return code === 'ELOOP' ? 'is a symbolic link (not followed)' : `cannot be opened: ${code ?? String(e)}`;
}

/** Refuse a state directory on procfs / sysfs: its "files" change under the reader and never end. */
export function checkStateDir(dir: string): string | undefined {
  // A missing directory is judged by its nearest existing ancestor (it would be created there).
  for (let at = dir; ; at = dirname(at)) {
    try {
      const kind = PSEUDO_FS[Number(statfsSync(at).type)];
      return kind ? `${dir} is on ${kind}, not a place for state files` : undefined;
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

/**
 * Create the state directory when missing, after refusing procfs / sysfs (Node's recursive mkdir spins
 * forever on some /proc paths: `mkdir -p /proc/self` keeps answering EEXIST). Throws one clear line.
 */
export function ensureStateDir(dir: string): void {
  const problem = checkStateDir(dir);
  if (problem) throw new Error(problem);
  try {
    if (statSync(dir).isDirectory()) return;
  } catch {
    // missing: created below
  }
  mkdirSync(dir, { recursive: true });
}

/**
 * Read a state file as UTF-8: absent → missing; a symlink, FIFO, device, directory, or a file larger
 * than `maxBytes` → invalid with the reason. Never blocks, never throws.
 */
export function readStateFile(
  path: string,
  maxBytes = STATE_FILE_MAX_BYTES,
  opts: { followLinks?: boolean } = {},
): StateFileRead {
  const dirProblem = checkStateDir(dirname(path));
  if (dirProblem) return { status: 'invalid', problem: dirProblem };
  let fd: number;
  try {
    // Config files may be links an installer made (followLinks); state files never are.
    fd = openSync(path, O_RDONLY | O_NONBLOCK | (opts.followLinks === true ? 0 : O_NOFOLLOW));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', problem: `${path} ${why(e)}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { status: 'invalid', problem: `${path} is not a regular file` };
    if (st.size > maxBytes) return { status: 'invalid', problem: `${path} is too large (${st.size} bytes)` };
    // Read at most maxBytes + 1 whatever the size said (a file may grow while read).
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    let n = 0;
    for (;;) {
      if (n === buf.length) return { status: 'invalid', problem: `${path} is too large (over ${maxBytes} bytes)` };
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return { status: 'ok', text: buf.subarray(0, n).toString('utf8') };
  } catch (e) {
    return { status: 'invalid', problem: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace `path` atomically and durably: a fresh temp file beside it (O_EXCL | O_NOFOLLOW: never
 * through a planted link), write, fchmod to `mode` exactly (no umask), fsync, rename over the target,
 * fsync of the directory. A power cut or kill -9 at any point leaves the old or the new content,
 * never a torn file. The temp name is unique per call (pid + random), so concurrent writers — other
 * processes, or threads of one — never share a temp file; the last rename wins. The directory is
 * created when missing. Throws on failure (the temp file is removed).
 */
export function writeStateFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  ensureStateDir(dir);
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncStateDir(dir);
}

/** Remove a state file (absent is fine) and fsync its directory, so the removal survives a power cut. */
export function removeStateFile(path: string): void {
  rmSync(path, { force: true });
  syncStateDir(dirname(path));
}

/** Append to a state file that is a regular file (created when missing); never through a symlink. */
export function appendStateFile(path: string, text: string, mode = 0o644): void {
  const dirProblem = checkStateDir(dirname(path));
  if (dirProblem) throw new Error(dirProblem);
  let fd: number;
  try {
    fd = openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (e) {
    throw new Error(`${path} ${why(e)}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    writeAll(fd, Buffer.from(text, 'utf8'));
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** fsync a directory so a rename or removal in it survives a power cut. */
export function syncStateDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY);
  } catch {
    return; // gone or unreadable: nothing of ours to make durable there
  }
  try {
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory: the rename is still atomic
  } finally {
    closeSync(fd);
  }
}
