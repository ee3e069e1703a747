// Small file helpers for the state dir: atomic replace (tmp + rename, so readers never see half a
// file) and tolerant JSON reads. Synchronous on purpose: the files are small and local, and a state
// script that waits on the thread pool for each of them starts measurably slower (bench/gates.ts).
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Replace `path` atomically. The directory is created when missing. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export type JsonRead =
  { status: 'ok'; value: unknown } | { status: 'missing' } | { status: 'invalid'; problem: string };

/** Read and JSON-parse a file; absent → missing; unreadable or not JSON → invalid (never throws). */
export function readJson(path: string): JsonRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { status: 'missing' }
      : { status: 'invalid', problem: `cannot read ${path}: ${code ?? String(e)}` };
  }
  try {
    return { status: 'ok', value: JSON.parse(text) as unknown };
  } catch {
    return { status: 'invalid', problem: `${path} is not JSON` };
  }
}
