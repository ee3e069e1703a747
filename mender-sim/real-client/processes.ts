// Child processes of a system test: every one is tracked so that cleanup kills it, whatever the test did.
//
// Three layers, because a leaked mender daemon keeps polling (and writing into a removed sandbox) long
// after its test is gone:
//   1. ProcessGroup.close() — called by the test fixture's teardown, which vitest runs after a pass, a
//      failure or a timeout. After close() a late spawn (a timed-out test body still running) is refused.
//   2. `setpriv --pdeathsig SIGKILL` — the kernel kills the child when the vitest worker dies, even by
//      SIGKILL, where no JavaScript runs. It survives the execs of unshare → sh → mender.
//   3. process 'exit' — kills whatever is still tracked when the worker exits normally.
import { spawn, type ChildProcess } from 'node:child_process';

/** Live children of this worker process, for the 'exit' safety net only (tests use a ProcessGroup). */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Tracked {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** stdout and stderr as captured so far. */
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ProcessGroup {
  readonly #children = new Set<Tracked>();
  #closed = false;

  /** Starts `cmd args…` under `setpriv --pdeathsig SIGKILL`, capturing its output. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Tracked {
    if (this.#closed) throw new Error(`refusing to start ${cmd}: this test's processes were already cleaned up`);
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', cmd, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    const pid = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (err) => (stderr += `\n[harness] ${cmd}: ${err.message}\n`));
    liveChildren.add(child);
    const exited = new Promise<Exit>((resolve) => {
      child.once('close', (code, signal) => {
        liveChildren.delete(child);
        this.#children.delete(tracked);
        resolve({ code, signal });
      });
    });
    const tracked: Tracked = {
      pid,
      child,
      exited,
      output: () => ({ stdout, stderr }),
      stop: async (graceMs = 3000) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const exit = await exited;
          clearTimeout(timer);
          return exit;
        }
        return exited;
      },
    };
    this.#children.add(tracked);
    return tracked;
  }

  /** Stops every process still running and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#children].map((t) => t.stop()));
  }
}
