// `vancore-ota device install|uninstall` on temp van roots: the layout, mender.conf merging,
// idempotence, and an uninstall that gives back exactly the tree that was there before.
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceInstall, deviceUninstall, type InstallOptions } from '../../../agent-hooks/installer/install.js';
import { nodeRunner, type CommandRunner } from '../../../agent-hooks/lib/runner.js';
import { hostPaths } from '../../../core/host-paths.js';
import { repoRoot, runCli } from '../../helpers/cli.js';

let work: string;
let kit: string;
let pubKey: string;

const KIT_FILES: Record<string, string> = {
  'mender-scripts/Download_Enter_50_vancore-gate': '#!/usr/bin/env node\n// gate\n',
  'mender-scripts/ArtifactInstall_Enter_50_vancore-gate': '#!/usr/bin/env node\n// gate\n',
  'modules/vancore-compose': '#!/usr/bin/env node\n// compose\n',
  'modules/vancore-config': '#!/usr/bin/env node\n// config\n',
  'identity/mender-device-identity': '#!/usr/bin/env node\n// identity\n',
  'inventory/mender-inventory-vancore': '#!/usr/bin/env node\n// inventory\n',
  'bin/vancore-ota-health': '#!/usr/bin/env node\n// health\n',
  'vancore-sensord.js': '#!/usr/bin/env node\n// sensord\n',
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-install-it-'));
  kit = join(work, 'kit');
  for (const [rel, content] of Object.entries(KIT_FILES)) {
    await mkdir(join(kit, rel, '..'), { recursive: true });
    await writeFile(join(kit, rel), content, { mode: 0o755 });
  }
  // The real deploy/device files, as scripts/build.mjs copies them into the kit.
  await mkdir(join(kit, 'systemd'));
  await mkdir(join(kit, 'mender'));
  await writeFile(
    join(kit, 'systemd/vancore-sensord.service'),
    await readFile(join(repoRoot, 'deploy/device/systemd/vancore-sensord.service')),
  );
  await writeFile(
    join(kit, 'mender/mender.conf.fragment.json'),
    await readFile(join(repoRoot, 'deploy/device/mender/mender.conf.fragment.json')),
  );
  pubKey = join(work, 'ci.pub');
  await writeFile(
    pubKey,
    '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n',
  );
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A van that already has Mender configured (with a tenant token, hence 0600) and its own files. */
async function van(): Promise<string> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/mender/scripts'), { recursive: true });
  await writeFile(
    join(root, 'etc/mender/mender.conf'),
    '{\n  "ServerURL": "https://mender.vancore.example",\n  "TenantToken": "t0ken",\n  "StateScriptRetryIntervalSeconds": 60\n}\n',
  );
  await chmod(join(root, 'etc/mender/mender.conf'), 0o600);
  await writeFile(join(root, 'etc/mender/scripts/version'), '2\n');
  await mkdir(join(root, 'usr/share/mender/modules/v3'), { recursive: true });
  await writeFile(join(root, 'usr/share/mender/modules/v3/single-file'), '#!/bin/sh\n', { mode: 0o755 });
  return root;
}

async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of (await readdir(root, { recursive: true })).sort()) {
    const st = await lstat(join(root, rel));
    out[rel] = st.isFile() ? `${(st.mode & 0o7777).toString(8)} ${await readFile(join(root, rel), 'utf8')}` : 'dir';
  }
  return out;
}

const opts = (root: string, over: Partial<InstallOptions> = {}): InstallOptions => ({
  paths: hostPaths(root),
  from: kit,
  verifyKey: pubKey,
  allowUnsigned: false,
  dryRun: false,
  runner: nodeRunner(process.env),
  now: new Date('2026-11-22T10:00:00Z'),
  say: () => undefined,
  ...over,
});

