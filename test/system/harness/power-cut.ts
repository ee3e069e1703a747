// Power cuts for the kill -9 fault tests: an update-module wrapper that parks the client in a chosen
// state (deterministically, no timing), and a SIGKILL of the daemon with every process below it.
//
// The client runs each state script and module call in a process group of its own (RECIPE §5), so
// killing mender's process group would leave the parked module running; a power cut kills the whole
// tree. The tree is collected from /proc before anything is killed: once mender dies its children are
// re-parented and could no longer be found.
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bed } from './bed.js';
import type { Daemon } from '../../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../../mender-sim/real-client/sandbox.js';

/**
 * A v3 update module that delegates every call to `real` and adds, per call, through files in the
 * sandbox's ctl/ dir:
 *  - `hold.<State>.before` / `hold.<State>.after`: park (sleep) before calling `real`, or after it
 *    returned 0, once (the file is removed when the hold starts) and write the parked pid to
 *    `held.<State>.<when>`;
 *  - `module.reboot`: answer `Yes` to NeedsArtifactReboot, as a rootfs image does (ArtifactReboot and
 *    ArtifactVerifyReboot then reach `real`, which exits 0: a reboot that "happened", RECIPE §6.2).
 * Every call leaves a MODULE marker (`<State> <rc>`; a hold leaves `hold:<State>:<when>`).
 */
export function holdingModuleScript(real: string): string {
  return `#!/bin/sh
# Written by test/system/harness/power-cut.ts: wraps ${real}
STATE="$1"
CTL=\${VC_SB_CTL:?VC_SB_CTL is not set}
LOG=\${VC_SB_MARKERS:?VC_SB_MARKERS is not set}
REAL='${real.replace(/'/g, `'\\''`)}'
hold() {
  f="$CTL/hold.$STATE.$1"
  [ -f "$f" ] || return 0
  rm -f "$f"
  echo "$(date +%s.%N) MODULE hold:$STATE:$1 0" >> "$LOG"
  echo $$ > "$CTL/.held.tmp" && mv "$CTL/.held.tmp" "$CTL/held.$STATE.$1"
  exec sleep 120
}
hold before
if [ "$STATE" = NeedsArtifactReboot ] && [ -f "$CTL/module.reboot" ]; then
  echo Yes
  rc=0
else
  "$REAL" "$@"
  rc=$?
fi
echo "$(date +%s.%N) MODULE $STATE $rc" >> "$LOG"
[ "$rc" -eq 0 ] && hold after
exit "$rc"
`;
}

/** Installs `real` as payload type `type`, wrapped by holdingModuleScript. */
export async function installHoldingModule(sb: Sandbox, type: string, real: string): Promise<void> {
  const path = join(sb.root, `hold-module-${type}`);
  await writeFile(path, holdingModuleScript(real));
  await chmod(path, 0o755);
  await sb.installModule(type, path);
}

export type HoldWhen = 'before' | 'after';

/** The next call of the module in `state` parks (before or after the real module ran); returns the hold's key. */
export async function holdModule(sb: Sandbox, state: string, when: HoldWhen): Promise<string> {
  const key = `${state}.${when}`;
  await writeFile(join(sb.ctlDir, `hold.${key}`), '1\n');
  return key;
}

/**
 * A state script (for the artifact, or a rootfs Idle/Sync/Download one) that leaves a SCRIPT marker,
 * exits 0, and parks once instead when `ctl/hold.<its name>` exists (see holdScript).
 */
export const HOLDING_SCRIPT = `#!/bin/sh
# Written by test/system/harness/power-cut.ts: a state script that can park the client in its state.
name=$(basename "$0")
CTL=\${VC_SB_CTL:?VC_SB_CTL is not set}
LOG=\${VC_SB_MARKERS:?VC_SB_MARKERS is not set}
if [ -f "$CTL/hold.$name" ]; then
  rm -f "$CTL/hold.$name"
  echo "$(date +%s.%N) SCRIPT hold:$name 0" >> "$LOG"
  echo $$ > "$CTL/.held.tmp" && mv "$CTL/.held.tmp" "$CTL/held.$name"
  exec sleep 120
fi
echo "$(date +%s.%N) SCRIPT $name 0" >> "$LOG"
exit 0
`;

/** The next run of the holding script `name` parks; returns the hold's key. */
export async function holdScript(sb: Sandbox, name: string): Promise<string> {
  await writeFile(join(sb.ctlDir, `hold.${name}`), '1\n');
  return name;
}

/** Waits until the hold `key` (from holdModule or holdScript) is parked and returns the parked pid. */
export function waitForHold(bed: Bed, sb: Sandbox, key: string, daemon: Daemon): Promise<number> {
  const file = join(sb.ctlDir, `held.${key}`);
  return bed.waitFor(
    async () => {
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      return pid > 0 ? pid : undefined;
    },
    { describe: `the client parked at ${key}`, daemon, timeoutMs: 30_000 },
  );
}

/** Pids of every live process below `pid` (from /proc), children before grandchildren. */
export async function descendants(pid: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid …": comm may contain spaces and parentheses, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parentOf.set(Number(entry), ppid);
  }
  const out: number[] = [];
  let level = [pid];
  while (level.length > 0) {
    const next = [...parentOf].filter(([, ppid]) => level.includes(ppid)).map(([child]) => child);
    out.push(...next);
    level = next;
  }
  return out;
}

/**
 * A power cut: SIGKILL to the daemon and to every process below it (state scripts, the module and
 * whatever they started), all at once. Resolves when the daemon is gone; returns the killed pids.
 */
export async function powerCut(daemon: Daemon): Promise<number[]> {
  const pids = [daemon.pid, ...(await descendants(daemon.pid))];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  await daemon.exited;
  return pids;
}
