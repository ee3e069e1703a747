// Small file helpers for the state dir: atomic replace (tmp + fsync + rename, so readers never see half
// a file) and tolerant JSON reads. Both go through core/state-files.ts: no symlink is followed, a FIFO
// or device is refused, reads are bounded (issue #16 item 8). Synchronous on purpose: the files are
// small and local, and a state script that waits on the thread pool for each of them starts measurably
// slower (bench/gates.ts).
import { readStateFile, writeStateFileAtomic } from '../core/state-files.js';

/** Replace `path` atomically. The directory is created when missing. */
export function writeFileAtomic(path: string, text: string): void {
  writeStateFileAtomic(path, text);
}

export type JsonRead =
  { status: 'ok'; value: unknown } | { status: 'missing' } | { status: 'invalid'; problem: string };

/** Read and JSON-parse a file; absent → missing; unreadable, not a regular file or not JSON → invalid (never throws). */
export function readJson(path: string): JsonRead {
  const read = readStateFile(path);
  if (read.status !== 'ok') return read;
  try {
    return { status: 'ok', value: JSON.parse(read.text) as unknown };
  } catch {
    return { status: 'invalid', problem: `${path} is not JSON` };
  }
}