describe('device install / uninstall', () => {
  it('lays out scripts, modules, hooks, unit and key; merges mender.conf keeping its other keys and mode', async () => {
    const root = await van();
    await deviceInstall(opts(root));
    const mode = async (p: string) => ((await lstat(join(root, p))).mode & 0o7777).toString(8);
    expect(await readFile(join(root, 'etc/mender/scripts/version'), 'utf8')).toBe('3\n');
    for (const p of [
      'etc/mender/scripts/Download_Enter_50_vancore-gate',
      'etc/mender/scripts/ArtifactInstall_Enter_50_vancore-gate',
      'usr/share/mender/modules/v3/vancore-compose',
      'usr/share/mender/modules/v3/vancore-config',
      'usr/share/mender/identity/mender-device-identity',
      'usr/share/mender/inventory/mender-inventory-vancore',
      'usr/lib/vancore-ota/bin/vancore-ota-health',
      'usr/lib/vancore-ota/bin/vancore-sensord.js',
    ]) {
      expect(await mode(p), p).toBe('755');
    }
    expect(await mode('etc/systemd/system/vancore-sensord.service')).toBe('644');
    expect(await readFile(join(root, 'etc/mender/artifact-verify-key.pem'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    const conf = JSON.parse(await readFile(join(root, 'etc/mender/mender.conf'), 'utf8')) as Record<string, unknown>;
    expect(conf).toEqual({
      ServerURL: 'https://mender.vancore.example',
      TenantToken: 't0ken',
      StateScriptRetryIntervalSeconds: 30,
      StateScriptRetryTimeoutSeconds: 2100,
      StateScriptTimeoutSeconds: 900,
      ModuleTimeoutSeconds: 5400,
      ArtifactVerifyKey: '/etc/mender/artifact-verify-key.pem',
    });
    expect(await mode('etc/mender/mender.conf')).toBe('600');
  });

  it('is idempotent, and uninstall gives back exactly the tree from before', async () => {
    const root = await van();
    const before = await snapshot(root);
    expect((await deviceInstall(opts(root))).length).toBeGreaterThan(10);
    const installed = await snapshot(root);
    expect(await deviceInstall(opts(root))).toEqual([]);
    expect(await snapshot(root)).toEqual(installed);
    await deviceUninstall({ paths: hostPaths(root), dryRun: false });
    expect(await snapshot(root)).toEqual(before);
  });

  it('on an empty root, uninstall removes every directory install created', async () => {
    const root = await mkdtemp(join(work, 'empty-'));
    await deviceInstall(opts(root, { verifyKey: null, allowUnsigned: true }));
    const conf = JSON.parse(await readFile(join(root, 'etc/mender/mender.conf'), 'utf8')) as Record<string, unknown>;
    expect(conf.ArtifactVerifyKey).toBeUndefined();
    await deviceUninstall({ paths: hostPaths(root), dryRun: false });
    expect(await readdir(root)).toEqual([]);
  });

  it.each<[string, (root: string) => Promise<Partial<InstallOptions>>, string]>([
    [
      'the gate scripts were not built',
      async () => {
        const partial = join(work, `kit-${Math.random().toString(36).slice(2)}`);
        await mkdir(join(partial, 'modules'), { recursive: true });
        return { from: partial };
      },
      'the gate scripts are missing from',
    ],
    [
      'no verification key',
      () => Promise.resolve({ verifyKey: null }),
      'no artifact verification key: pass --verify-key FILE',
    ],
    [
      'Node.js too old on the van',
      () => {
        const old: CommandRunner = {
          run: () => Promise.resolve({ code: 0, signal: null, stdout: 'v18.19.0\n', stderr: '', timedOut: false }),
        };
        return Promise.resolve({ runner: old });
      },
      'Node.js v18.19.0 is too old: the VanCore hooks need Node.js >= 20',
    ],
    [
      'a mender.conf that is not JSON',
      async (root) => {
        await writeFile(join(root, 'etc/mender/mender.conf'), 'ServerURL=https://x\n');
        return {};
      },
      'is not valid JSON',
    ],
  ])('refuses when %s, changing nothing', async (_what, setup, message) => {
    const root = await van();
    const over = await setup(root);
    const before = await snapshot(root);
    await expect(deviceInstall(opts(root, over))).rejects.toThrow(message);
    expect(await snapshot(root)).toEqual(before);
  });

  it('the CLI: --dry-run prints the plan, install reports, uninstall undoes', async () => {
    const root = await van();
    const before = await snapshot(root);
    const dry = runCli(['device', 'install', '--root', root, '--from', kit, '--verify-key', pubKey, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'would install /usr/share/mender/modules/v3/vancore-compose (0755) from modules/vancore-compose',
    );
    expect(await snapshot(root)).toEqual(before);
    expect(runCli(['device', 'install', '--root', root, '--from', kit, '--verify-key', pubKey]).code).toBe(0);
    expect(runCli(['device', 'install', '--root', root, '--from', kit]).stdout).toBe(
      `up to date: nothing to change under ${root}\n`,
    );
    const un = runCli(['device', 'uninstall', '--root', root]);
    expect(un.code, un.stderr).toBe(0);
    expect(await snapshot(root)).toEqual(before);
    const again = runCli(['device', 'uninstall', '--root', root]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^vancore-ota device uninstall: nothing to uninstall: no .*manifest.json\n$/);
  });
});
