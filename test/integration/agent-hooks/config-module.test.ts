// vancore-config as a real process on a temp van root: atomic writes with owner and mode, byte-exact
// restore on rollback, service restarts (a stand-in `systemctl` first in PATH records them), kill -9
// resume, and bad input that changes nothing.
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBuiltHooks } from './support/bundles.js';
import { configTree, runAndKillAt, runModule } from './support/payload.js';

let work: string;
let configModule: string;
let fakeBin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-config-it-'));
  configModule = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-config']))['modules/vancore-config'];
  fakeBin = join(work, 'bin');
  await mkdir(fakeBin);
  // systemctl stand-in: logs its arguments; `$VC_SYSTEMCTL_FAIL` names a unit whose restart fails.
  await writeFile(
    join(fakeBin, 'systemctl'),
    '#!/bin/sh\necho "$*" >> "$VC_SYSTEMCTL_LOG"\n[ -n "$VC_SYSTEMCTL_FAIL" ] && [ "$2" = "$VC_SYSTEMCTL_FAIL" ] && { echo "Job for $2 failed" >&2; exit 1; }\nexit 0\n',
  );
  await chmod(join(fakeBin, 'systemctl'), 0o755);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Van {
  root: string;
  env: NodeJS.ProcessEnv;
  log: string;
  state: string;
}

/** A van with an existing config file (binary-ish bytes, mode 0640, owned by 1234:2345) and users. */
async function newVan(extraEnv: NodeJS.ProcessEnv = {}): Promise<Van> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(
    join(root, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\nvancore:x:1500:1500::/var/lib/vancore:/bin/false\n',
  );
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nvancore:x:1500:\n');
  await writeFile(join(root, 'etc/vancore/hub.conf'), Buffer.from([0x6f, 0x6c, 0x64, 0x0a, 0x00, 0xff, 0x0d, 0x0a]));
  await chmod(join(root, 'etc/vancore/hub.conf'), 0o640);
  await chown(join(root, 'etc/vancore/hub.conf'), 1234, 2345);
  const log = join(root, 'systemctl.log');
  return {
    root,
    log,
    state: join(root, 'var/lib/vancore-ota'),
    env: {
      VANCORE_OTA_ROOT: root,
      PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      VC_SYSTEMCTL_LOG: log,
      ...extraEnv,
    },
  };
}

/** Relative paths under `dir`, not following symlinks. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await walk(join(dir, e.name), rel)));
  }
  return out;
}

const STATE = 'var/lib/vancore-ota';

/** Every entry under the van root (optionally without the module's state): mode uid:gid bytes. */
async function snapshot(root: string, skipState = true): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of await walk(root)) {
    if (skipState && (STATE.startsWith(rel) || rel.startsWith(STATE) || rel === 'systemctl.log')) continue;
    const st = await lstat(join(root, rel));
    out[rel] = st.isFile()
      ? `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${(await readFile(join(root, rel))).toString('hex')}`
      : st.isDirectory()
        ? 'dir'
        : 'link';
  }
  return out;
}

const files = () => ({
  '/etc/vancore/hub.conf': { content: 'new hub config\n', mode: '0600' },
  '/etc/vancore/sensors/imu.yaml': { content: 'rate: 10\n', mode: '0644', owner: 'vancore', group: 'vancore' },
});

