// sensord's wake-up (state-scripts/wake.ts) with real processes: a stand-in "daemon" that records the
// SIGUSR1 it gets, the real `mender check-update` of Debian's client 3.4 (which fails without systemd,
// RECIPE §6.2: "getMenderDaemonPID: Failed to run systemctl"), and a stand-in `mender-update` that does
// what RECIPE-current §2 / §3.3 verified for 5.1's check-update: `systemctl show --property=MainPID
// mender-updated`, then `kill -USR1 <pid>` (the C++ client is not packaged here, so it cannot run).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeCommandRunner, type CommandRunner } from '../../../state-scripts/health.js';
import { wakeClient } from '../../../state-scripts/wake.js';
import { tempDir, waitFor } from './helpers.js';

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** A process that logs each SIGUSR1 to `log` (ready once it printed its line: the handler is set). */
async function daemon(log: string): Promise<number> {
  const p = spawn(
    process.execPath,
    [
      '-e',
      `process.on('SIGUSR1', () => require('fs').appendFileSync(${JSON.stringify(log)}, 'USR1\\n'));` +
        `setInterval(() => {}, 1000); console.log('ready');`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  running.push(p);
  await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
  if (p.pid === undefined) throw new Error('no pid');
  return p.pid;
}

/** A /proc with one process: `pid` running `argv` (how findMenderDaemonPid sees the daemon). */
async function procWith(dir: string, pid: number, argv: string[]): Promise<string> {
  const proc = join(dir, 'proc');
  await mkdir(join(proc, String(pid)), { recursive: true });
  await writeFile(join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
  return proc;
}

/** Stand-in mender-update (check-update as verified in RECIPE-current §2) using `systemctl` at `systemctl`. */
async function menderUpdate(bin: string, systemctl: string): Promise<void> {
  await mkdir(bin, { recursive: true });
  const path = join(bin, 'mender-update');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      '[ "$1" = check-update ] || exit 2',
      `out=$(${systemctl} show --property=MainPID mender-updated 2>/dev/null) || { echo "Could not fulfill request: systemctl failed" >&2; exit 1; }`,
      'kill -USR1 "${out#MainPID=}"',
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
}

async function fakeSystemctl(bin: string, pid: number): Promise<string> {
  const path = join(bin, 'systemctl');
  await writeFile(
    path,
    `#!/bin/sh\n[ "$2" = --property=MainPID ] && [ "$3" = mender-updated ] && echo MainPID=${pid}\n`,
  );
  await chmod(path, 0o755);
  return path;
}

/** The real runner, but a client binary is the stand-in in `bin`, the host's only if allowed, else absent. */
function runnerWith(bin: string, hostAllowed: string[] = []): CommandRunner {
  return {
    run: (argv, o) => {
      const [cmd, ...rest] = argv;
      if (cmd === 'mender' || cmd === 'mender-update') {
        if (existsSync(join(bin, cmd))) return nodeCommandRunner.run([join(bin, cmd), ...rest], o);
        if (!hostAllowed.includes(cmd)) {
          return Promise.resolve({
            code: null,
            signal: null,
            stdout: '',
            stderr: '',
            timedOut: false,
            error: 'ENOENT',
          });
        }
      }
      return nodeCommandRunner.run(argv, o);
    },
  };
}

const usr1s = async (log: string) => (existsSync(log) ? (await readFile(log, 'utf8')).split('\n').filter(Boolean) : []);

describe('wakeClient', () => {
  it('5.x, command: mender-update check-update finds the daemon through systemctl and signals it', async () => {
    const dir = await tempDir('vc-wake-');
    const log = join(dir, 'usr1.log');
    const pid = await daemon(log);
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await menderUpdate(bin, await fakeSystemctl(bin, pid));
    const r = await wakeClient('command', {
      procDir: join(dir, 'no-proc'),
      runner: runnerWith(bin),
      client: 'mender-update-5',
    });
    expect(r).toEqual({ ok: true, how: 'mender-update check-update' });
    await waitFor(async () => (await usr1s(log)).length === 1, 5000, 'the daemon to get SIGUSR1');
  });

  it('5.x without systemd: check-update fails, the daemon found in /proc gets SIGUSR1', async () => {
    const dir = await tempDir('vc-wake-');
    const log = join(dir, 'usr1.log');
    const pid = await daemon(log);
    const bin = join(dir, 'bin');
    await menderUpdate(bin, join(dir, 'no-systemctl'));
    const proc = await procWith(dir, pid, ['/usr/bin/mender-update', 'daemon']);
    const r = await wakeClient('command', { procDir: proc, runner: runnerWith(bin), client: 'mender-update-5' });
    expect(r).toEqual({
      ok: true,
      how: `mender-update check-update: exit 1; SIGUSR1 to mender daemon ${pid}`,
    });
    await waitFor(async () => (await usr1s(log)).length === 1, 5000, 'the daemon to get SIGUSR1');
  });

  it('3.x without systemd: the real `mender check-update` fails (RECIPE §6.2), SIGUSR1 does it', async () => {
    const dir = await tempDir('vc-wake-');
    const log = join(dir, 'usr1.log');
    const pid = await daemon(log);
    const proc = await procWith(dir, pid, ['mender', '--no-syslog', 'daemon']);
    const r = await wakeClient('command', {
      procDir: proc,
      runner: runnerWith(join(dir, 'bin'), ['mender']),
      client: 'mender-3',
    });
    expect(r).toEqual({ ok: true, how: `mender check-update: exit 1; SIGUSR1 to mender daemon ${pid}` });
    await waitFor(async () => (await usr1s(log)).length === 1, 5000, 'the daemon to get SIGUSR1');
  });

  it('signal mode: the mender-update daemon in /proc, not mender-auth', async () => {
    const dir = await tempDir('vc-wake-');
    const log = join(dir, 'usr1.log');
    const authLog = join(dir, 'auth.log');
    const auth = await daemon(authLog);
    const pid = await daemon(log);
    const proc = await procWith(dir, auth, ['/usr/bin/mender-auth', 'daemon']);
    await procWith(dir, pid, ['/usr/bin/mender-update', 'daemon']);
    expect(await wakeClient('signal', { procDir: proc, runner: runnerWith(join(dir, 'bin')) })).toEqual({
      ok: true,
      how: `SIGUSR1 to mender daemon ${pid}`,
    });
    await waitFor(async () => (await usr1s(log)).length === 1, 5000, 'the daemon to get SIGUSR1');
    expect(await usr1s(authLog)).toEqual([]);
  });

  it('no client installed and no daemon: says so, nothing is signalled', async () => {
    const dir = await tempDir('vc-wake-');
    expect(await wakeClient('command', { procDir: join(dir, 'proc'), runner: runnerWith(join(dir, 'bin')) })).toEqual({
      ok: false,
      how: 'mender-update / mender not installed; no mender daemon running',
    });
    expect(await wakeClient('off', { procDir: join(dir, 'proc'), runner: runnerWith(join(dir, 'bin')) })).toEqual({
      ok: false,
      how: 'check_update is off',
    });
  });
});
