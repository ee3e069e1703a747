// Debian's mender-cli 1.9 — a management client Mender wrote — against the simulator on both profiles:
// it logs in, lists devices, uploads an artifact built by `vancore-ota artifact build`, lists it (its
// meta-data included), deletes it. mender-cli decodes `updates[].meta_data` into a Go `[]interface{}`: an
// object there fails the whole list ("cannot unmarshal object into Go struct field .updates.meta_data"),
// which is how issue #14 found the simulator's old shape. mender-cli talks plain HTTP when --server says
// http:// (no TLS needed; --skip-verify only matters for https).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMenderSim, type MenderProfile } from '../../mender-sim/index.js';
import { SimDevice } from '../../mender-sim/testkit.js';

const execFileP = promisify(execFile);

let work: string;
let artifact: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-mender-cli-'));
  await writeFile(join(work, 'ota.yaml'), 'mode: van\n');
  const r = runCli([
    'artifact',
    'build',
    '--type',
    'config',
    '--component',
    'config',
    '--version',
    '1.4.0',
    '--device-type',
    'vanpc',
    '--file',
    `${join(work, 'ota.yaml')}:/etc/vancore/ota.yaml`,
    '--requires',
    'platform=>=0.9.0',
    '--no-gate-scripts',
    '--out',
    work,
  ]);
  expect(r.code, r.stderr).toBe(0);
  artifact = join(work, 'vancore-config-1.4.0.mender');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Run mender-cli with its own HOME (it keeps the login token in ~/.cache/mender/authtoken). */
async function menderCli(home: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await execFileP('mender-cli', args, { env: { ...process.env, HOME: home }, cwd: home, timeout: 30_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe.each(['4.1', '3.7'] as MenderProfile[])('mender-cli 1.9 against the simulator (Mender %s)', (profile) => {
  it('logs in, lists devices, uploads, lists (with meta-data) and deletes a VanCore artifact', async () => {
    const sim = await startMenderSim({ profile, autoAccept: true });
    const home = join(work, `home-${profile}`);
    await mkdir(home, { recursive: true });
    const server = ['--server', sim.url];
    try {
      const device = new SimDevice(sim.url, { mac: '02:00:00:00:0c:01', keyKind: 'rsa' });
      expect((await device.authenticate()).status).toBe(200);

      const bad = await menderCli(home, ['login', ...server, '--username', sim.user, '--password', 'wrong']);
      expect(bad.code).not.toBe(0);
      const login = await menderCli(home, ['login', ...server, '--username', sim.user, '--password', sim.password]);
      expect(login, login.out).toMatchObject({ code: 0 });
      expect(login.out).toContain('login successful');

      const devices = await menderCli(home, ['devices', 'list', ...server, '--raw']);
      expect(devices.code, devices.out).toBe(0);
      expect(devices.out).toContain('02:00:00:00:0c:01');

      const upload = await menderCli(home, [
        'artifacts',
        'upload',
        ...server,
        '--no-progress',
        '--description',
        'VanCore config 1.4.0',
        artifact,
      ]);
      expect(upload.code, upload.out).toBe(0);
      expect(upload.out).toContain('upload successful');

      const list = await menderCli(home, ['artifacts', 'list', ...server, '--detail', '3']);
      expect(list.code, list.out).toBe(0);
      expect(list.out).toContain('Name: vancore-config-1.4.0');
      expect(list.out).toContain('Description: VanCore config 1.4.0');
      expect(list.out).toContain('Type: vancore-config');
      // The VanCore meta-data reaches mender-cli as the Key/Value list it decodes (profile.ts).
      expect(list.out).toMatch(/MetaData: \[map\[Key:vancore Value:/);
      expect(list.out).toContain('platform');
      const id = /^ID: (\S+)$/m.exec(list.out)?.[1] ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);

      const del = await menderCli(home, ['artifacts', 'delete', ...server, id]);
      expect(del.code, del.out).toBe(0);
      const after = await menderCli(home, ['artifacts', 'list', ...server]);
      expect(after.code, after.out).toBe(0);
      expect(after.out).not.toContain('vancore-config-1.4.0');
    } finally {
      await sim.close();
    }
  }, 60_000);
});
