// How long ArtifactInstall_Enter has been answering "retry later" for the artifact in flight. The
// client re-runs the script every StateScriptRetryIntervalSeconds and gives no attempt count, so the
// first attempt's time is kept in <state_dir>/install-wait.json. A gap longer than WAIT_GAP_RESET_S
// between attempts means an earlier wait ended (the client gave up, or the device restarted), and a
// new one starts.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { IsoDateTime } from '../core/schemas/common.js';
import { readStateJson, removeStateFile, STATE_FILES, writeStateJson } from '../core/state-dir.js';

export const INSTALL_WAIT_FILE = STATE_FILES.installWait.path;
export const WAIT_GAP_RESET_S = 600;

const InstallWait = z.object({
  artifact_name: z.nullable(z.string()),
  first_attempt_at: IsoDateTime,
  last_attempt_at: IsoDateTime,
});
export type InstallWait = z.infer<typeof InstallWait>;

export function readInstallWait(stateDir: string): InstallWait | null {
  const read = readStateJson(join(stateDir, INSTALL_WAIT_FILE), {
    schema: InstallWait,
    maxBytes: STATE_FILES.installWait.maxBytes,
  });
  return read.status === 'ok' ? read.value : null;
}

/** Pure: the wait record after an attempt at `now`. */
export function nextInstallWait(prev: InstallWait | null, artifact_name: string | null, now: Date): InstallWait {
  const at = now.toISOString();
  const continues =
    prev !== null &&
    prev.artifact_name === artifact_name &&
    now.getTime() - Date.parse(prev.last_attempt_at) <= WAIT_GAP_RESET_S * 1000 &&
    Date.parse(prev.first_attempt_at) <= now.getTime();
  return { artifact_name, first_attempt_at: continues ? prev.first_attempt_at : at, last_attempt_at: at };
}

export function writeInstallWait(stateDir: string, w: InstallWait): void {
  writeStateJson(join(stateDir, INSTALL_WAIT_FILE), w);
}

export function clearInstallWait(stateDir: string): void {
  removeStateFile(join(stateDir, INSTALL_WAIT_FILE));
}
