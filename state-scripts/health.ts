// The validation window's samples: the configured health checks (commands and HTTP URLs from ota.yaml
// `validation.health_checks`) and cloud reachability (an HTTP(S) HEAD to the server: any HTTP answer
// means reachable). Each returns a Check; none throws.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { HealthCheck } from '../core/config/device-config.js';
import { HealthReport } from '../core/schemas/health.js';
import { httpFetch } from '../core/http-request.js';
import type { CloudTarget } from '../core/mender-conf.js';
import type { Check } from './policy/types.js';

export interface CommandResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the command could not be started (ENOENT, EACCES…). */
  error?: string;
}

/** Runs a command without a shell. Side effect behind a narrow interface (CONVENTIONS §3). */
export interface CommandRunner {
  run(argv: readonly string[], opts: { timeoutMs: number; signal?: AbortSignal }): Promise<CommandResult>;
}

const OUTPUT_CAP = 64 * 1024;

/** Is `cmd` an executable in $PATH? (Saves starting a process that cannot exist.) */
function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export const nodeCommandRunner: CommandRunner = {
  async run(argv, opts) {
    if (argv[0] && !argv[0].includes('/') && !onPath(argv[0])) {
      return { code: null, signal: null, stdout: '', stderr: '', timedOut: false, error: 'ENOENT' };
    }
    // Loaded on first use: node:child_process and its stream machinery cost a state script ~10 ms
    // of start-up and sensord ~2 MB, and many runs never start a command (no modem, no checks).
    const { spawn } = await import('node:child_process');
    return new Promise((resolve) => {
      const [cmd, ...args] = argv;
      if (!cmd) {
        resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, error: 'empty command' });
        return;
      }
      // Own process group, so a timeout kills the check and anything it started.
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let settled = false;
      const kill = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs);
      const onAbort = () => kill();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (c: Buffer) => {
        if (stdout.length < OUTPUT_CAP) stdout += c.toString('utf8');
      });
      child.stderr.on('data', (c: Buffer) => {
        if (stderr.length < OUTPUT_CAP) stderr += c.toString('utf8');
      });
      const done = (r: CommandResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      child.on('error', (e: NodeJS.ErrnoException) =>
        done({ code: null, signal: null, stdout, stderr, timedOut, error: e.code ?? e.message }),
      );
      child.on('close', (code, signal) => done({ code, signal, stdout, stderr, timedOut }));
    });
  },
};

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 120);
}

export async function runHealthCheck(check: HealthCheck, runner: CommandRunner, signal?: AbortSignal): Promise<Check> {
  const mk = (ok: boolean, detail: string): Check => ({
    code: 'health_check_failed',
    ok,
    message: `${check.name}: ${detail}`,
    clears_in_s: null,
  });
  const timeoutMs = check.timeout_seconds * 1000;
  if ('command' in check) {
    const r = await runner.run(check.command, { timeoutMs, ...(signal ? { signal } : {}) });
    if (r.error) return mk(false, `cannot run ${check.command[0] ?? ''}: ${r.error}`);
    if (r.timedOut) return mk(false, `no result within ${check.timeout_seconds} s`);
    if (r.code === 0) return mk(true, 'ok');
    const why = lastLine(r.stderr) || lastLine(r.stdout);
    return mk(false, `exit ${r.code ?? r.signal ?? '?'}${why ? ` (${why})` : ''}`);
  }
  const r = await httpFetch(check.url, { timeoutMs, maxBodyBytes: 4096, ...(signal ? { signal } : {}) });
  if (!r.ok) return mk(false, `${check.url}: ${r.error}`);
  return r.status === check.expect_status
    ? mk(true, `HTTP ${r.status}`)
    : mk(false, `${check.url}: HTTP ${r.status}, expected ${check.expect_status}`);
}

/** Where `vancore-ota device install` puts the agent hooks' health runner (core/schemas/health.ts). */
export const AGENT_HEALTH_RUNNER = '/usr/lib/vancore-ota/bin/vancore-ota-health';
export const AGENT_HEALTH_TIMEOUT_MS = 120_000;

/** Is the file an executable (the agent hooks' runner installed)? */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * One pass of the agent hooks' health runner (`vancore-ota-health --json`): the ota.yaml checks plus
 * every installed compose bundle's containers and probes. Its JSON report (core/schemas/health.ts)
 * names what failed; exit 0 = all passed.
 */
export async function runAgentHealth(
  runnerFile: string,
  configPath: string,
  runner: CommandRunner,
  signal?: AbortSignal,
): Promise<Check[]> {
  const r = await runner.run([runnerFile, '--json', '--config', configPath], {
    timeoutMs: AGENT_HEALTH_TIMEOUT_MS,
    ...(signal ? { signal } : {}),
  });
  const mk = (ok: boolean, message: string): Check => ({ code: 'health_check_failed', ok, message, clears_in_s: null });
  if (r.error) return [mk(false, `vancore-ota-health: cannot run: ${r.error}`)];
  if (r.timedOut) return [mk(false, `vancore-ota-health: no result within ${AGENT_HEALTH_TIMEOUT_MS / 1000} s`)];
  let report: HealthReport | null = null;
  try {
    const parsed = HealthReport.safeParse(JSON.parse(r.stdout));
    if (parsed.success) report = parsed.data;
  } catch {
    report = null;
  }
  if (!report) {
    const why = lastLine(r.stderr) || lastLine(r.stdout);
    return [
      mk(false, `vancore-ota-health: exit ${r.code ?? r.signal ?? '?'} without a report${why ? ` (${why})` : ''}`),
    ];
  }
  if (report.ok && r.code === 0) return [mk(true, `vancore-ota-health: ${report.checks.length} checks passed`)];
  const failed = report.checks.filter((c) => !c.ok);
  if (failed.length === 0) return [mk(false, `vancore-ota-health: exit ${r.code ?? '?'} with no failed check named`)];
  return failed.map((c) => mk(false, `${c.name}: ${c.detail}`));
}

/** Reachable = any HTTP answer to a HEAD within the timeout; up to `attempts` tries absorb a lost packet. */
export async function cloudReachable(
  target: CloudTarget,
  o: { timeoutMs: number; attempts: number; signal?: AbortSignal },
): Promise<Check> {
  let last = '';
  for (let i = 0; i < o.attempts; i++) {
    const r = await httpFetch(target.url, {
      method: 'HEAD',
      timeoutMs: o.timeoutMs,
      maxBodyBytes: 0,
      ...(target.ca ? { ca: target.ca } : {}),
      ...(target.skipVerify ? { rejectUnauthorized: false } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.ok) {
      return {
        code: 'cloud_unreachable',
        ok: true,
        message: `${target.url} answered in ${r.ms} ms`,
        clears_in_s: null,
      };
    }
    last = r.error;
    if (o.signal?.aborted) break;
  }
  return {
    code: 'cloud_unreachable',
    ok: false,
    message: `${target.url} unreachable after ${o.attempts} tries (${last})`,
    clears_in_s: null,
  };
}
