// vancore-config on the real mender-client 3.4 (standalone, sandboxed per RECIPE §3): artifacts built
// by the real packaging command (`vancore-ota artifact build`, i.e. the producer of the payload
// index), the bundled module installed as /usr/share/mender/modules/v3/vancore-config, the van's files
// in a temp root. Install + commit, install + rollback (exact previous bytes), and bad input.
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli } from '../unit/mender-artifacts/fixtures.js';
import { systemTest } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';

const execFileP = promisify(execFile);

let work: string;
let module: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-config-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-config']))['modules/vancore-config'];
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A van root whose /etc/vancore/hub.conf has odd bytes, an odd mode and owner. */
async function vanRoot(): Promise<string> {
  const root = await mkdtemp(join(work, 'van-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(join(root, 'etc/vancore/hub.conf'), Buffer.from('mode: old\r\n\u0000\u00ff tail without newline'));
  await chmod(join(root, 'etc/vancore/hub.conf'), 0o640);
  await chown(join(root, 'etc/vancore/hub.conf'), 4321, 4321);
  return root;
}

async function fileState(path: string): Promise<string> {
  const st = await lstat(path);
  return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${(await readFile(path)).toString('hex')}`;
}

/** `vancore-ota artifact build --type config` (no gate scripts: the gates are not under test here). */
async function configArtifact(version: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(work, 'art-'));
  const args = ['build', '--type', 'config', '--component', 'config', '--version', version, '--device-type', 'vanpc'];
  for (const [dest, content] of Object.entries(files)) {
    const src = join(dir, dest.replace(/\//g, '_'));
    await writeFile(src, content);
    args.push('--file', `${src}:${dest}`);
  }
  const r = await artifactCli([...args, '--no-gate-scripts', '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, `vancore-config-${version}.mender`);
}

async function setup(bed: {
  sandbox: () => Promise<Sandbox>;
}): Promise<{ sb: Sandbox; root: string; env: NodeJS.ProcessEnv }> {
  const sb = await bed.sandbox();
  await sb.installModule('vancore-config', module);
  const root = await vanRoot();
  return { sb, root, env: { VANCORE_OTA_ROOT: root } };
}

describe('vancore-config on the real mender-client (standalone)', () => {
  systemTest(
    'install + commit writes the files and records the version; the client records the provide',
    async ({ bed }) => {
      const { sb, root, env } = await setup(bed);
      const art = await configArtifact('1.4.0', {
        '/etc/vancore/hub.conf': 'mode: new\n',
        '/etc/vancore/extra/a.yaml': 'a: 1\n',
      });
      const install = await runMender(sb, ['install', art], { env });
      expect(install.rc, install.stderr).toBe(0);
      expect(await readFile(join(root, 'etc/vancore/hub.conf'), 'utf8')).toBe('mode: new\n');
      expect((await runMender(sb, ['commit'], { env })).rc).toBe(0);
      expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
        config: '1.4.0',
      });
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('vancore-config-1.4.0\n');
      expect((await runMender(sb, ['show-provides'], { env })).stdout).toContain('vancore.config.version=1.4.0');
    },
  );

  systemTest('install + rollback restores the exact previous bytes, mode and owner', async ({ bed }) => {
    const { sb, root, env } = await setup(bed);
    const before = await fileState(join(root, 'etc/vancore/hub.conf'));
    const art = await configArtifact('1.5.0', {
      '/etc/vancore/hub.conf': 'mode: new\n',
      '/etc/vancore/extra/a.yaml': 'a: 1\n',
    });
    expect((await runMender(sb, ['install', art], { env })).rc).toBe(0);
    expect(await fileState(join(root, 'etc/vancore/hub.conf'))).not.toBe(before);
    const rollback = await runMender(sb, ['rollback'], { env });
    expect(rollback.rc, rollback.stderr).toBe(0);
    expect(await fileState(join(root, 'etc/vancore/hub.conf'))).toBe(before);
    await expect(lstat(join(root, 'etc/vancore/extra'))).rejects.toThrow('ENOENT');
    expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('factory-image\n');
  });

  systemTest(
    'bad input (a traversal in the index): install fails with one clear line, the van unchanged',
    async ({ bed }) => {
      const { sb, root, env } = await setup(bed);
      const before = await fileState(join(root, 'etc/vancore/hub.conf'));
      // Packaging refuses such an index, so it is written by hand with mender-artifact itself.
      const dir = await mkdtemp(join(work, 'bad-'));
      await writeFile(join(dir, '0000-x'), 'x\n');
      await writeFile(
        join(dir, 'vancore-index.json'),
        JSON.stringify({
          format: 1,
          type: 'vancore-config',
          component: 'config',
          version: '9.9.9',
          files: [{ name: '0000-x', dest: '/etc/vancore/../../root/.ssh/authorized_keys', mode: '0644', size: 2 }],
        }),
      );
      const art = join(dir, 'bad.mender');
      await execFileP('mender-artifact', [
      'write', 'module-image', '-T', 'vancore-config', '-n', 'vancore-config-9.9.9', '-t', 'vanpc',
      '-f', join(dir, 'vancore-index.json'), '-f', join(dir, '0000-x'), '-o', art,
    ]); // prettier-ignore
      const install = await runMender(sb, ['install', art], { env });
      expect(install.rc).toBe(1);
      const lines = `${install.stdout}\n${install.stderr}`
        .split('\n')
        .filter((l) => l.includes('vancore-config: ArtifactInstall failed'));
      expect(lines).toHaveLength(1);
      // The client's log quotes the module's stderr (with escaped quotes) in one line.
      expect(lines[0]).toContain(
        'vancore-config: ArtifactInstall failed: invalid vancore-index.json: files[0].dest: must be an absolute path without',
      );
      expect(await fileState(join(root, 'etc/vancore/hub.conf'))).toBe(before);
      await expect(lstat(join(root, 'var/lib/vancore-ota'))).rejects.toThrow('ENOENT');
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('factory-image\n');
    },
  );
});
