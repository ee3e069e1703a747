// Running external programs (docker, docker compose, bundle scripts, systemctl) behind one narrow
// interface, so that planners and executors can be tested with a scripted runner and the real one
// is the only place that touches child_process.
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The timeout fired and the process group was killed. */
  timedOut: boolean;
  /** The program could not be started at all (ENOENT, EACCES): its error code. */
  spawnError?: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface CommandRunner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
}

/** Output kept per stream: enough for a diagnosis, bounded so a chatty tool cannot exhaust memory. */
const MAX_OUTPUT = 1024 * 1024;

/**
 * The real runner. Each child gets its own process group (`detached`) so a timeout kills the whole
 * tree (a script and what it started), not just the shell.
 */
export function nodeRunner(baseEnv: NodeJS.ProcessEnv): CommandRunner {
  return {
    run: (cmd, args, opts = {}) =>
      new Promise((resolve) => {
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        const child = spawn(cmd, args, {
          cwd: opts.cwd,
          env: opts.env ?? baseEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          if (stdout.length < MAX_OUTPUT) stdout += s;
        });
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          if (stderr.length < MAX_OUTPUT) stderr += s;
        });
        const timer =
          opts.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                try {
                  if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
                } catch {
                  // already gone
                }
              }, opts.timeoutMs);
        child.once('error', (err: NodeJS.ErrnoException) => {
          if (timer) clearTimeout(timer);
          resolve({ code: null, signal: null, stdout, stderr, timedOut, spawnError: err.code ?? err.message });
        });
        child.once('close', (code, signal) => {
          if (timer) clearTimeout(timer);
          resolve({ code, signal, stdout, stderr, timedOut });
        });
      }),
  };
}

/** One line describing how a command ended, with the tail of its stderr. */
export function describeResult(what: string, r: CommandResult): string {
  if (r.spawnError) return `${what}: cannot run (${r.spawnError})`;
  if (r.timedOut) return `${what}: timed out`;
  const how = r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`;
  const tail = lastLine(r.stderr) || lastLine(r.stdout);
  return `${what}: ${how}${tail ? ` (${tail})` : ''}`;
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/** A running command whose stdout is read as a stream (`docker save`: hundreds of MB, never buffered). */
export interface StreamedCommand {
  stdout: NodeJS.ReadableStream;
  /** Settles when the process ends; stdout is not part of the result. */
  done: Promise<CommandResult>;
  /** Stop it (the reader gave up): kills the process group. */
  kill(): void;
}

export function streamCommand(
  cmd: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; timeoutMs?: number },
): StreamedCommand {
  let stderr = '';
  let timedOut = false;
  const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < MAX_OUTPUT) stderr += s;
  });
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          kill();
        }, opts.timeoutMs);
  const done = new Promise<CommandResult>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      resolve({ code: null, signal: null, stdout: '', stderr, timedOut, spawnError: err.code ?? err.message });
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: '', stderr, timedOut });
    });
  });
  return { stdout: child.stdout, done, kill };
}
