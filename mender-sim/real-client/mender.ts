// Runs the real mender-client 3.4 inside a sandbox (RECIPE §3): a private mount namespace where the
// sandbox's etc-mender and share-mender are bind-mounted over /etc/mender and /usr/share/mender (the
// client hard-codes those paths), with --config/--fallback-config/--data pointing into the sandbox.
// `unshare` and `sh` exec, so the tracked PID is mender's own PID: that is what gets signalled.
import { join } from 'node:path';
import type { Sandbox } from './sandbox.js';
import type { Exit, Tracked } from './processes.js';

const NAMESPACE_SCRIPT = [
  'set -e',
  'mount --bind "$0/etc-mender" /etc/mender',
  'mount --bind "$0/share-mender" /usr/share/mender',
  'cd "$0"',
  'exec "$@"',
].join('; ');

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** argv (after the program) that runs `mender <args>` in the sandbox's namespace. */
export function menderArgv(sb: Sandbox, args: readonly string[], logLevel: LogLevel = 'info'): string[] {
  return [
    '--mount',
    '--propagation',
    'private',
    '/bin/sh',
    '-c',
    NAMESPACE_SCRIPT,
    sb.root,
    'mender',
    '--no-syslog',
    '--log-level',
    logLevel,
    '--config',
    sb.configFile,
    // A file that never exists: the host's /var/lib/mender/mender.conf must not leak in.
    '--fallback-config',
    join(sb.root, 'no-fallback.conf'),
    '--data',
    sb.dataDir,
    ...args,
  ];
}

export interface MenderRun {
  rc: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  logLevel?: LogLevel;
}

/** Runs a standalone command (`install <file>`, `commit`, `rollback`, `show-artifact`, …) to completion. */
export async function runMender(sb: Sandbox, args: readonly string[], opts: RunOptions = {}): Promise<MenderRun> {
  const started = performance.now();
  const proc = sb.processes.spawn('unshare', menderArgv(sb, args, opts.logLevel), {
    env: sb.env(opts.env),
    cwd: sb.root,
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timer = setTimeout(() => void proc.stop(), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  const { stdout, stderr } = proc.output();
  if (exit.code === null) {
    throw new Error(`mender ${args.join(' ')} killed by ${exit.signal} (timeout ${timeoutMs} ms)\n${stderr}`);
  }
  return { rc: exit.code, stdout, stderr, elapsedMs: Math.round(performance.now() - started) };
}

export interface Daemon {
  readonly pid: number;
  /** SIGUSR1: the daemon checks for an update now (`mender check-update` needs systemd, RECIPE §6.2). */
  triggerUpdateCheck(): void;
  /** SIGUSR2: the daemon sends its inventory now. */
  triggerInventory(): void;
  /** Throws if the daemon has exited (for use inside waitFor predicates, so a dead daemon fails fast). */
  assertRunning(): void;
  /** SIGTERM (SIGKILL after a grace period). */
  stop(): Promise<Exit>;
  /** The daemon's log (logrus text on stderr) so far. */
  logs(): string;
  readonly exited: Promise<Exit>;
}

export interface DaemonOptions {
  env?: NodeJS.ProcessEnv;
  logLevel?: LogLevel;
}

/** Starts `mender daemon` in the sandbox. It runs until stop() or the test's cleanup. */
export function startDaemon(sb: Sandbox, opts: DaemonOptions = {}): Daemon {
  const proc: Tracked = sb.processes.spawn('unshare', menderArgv(sb, ['daemon'], opts.logLevel), {
    env: sb.env(opts.env),
    cwd: sb.root,
  });
  let exit: Exit | undefined;
  void proc.exited.then((e) => (exit = e));
  const signal = (sig: NodeJS.Signals): void => {
    if (exit !== undefined) throw new Error(`cannot send ${sig}: the daemon already exited`);
    process.kill(proc.pid, sig);
  };
  return {
    pid: proc.pid,
    triggerUpdateCheck: () => signal('SIGUSR1'),
    triggerInventory: () => signal('SIGUSR2'),
    assertRunning: () => {
      if (exit !== undefined) {
        throw new Error(
          `mender daemon exited (code ${exit.code}, signal ${exit.signal}):\n${proc.output().stderr.slice(-3000)}`,
        );
      }
    },
    stop: () => proc.stop(),
    logs: () => proc.output().stderr,
    exited: proc.exited,
  };
}