describe('vancore-config module', () => {
  it('installs atomically with mode and owner, restarts the units, commits the version', async () => {
    const van = await newVan();
    const tree = await configTree(work, { version: '1.4.0', files: files(), restart: ['vancore-sensord.service'] });
    const r = await runModule(configModule, 'ArtifactInstall', tree, van.env);
    expect(r.code, r.stderr).toBe(0);
    const hub = await lstat(join(van.root, 'etc/vancore/hub.conf'));
    expect(await readFile(join(van.root, 'etc/vancore/hub.conf'), 'utf8')).toBe('new hub config\n');
    // Owner kept from the file it replaced; mode from the index.
    expect([hub.mode & 0o7777, hub.uid, hub.gid]).toEqual([0o600, 1234, 2345]);
    const imu = await lstat(join(van.root, 'etc/vancore/sensors/imu.yaml'));
    expect([imu.mode & 0o7777, imu.uid, imu.gid]).toEqual([0o644, 1500, 1500]);
    expect(await readFile(van.log, 'utf8')).toBe('restart vancore-sensord.service\n');
    expect((await readdir(join(van.root, 'etc/vancore'))).filter((f) => f.includes('tmp'))).toEqual([]);
    expect((await runModule(configModule, 'ArtifactCommit', tree, van.env)).code).toBe(0);
    expect(JSON.parse(await readFile(join(van.state, 'versions.json'), 'utf8'))).toEqual({ config: '1.4.0' });
  });

  it('rolls back to the exact previous bytes, mode and owner; removes what was new; restarts again', async () => {
    const van = await newVan();
    const before = await snapshot(van.root);
    const tree = await configTree(work, { version: '1.4.0', files: files(), restart: ['vancore-sensord.service'] });
    expect((await runModule(configModule, 'ArtifactInstall', tree, van.env)).code).toBe(0);
    const r = await runModule(configModule, 'ArtifactRollback', tree, van.env);
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(van.root)).toEqual(before);
    expect(await readFile(van.log, 'utf8')).toBe('restart vancore-sensord.service\nrestart vancore-sensord.service\n');
    expect(JSON.parse(await readFile(join(van.state, 'last-update.json'), 'utf8'))).toMatchObject({
      status: 'rolled_back',
      component: 'config',
    });
  });

  it('a unit that fails to restart fails the install; the rollback restores the files', async () => {
    const van = await newVan({ VC_SYSTEMCTL_FAIL: 'broken.service' });
    const before = await snapshot(van.root);
    const tree = await configTree(work, {
      version: '1.4.1',
      files: files(),
      restart: ['ok.service', 'broken.service'],
    });
    const r = await runModule(configModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'vancore-config: ArtifactInstall failed: systemctl restart broken.service: exit 1 (Job for broken.service failed)',
    );
    // The unit still fails after the restore: logged, but the files are back, which is what counts.
    const rollback = await runModule(configModule, 'ArtifactRollback', tree, van.env);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stderr).toContain('broken.service');
    expect(await snapshot(van.root)).toEqual(before);
  });

  it.each(['backup', 'write', 'after:write', 'restart', 'finish:installed'])(
    'kill -9 at %s, then ArtifactRollback → the previous files exactly',
    async (hold) => {
      const van = await newVan();
      const before = await snapshot(van.root);
      const tree = await configTree(work, { version: '1.5.0', files: files(), restart: ['a.service'] });
      const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
      expect((await runAndKillAt(configModule, 'ArtifactInstall', tree, van.env, hold, holdFile)).signal).toBe(
        'SIGKILL',
      );
      const r = await runModule(configModule, 'ArtifactRollback', tree, van.env);
      expect(r.code, r.stderr).toBe(0);
      expect(await snapshot(van.root)).toEqual(before);
    },
  );

  it('kill -9 after commit:record, then ArtifactRollback → previous files and no recorded version', async () => {
    const van = await newVan();
    const before = await snapshot(van.root);
    const tree = await configTree(work, { version: '1.5.0', files: files() });
    expect((await runModule(configModule, 'ArtifactInstall', tree, van.env)).code).toBe(0);
    const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
    await runAndKillAt(configModule, 'ArtifactCommit', tree, van.env, 'after:commit:record', holdFile);
    expect((await runModule(configModule, 'ArtifactRollback', tree, van.env)).code).toBe(0);
    expect(await snapshot(van.root)).toEqual(before);
    expect(JSON.parse(await readFile(join(van.state, 'versions.json'), 'utf8'))).toEqual({});
  });

  it('ArtifactRollback without a prior install is a no-op', async () => {
    const van = await newVan();
    const before = await snapshot(van.root, false);
    const tree = await configTree(work, { version: '1.4.0', files: files() });
    expect((await runModule(configModule, 'ArtifactRollback', tree, van.env)).code).toBe(0);
    expect(await snapshot(van.root, false)).toEqual(before);
  });

  it.each([
    [
      'path traversal in a destination',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { dest: string }[]).map((f, n) =>
          n === 0 ? { ...f, dest: '/etc/vancore/../../etc/shadow' } : f,
        ),
      }),
      'invalid vancore-index.json: files[0].dest: must be an absolute path without "..", "." or empty segments, NUL or control characters',
    ],
    [
      'a relative destination',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { dest: string }[]).map((f, n) => (n === 0 ? { ...f, dest: 'etc/x' } : f)),
      }),
      'invalid vancore-index.json: files[0].dest: must be an absolute path without "..", "." or empty segments, NUL or control characters',
    ],
    [
      'a destination outside the config directories',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { dest: string }[]).map((f, n) => (n === 0 ? { ...f, dest: '/etc/passwd' } : f)),
      }),
      'destination /etc/passwd is outside the config directories (/etc/vancore, /opt/vancore, /var/lib/vancore)',
    ],
    [
      'an unknown component',
      (i: Record<string, unknown>) => ({ ...i, component: 'platform' }),
      "unknown component 'platform': vancore-config installs config",
    ],
    [
      'an unknown user',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as object[]).map((f, n) => (n === 0 ? { ...f, owner: 'nobody2' } : f)),
      }),
      "unknown user 'nobody2'",
    ],
    [
      'a size that does not match the payload',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { size: number }[]).map((f, n) => (n === 0 ? { ...f, size: f.size + 1 } : f)),
      }),
      /payload file '0000-hub.conf' has 15 bytes, the index says 16/,
    ],
  ])('bad input — %s: one clear line, nothing changed', async (_what, mutate, line) => {
    const van = await newVan();
    const before = await snapshot(van.root, false);
    const tree = await configTree(work, { version: '1.6.0', files: files(), index: mutate });
    const r = await runModule(configModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    if (typeof line === 'string') expect(lines[0]).toBe(`vancore-config: ArtifactInstall failed: ${line}`);
    else expect(lines[0]).toMatch(line);
    expect((await runModule(configModule, 'ArtifactRollback', tree, van.env)).code).toBe(0);
    expect((await runModule(configModule, 'ArtifactFailure', tree, van.env)).code).toBe(0);
    expect(await snapshot(van.root, false)).toEqual(before);
  });

  it.each([
    ['a directory symlinked out of the root', '/etc/vancore/linked/x.conf', 'leads outside the root through a symlink'],
    ['a destination that is a directory', '/etc/vancore/conf.d', 'exists and is not a regular file'],
  ])('refuses %s', async (_what, dest, why) => {
    const van = await newVan();
    await symlink('/tmp', join(van.root, 'etc/vancore/linked'));
    await mkdir(join(van.root, 'etc/vancore/conf.d'));
    const before = await snapshot(van.root, false);
    const tree = await configTree(work, { version: '1.6.0', files: { [dest]: { content: 'x\n' } } });
    const r = await runModule(configModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vancore-config: ArtifactInstall failed: destination ${dest} ${why}\n`);
    expect(await snapshot(van.root, false)).toEqual(before);
  });
});
