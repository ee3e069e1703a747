// Asking the Mender client to check for its deployment now, when a download was deferred and the gate
// would now open (sensord). Under systemd `mender check-update` (3.x) / `mender-update check-update`
// (5.x: `systemctl show --property=MainPID mender-updated`, then SIGUSR1, RECIPE-current §2/§3.3) does
// it; without systemd those fail (RECIPE §6.2), and SIGUSR1 to the daemon works for both.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ClientFlavour } from '../core/schemas/client.js';
import type { GateDecision } from '../core/schemas/gate.js';
import type { CommandRunner } from './health.js';
import type { Verdict } from './policy/types.js';
import { NETWORK_CODES } from './policy/network.js';

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

/** The most recent of the two download gates' decisions (a van switched clients may have both). */
export function latestDownload(
  phases: { Download_Enter?: GateDecision | undefined; Sync_Leave?: GateDecision | undefined } | undefined,
): GateDecision | undefined {
  const a = phases?.Download_Enter;
  const b = phases?.Sync_Leave;
  if (!a || !b) return a ?? b;
  return Date.parse(a.at) >= Date.parse(b.at) ? a : b;
}

/** How long a deferral counts as "recent" for a wake-up. */
export const WAKE_RECENT_MS = 24 * 3600_000;
/** Never wake more often than this. */
export const WAKE_MIN_GAP_MS = 60_000;

export interface WakeFacts {
  now: Date;
  /** The journal's latest download decision (Download_Enter on 3.x, Sync_Leave on 5.x: latestDownload). */
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
  // A link refusal (roaming, metered, hotspot) is not in the readings: waking would only make the gate
  // say it again (and on 3.4 send two status PUTs over that very link); the client's own poll re-asks.
  if (d.reasons.some((r) => NETWORK_CODES.has(r.code))) return false;
  if (f.wokeAt && f.now.getTime() - f.wokeAt.getTime() < WAKE_MIN_GAP_MS) return false;
  return f.verdictNow.verdict === 'proceed';
}

export type WakeMode = 'signal' | 'command' | 'off';

/** The `check-update` command of each client (RECIPE §6.2 for 3.4, RECIPE-current §3.3 for 5.x). */
const CHECK_UPDATE: Record<ClientFlavour, readonly string[]> = {
  'mender-3': ['mender', 'check-update'],
  'mender-update-5': ['mender-update', 'check-update'],
};

function signalDaemon(
  deps: { procDir: string; kill?: (pid: number, signal: NodeJS.Signals) => void },
  before: string,
): { ok: boolean; how: string } {
  const pid = findMenderDaemonPid(deps.procDir);
  if (pid === null) return { ok: false, how: `${before}no mender daemon running` };
  try {
    (deps.kill ?? ((p, s) => process.kill(p, s)))(pid, 'SIGUSR1');
    return { ok: true, how: `${before}SIGUSR1 to mender daemon ${pid}` };
  } catch (e) {
    return { ok: false, how: `${before}SIGUSR1 to ${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
}

/**
 * Ask whichever client runs to check for its deployment now. `signal`: SIGUSR1 to the daemon found in
 * /proc (both clients take it: RECIPE §6.2, RECIPE-current §3.3). `command`: the client's own
 * `check-update` (the recorded client's first, else mender-update then mender); both look the daemon
 * up through systemd, so where that fails (no systemd) the signal is the fallback.
 */
export async function wakeClient(
  mode: WakeMode,
  deps: {
    procDir: string;
    runner: CommandRunner;
    kill?: (pid: number, signal: NodeJS.Signals) => void;
    /** The client device install recorded (CLIENT_FILE), when known. */
    client?: ClientFlavour;
  },
): Promise<{ ok: boolean; how: string }> {
  if (mode === 'off') return { ok: false, how: 'check_update is off' };
  if (mode === 'signal') return signalDaemon(deps, '');
  const commands = deps.client
    ? [CHECK_UPDATE[deps.client]]
    : [CHECK_UPDATE['mender-update-5'], CHECK_UPDATE['mender-3']];
  for (const argv of commands) {
    const r = await deps.runner.run(argv, { timeoutMs: 30_000 });
    if (r.error === 'ENOENT') continue;
    const how = argv.join(' ');
    if (r.code === 0) return { ok: true, how };
    return signalDaemon(deps, `${how}: exit ${r.code ?? r.signal ?? r.error ?? '?'}; `);
  }
  return signalDaemon(deps, `${commands.map((c) => c[0]).join(' / ')} not installed; `);
}
