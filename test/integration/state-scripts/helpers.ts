// Helpers for the gates' integration tests: temp trees, free ports, waiting for a condition, and
// the bundled device executables run as real processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

export const deviceDist = join(repoRoot, 'dist/device');
export const scriptsDist = join(deviceDist, 'mender-scripts');
export const fixtures = join(import.meta.dirname, 'fixtures');

export function tempDir(prefix = 'vc-gates-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Write files under `root`: { 'sys/class/power_supply/BAT0/capacity': '77\n', … }. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** An IIO accelerometer at rest (|a| = 1 g) as a kernel driver would show it: raw counts × scale (m/s²). */
export function iioDevice(dir = 'sys/bus/iio/devices/iio:device0', raw: [number, number, number] = [0, 0, 1024]) {
  return {
    [`${dir}/name`]: 'bmi160\n',
    [`${dir}/in_accel_scale`]: '0.009576\n',
    [`${dir}/in_accel_x_raw`]: `${raw[0]}\n`,
    [`${dir}/in_accel_y_raw`]: `${raw[1]}\n`,
    [`${dir}/in_accel_z_raw`]: `${raw[2]}\n`,
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `check` until it returns a value (not undefined/false) or the time is up. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  what: string,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a bundled state script the way Mender does: no arguments, the given environment. */
export function runScript(name: string, env: Record<string, string>, cwd?: string): Promise<Run> {
  return runProcess(join(scriptsDist, name), [], env, cwd);
}

export function runProcess(file: string, args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      cwd: cwd ?? tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Kill a detached child's whole process group (gpsfake ignores SIGTERM; gpsd is its child). */
export async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    return;
  }
  await gone;
}

/** A device setup on a temp root with the given ota.yaml text (parsed by the real loader). */
export async function deviceSetup(root: string, otaYaml: string) {
  const { loadSetup } = await import('../../../state-scripts/env.js');
  await writeTree(root, { 'etc/vancore/ota.yaml': otaYaml });
  return loadSetup(
    { VANCORE_OTA_ROOT: root, VANCORE_OTA_STATE_DIR: join(root, 'state') },
    { configPath: join(root, 'etc/vancore/ota.yaml'), cache: false },
  );
}
