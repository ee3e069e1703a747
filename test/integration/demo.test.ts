// `vancore-ota demo` as a newcomer runs it: the built CLI (dist/cli.js, built by `npm test`) as a real
// process. One run to the end on a smaller fleet, and one stopped by Ctrl-C (SIGINT) mid-way; after both,
// the servers must be gone, the temp files removed and no process of the demo left behind.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cliPath, repoRoot } from '../helpers/cli.js';

interface Run {
  pid: number;
  output: () => { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (sig: NodeJS.Signals) => void;
}

function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, [cliPath, 'demo', ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    exited,
    kill: (sig) => child.kill(sig),
  };
}

async function waitFor(pred: () => boolean, timeoutMs: number, what: string, run: Run): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${JSON.stringify(run.output(), null, 1)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line mentions `needle` (e.g. a mender daemon in the demo's sandbox). */
async function processesMentioning(needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid} ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return false;
  } catch {
    return true;
  }
}

function must(re: RegExp, text: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`no match for ${String(re)} in:\n${text}`);
  return m;
}

describe('vancore-ota demo', () => {
  it('runs a staged rollout to the end with --no-tty and cleans up', async () => {
    const run = startDemo(['--duration', '90', '--no-tty', '--vans', '30']);
    const exit = await run.exited;
    const { stdout, stderr } = run.output();
    expect(exit, `${stdout}\n${stderr}`).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');

    const tmp = must(/temp files in (\S+)/, stdout)[1]!;
    const failing = must(/(van-\d{5}) \(pilot\) has a failing app/, stdout)[1]!;
    // Plain lines, timestamped, one per change (not one per second while nothing moves).
    const lines = stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d day /.test(l));
    expect(lines.length).toBeGreaterThan(5);
    expect(new Set(lines.map((l) => l.slice(9))).size).toBe(lines.length);
    // Stages progressed: internal, pilot, then fleet waves.
    expect(stdout).toMatch(/wave 1 internal \(internal, \d+ vans\)/);
    expect(stdout).toMatch(/wave 2 pilot \(pilot, \d+ vans\)/);
    expect(stdout).toMatch(/wave 3 fleet-1 \(fleet, \d+ vans\)/);
    // The real mender-client van took part, or one line says why not.
    expect(stdout).toMatch(/real mender-client van (van-real-01 \(internal ring\): mender daemon running|skipped: .+)/);
    // Deferrals with their reasons.
    expect(stdout).toMatch(/so far [^)]*(driving|weak LTE|low battery) [1-9]/);
    // A mixed fleet: half Debian's 3.4, half the C++ mender-update 5.x (issue #13).
    expect(stdout).toMatch(/clients: 15 on mender 3\.4\.0, 15 on mender-update 5\.1\.0\n/);
    // The end: the rollout's last line, vans updated, the failing app in the attention report.
    const end = stdout.slice(
      stdout.indexOf('\nRollout ') >= 0 ? stdout.indexOf('\nRollout ') : stdout.indexOf('\nDuration'),
    );
    expect(end).toMatch(/^\n(Rollout completed after [\d.]+ simulated days|Duration of 90 s reached)/);
    expect(Number(must(/updated (\d+)\/(\d+)/, end)[1])).toBeGreaterThan(10);
    // Per client: both deferred, and no deferral became a failure on either; the only failures are the
    // failing app's, and they are what the rollout counts.
    const perClient = ['3.4', '5.1'].map((label) =>
      must(
        new RegExp(
          `^clients: ${label.replace('.', '\\.')} (\\d+)/15 updated, (\\d+) deferrals, (\\d+) failed \\((\\d+) by deferral\\)$`,
          'm',
        ),
        end,
      ),
    );
    for (const m of perClient) {
      expect(Number(m[2]), m[0]).toBeGreaterThan(0);
      expect(m[4], m[0]).toBe('0');
    }
    const failedUpdates = perClient.reduce((n, m) => n + Number(m[3]), 0);
    expect(must(/failed (\d+) on (\d+) vans/, end).slice(1, 3)).toEqual([String(failedUpdates), '1']);
    const attention = end.slice(end.indexOf('== Attention report'), end.indexOf('API docs'));
    expect(attention).toMatch(new RegExp(`${failing}\\s+failed_repeatedly\\s+2 failed updates`));
    expect(end).toMatch(/== Fleet report .*==\nVans: 3[01] /);
    const docs = must(/API docs\s+(http:\/\/127\.0\.0\.1:\d+)\/docs/, end)[1]!;
    const mender = must(/Mender\s+(http:\/\/127\.0\.0\.1:\d+)/, end)[1]!;
    expect(end).toContain('Stopping the servers now');

    // Afterwards: nothing listens, nothing runs, nothing is left on disk.
    expect(await refused(`${docs}/healthz`)).toBe(true);
    expect(await refused(`${mender}/api/management/v1/useradm/auth/login`)).toBe(true);
    expect(existsSync(tmp)).toBe(false);
    expect(await processesMentioning(tmp)).toEqual([]);
  }, 150_000);

  it('stops promptly and cleanly on Ctrl-C (SIGINT), exit 130', async () => {
    const run = startDemo(['--duration', '120', '--no-tty', '--vans', '30']);
    await waitFor(() => /\d\d:\d\d:\d\d day \d/.test(run.output().stdout), 60_000, 'the first progress line', run);
    const { stdout } = run.output();
    const tmp = must(/temp files in (\S+)/, stdout)[1]!;
    const mender = must(/Mender simulator on (http:\/\/127\.0\.0\.1:\d+)/, stdout)[1]!;
    const bridge = must(/bridge on (http:\/\/127\.0\.0\.1:\d+)/, stdout)[1]!;
    const sent = Date.now();
    run.kill('SIGINT');
    const exit = await run.exited;
    expect(Date.now() - sent).toBeLessThan(15_000);
    expect(exit, JSON.stringify(run.output())).toEqual({ code: 130, signal: null });
    expect(run.output().stdout).toMatch(/stopping \(SIGINT\)/);
    expect(run.output().stdout).not.toContain('== Fleet report');
    expect(await refused(`${bridge}/healthz`)).toBe(true);
    expect(await refused(`${mender}/api/management/v1/useradm/auth/login`)).toBe(true);
    expect(existsSync(tmp)).toBe(false);
    expect(await processesMentioning(tmp)).toEqual([]);
  }, 90_000);

  it('bad flags: one line, exit 2', async () => {
    const run = startDemo(['--vans', 'many']);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.output().stderr).toBe("vancore-ota demo: --vans must be a whole number from 30 to 5000, got 'many'\n");
  });
});
