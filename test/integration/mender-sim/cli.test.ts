// `vancore-ota mender-sim` as a real process (dist/cli.js, built by `npm test`).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, runCli } from '../../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-sim-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Start the command, wait for its "listening" line, run `f`, then SIGTERM it and return its exit. */
async function running(
  args: string[],
  f: (url: string) => Promise<void>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'mender-sim', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 15_000);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /^mender-sim listening on (http:\/\/\S+) \(user (\S+)\)\n/.exec(stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    await f(url);
  } finally {
    child.kill('SIGTERM');
  }
  return { code: await exited, stdout, stderr };
}

describe('vancore-ota mender-sim', () => {
  it('prints the URL once listening, serves the API, and exits 0 on SIGTERM', async () => {
    const state = join(dir, 'state.json');
    const r = await running(
      ['--port', '0', '--user', 'ops@example.com', '--password', 'pw', '--auto-accept', '--state', state],
      async (url) => {
        const login = await fetch(`${url}/api/management/v1/useradm/auth/login`, {
          method: 'POST',
          headers: { Authorization: `Basic ${Buffer.from('ops@example.com:pw').toString('base64')}` },
        });
        expect(login.status).toBe(200);
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mender-sim listening on http:\/\/127\.0\.0\.1:\d+ \(user ops@example\.com\)\n$/);
    expect((await stat(state)).isFile()).toBe(true);
  });

  it('--virtual-devices N runs a fleet that authenticates, reports inventory and polls', async () => {
    const r = await running(['--port', '0', '--auto-accept', '--virtual-devices', '5', '--seed', '7'], async (url) => {
      const basic = `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}`;
      const jwt = await (
        await fetch(`${url}/api/management/v1/useradm/auth/login`, {
          method: 'POST',
          headers: { Authorization: basic },
        })
      ).text();
      let vanIds: string[] = [];
      for (let i = 0; i < 100 && vanIds.length < 5; i++) {
        const res = await fetch(`${url}/api/management/v1/inventory/devices?per_page=20`, {
          headers: { Authorization: `Bearer ${jwt}` },
        });
        const devices = (await res.json()) as { attributes: { name: string; value: unknown }[] }[];
        vanIds = devices.flatMap((d) =>
          d.attributes.filter((a) => a.name === 'vancore.van_id').map((a) => String(a.value)),
        );
        if (vanIds.length < 5) await new Promise((res2) => setTimeout(res2, 100));
      }
      expect(new Set(vanIds).size).toBe(5);
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('virtual fleet: 5 devices (seed 7)\n');
  });

  it.each([
    [['--port', '70000'], "vancore-ota mender-sim: --port must be a whole number from 0 to 65535, got '70000'"],
    [['--error-shape', 'html'], "vancore-ota mender-sim: --error-shape must be service or gateway, got 'html'"],
    [
      ['--virtual-devices', 'ten'],
      "vancore-ota mender-sim: --virtual-devices must be a whole number from 0 to 100000, got 'ten'",
    ],
    [['--frob'], "vancore-ota mender-sim: unknown option '--frob' (see 'vancore-ota mender-sim --help')"],
  ])('%j: one line, exit 2', (args, line) => {
    const r = runCli(['mender-sim', ...args]);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `${line}\n` });
  });

  it('--help lists the options', () => {
    const r = runCli(['mender-sim', '--help']);
    expect(r.code).toBe(0);
    for (const o of [
      '--host',
      '--port',
      '--user',
      '--password',
      '--auto-accept',
      '--state',
      '--error-shape',
      '--virtual-devices',
    ]) {
      expect(r.stdout).toContain(o);
    }
  });
});
