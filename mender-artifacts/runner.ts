// The thin edge to external programs (mender-artifact). Callers judge exit code AND output:
// mender-artifact 3.9 exits 0 on some failures (RECIPE §2.3), so a non-zero exit is returned, not thrown.
import { VanError } from '../core/errors.js';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with the child's pid once it runs (progress is read from /proc/<pid>/io). */
  onStart?: (pid: number) => void;
}

export interface CommandRunner {
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/** The real runner, on execa (imported lazily: `--help` and usage errors never pay for it). */
export const execaRunner: CommandRunner = {
  async run(file, args, opts = {}) {
    const { execa } = await import('execa');
    const child = execa(file, args, {
      reject: false,
      stdin: 'ignore',
      env: opts.env ?? {},
      extendEnv: true,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
      // The CLI owns SIGINT/SIGTERM (cli/main.ts aborts `signal`, which stops the child and lets the
      // caller clean up). execa's own exit hook would re-raise the signal and kill us mid-cleanup.
      cleanup: false,
      // Output is small (mender-artifact prints a few lines); bound it anyway.
      maxBuffer: 16 * 1024 * 1024,
    });
    if (child.pid !== undefined) opts.onStart?.(child.pid);
    const r = await child;
    if (r.isCanceled) throw new VanError('TOOL_FAILED', `${file} was stopped (interrupted)`);
    if (r.exitCode === undefined) {
      const code = (r as { code?: string }).code;
      if (code === 'ENOENT') {
        throw new VanError(
          'TOOL_MISSING',
          `${file} is not installed (apt-get install --no-install-recommends ${file})`,
        );
      }
      throw new VanError('TOOL_FAILED', `${file} could not run: ${code ?? r.shortMessage}`);
    }
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  },
};

/** The first meaningful line of a tool's output, for a one-line error. */
export function firstLine(...texts: string[]): string {
  for (const t of texts) {
    const line = t
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (line) return line.length > 300 ? `${line.slice(0, 300)}…` : line;
  }
  return 'no output';
}

/** `mender-artifact version 3.9.0+ds1-1+b5` → `3.9.0+ds1-1+b5`. */
export async function menderArtifactVersion(runner: CommandRunner): Promise<string> {
  const r = await runner.run('mender-artifact', ['--version']);
  const version = /mender-artifact version (\S+)/.exec(r.stdout + r.stderr)?.[1];
  if (r.exitCode !== 0 || !version) {
    throw new VanError('TOOL_FAILED', `mender-artifact --version: ${firstLine(r.stderr, r.stdout)}`);
  }
  return version;
}
