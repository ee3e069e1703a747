// Asking the Mender client to check for its deployment now, when a download was deferred and the gate
// would now open (sensord). Under systemd `mender check-update` (3.x) / `mender-update check-update`
// (4.x) does it; without systemd those fail (RECIPE §8.7), and SIGUSR1 to the daemon works in both.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { GateDecision } from '../core/schemas/gate.js';
import type { CommandRunner } from './health.js';
import type { Verdict } from './policy/types.js';

const DAEMON_NAMES = new Set(['mender', 'mender-update']);

/** The Mender daemon's pid from /proc: argv[0] named mender / mender-update with an argument `daemon`. */
export function findMenderDaemonPid(procDir: string): number | null {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return null;
  }
  const pids = entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(join(procDir, String(pid), 'cmdline'), 'latin1')
        .split('\0')
        .filter(Boolean);
    } catch {
      continue;
    }
    if (argv[0] && DAEMON_NAMES.has(basename(argv[0])) && argv.slice(1).includes('daemon')) return pid;
  }
  return null;
}

/** How long a deferral counts as "recent" for a wake-up. */
export const WAKE_RECENT_MS = 24 * 3600_000;
/** Never wake more often than this. */
export const WAKE_MIN_GAP_MS = 60_000;

export interface WakeFacts {
  now: Date;
  /** The journal's latest Download_Enter decision. */
  lastDownload: GateDecision | undefined;
  /** decideDownload with the current readings. */
  verdictNow: Verdict;
  /** `at` of the deferral already woken for, and when. */
  wokeFor: string | null;
  wokeAt: Date | null;
}

/** Pure: wake the client? Only for a recent "not now" (exit 1) that the current readings would lift. */
export function shouldWake(f: WakeFacts): boolean {
  const d = f.lastDownload;
  if (!d || d.verdict !== 'defer') return false;
  if (f.now.getTime() - Date.parse(d.at) > WAKE_RECENT_MS) return false;
  if (f.wokeFor === d.at) return false;
  if (f.wokeAt && f.now.getTime() - f.wokeAt.getTime() < WAKE_MIN_GAP_MS) return false;
  return f.verdictNow.verdict === 'proceed';
}

export type WakeMode = 'signal' | 'command' | 'off';

export async function wakeClient(
  mode: WakeMode,
  deps: { procDir: string; runner: CommandRunner; kill?: (pid: number, signal: NodeJS.Signals) => void },
): Promise<{ ok: boolean; how: string }> {
  if (mode === 'off') return { ok: false, how: 'check_update is off' };
  if (mode === 'signal') {
    const pid = findMenderDaemonPid(deps.procDir);
    if (pid === null) return { ok: false, how: 'no mender daemon running' };
    try {
      (deps.kill ?? ((p, s) => process.kill(p, s)))(pid, 'SIGUSR1');
      return { ok: true, how: `SIGUSR1 to mender daemon ${pid}` };
    } catch (e) {
      return { ok: false, how: `SIGUSR1 to ${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
    }
  }
  for (const cmd of ['mender', 'mender-update']) {
    const r = await deps.runner.run([cmd, 'check-update'], { timeoutMs: 30_000 });
    if (r.error === 'ENOENT') continue;
    if (r.code === 0) return { ok: true, how: `${cmd} check-update` };
    return { ok: false, how: `${cmd} check-update: exit ${r.code ?? r.signal ?? r.error ?? '?'}` };
  }
  return { ok: false, how: 'neither mender nor mender-update is installed' };
}
