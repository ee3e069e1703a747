// `vancore-ota device install|uninstall` on temp van roots: the layout per Mender client, mender.conf
// merging, idempotence, and an uninstall that gives back exactly the tree that was there before.
// The client is detected by running `<binary> --version` under the root: 3.x is a stand-in printing
// what Debian's mender 3.4 prints (`3.4.0+ds1-5+b1\truntime: go1.19.8`, checked against the real one in
// test/system/device-install-client.test.ts); the C++ client is a stand-in printing `5.1.0`, as
// `mender-update --version` does (RECIPE-current §3.1 first row): it is not packaged here.
import { type KeyObject, generateKeyPairSync } from 'node:crypto';
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
/** Public keys of other kinds than the default ECDSA P-256 one (issue #16 item 9). */
const keys: Record<'ed25519' | 'rsa1024' | 'rsa2048' | 'p384', string> = {
  ed25519: '',
  rsa1024: '',
  rsa2048: '',
  p384: '',
};

const KIT_FILES: Record<string, string> = {
  'mender-scripts/Download_Enter_50_vancore-gate': '#!/usr/bin/env node\n// gate\n',
  'mender-scripts/Sync_Leave_50_vancore-gate': '#!/usr/bin/env node\n// gate for 5.x\n',
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
  const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();
  pubKey = join(work, 'ci.pub');
  await writeFile(pubKey, pem(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey));
  const kinds = {
    ed25519: pem(generateKeyPairSync('ed25519').publicKey),
    rsa1024: pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
    rsa2048: pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
    p384: pem(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey),
  };
  for (const [kind, text] of Object.entries(kinds)) {
    keys[kind as keyof typeof keys] = join(work, `${kind}.pub`);
    await writeFile(join(work, `${kind}.pub`), text);
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A stand-in client binary under the van's /usr/bin that prints `version` for --version. */
async function clientBinary(root: string, binary: 'mender' | 'mender-update', version: string): Promise<void> {
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await writeFile(
    join(root, 'usr/bin', binary),
    `#!/bin/sh\n[ "$1" = --version ] && printf '%s\\n' '${version}' && exit 0\nexit 1\n`,
    { mode: 0o755 },
  );
}

/** A van that already has Mender configured (with a tenant token, hence 0600) and its own files. */
async function van(client: ['mender' | 'mender-update', string] = ['mender', '3.4.0+ds1-5+b1\truntime: go1.19.8']) {
  const root = await mkdtemp(join(work, 'root-'));
  await clientBinary(root, ...client);
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

/** The real runner, except that the host's own client is not on PATH (this host has Debian's mender 3.4). */
const noHostClient: CommandRunner = {
  run: (cmd, args, o) =>
    cmd === 'mender' || cmd === 'mender-update'
      ? Promise.resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, spawnError: 'ENOENT' })
      : nodeRunner(process.env).run(cmd, args, o),
};

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
      UpdatePollIntervalSeconds: 1800,
      InventoryPollIntervalSeconds: 1800,
      RetryPollIntervalSeconds: 300,
      RetryPollCount: 10,
      StateScriptRetryIntervalSeconds: 30,
      StateScriptRetryTimeoutSeconds: 2100,
      StateScriptTimeoutSeconds: 900,
      ModuleTimeoutSeconds: 5400,
      ArtifactVerifyKey: '/etc/mender/artifact-verify-key.pem',
    });
    expect(await mode('etc/mender/mender.conf')).toBe('600');
    // The Go client: the download gate at Download_Enter, no Sync_Leave gate.
    expect(await readdir(join(root, 'etc/mender/scripts'))).not.toContain('Sync_Leave_50_vancore-gate');
    expect(JSON.parse(await readFile(join(root, 'etc/vancore/mender-client.json'), 'utf8'))).toEqual({
      flavour: 'mender-3',
      version: '3.4.0+ds1-5+b1',
    });
  });

  it('--client 5: the Sync_Leave gate and no Download_Enter gate, version file, every interval explicit', async () => {
    const root = await van(['mender-update', '5.1.0']);
    const before = await snapshot(root);
    await deviceInstall(opts(root, { client: 'mender-update-5' }));
    const scripts = (await readdir(join(root, 'etc/mender/scripts'))).sort();
    // RECIPE-current §3.2 (c): a failing Sync_Leave reports nothing; (a): a failing Download_Enter is a failure.
    expect(scripts).toEqual(['ArtifactInstall_Enter_50_vancore-gate', 'Sync_Leave_50_vancore-gate', 'version']);
    // §3.1: 5.x takes a missing version file as 3, 3.4 refuses it; ours says 3 for both.
    expect(await readFile(join(root, 'etc/mender/scripts/version'), 'utf8')).toBe('3\n');
    const conf = JSON.parse(await readFile(join(root, 'etc/mender/mender.conf'), 'utf8')) as Record<string, unknown>;
    // §0 / §4: 5.x defaults differ from 3.4 (InventoryPoll 28800 s, RetryPoll 300 s): set each one.
    for (const k of [
      'UpdatePollIntervalSeconds',
      'InventoryPollIntervalSeconds',
      'RetryPollIntervalSeconds',
      'RetryPollCount',
      'StateScriptRetryIntervalSeconds',
      'StateScriptRetryTimeoutSeconds',
      'StateScriptTimeoutSeconds',
    ]) {
      expect(typeof conf[k], k).toBe('number');
    }
    expect(JSON.parse(await readFile(join(root, 'etc/vancore/mender-client.json'), 'utf8'))).toEqual({
      flavour: 'mender-update-5',
      version: '5.1.0',
    });
    // auto finds the same client: nothing to change.
    expect(await deviceInstall(opts(root))).toEqual([]);
    await deviceUninstall({ paths: hostPaths(root), dryRun: false });
    expect(await snapshot(root)).toEqual(before);
  });

  it('5.x with MENDER_CONF_DIR / MENDER_DATA_DIR: scripts, conf and hooks go there (under the root)', async () => {
    const root = await van(['mender-update', '5.1.0']);
    const before = await snapshot(root);
    const env = { MENDER_CONF_DIR: '/opt/mender/etc', MENDER_DATA_DIR: '/opt/mender/share' };
    await deviceInstall(opts(root, { env }));
    expect((await readdir(join(root, 'opt/mender/etc/scripts'))).sort()).toEqual([
      'ArtifactInstall_Enter_50_vancore-gate',
      'Sync_Leave_50_vancore-gate',
      'version',
    ]);
    expect(await readdir(join(root, 'opt/mender/share/inventory'))).toEqual(['mender-inventory-vancore']);
    const conf = JSON.parse(await readFile(join(root, 'opt/mender/etc/mender.conf'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(conf.ArtifactVerifyKey).toBe('/opt/mender/etc/artifact-verify-key.pem');
    expect(await readFile(join(root, 'opt/mender/etc/artifact-verify-key.pem'), 'utf8')).toContain('PUBLIC KEY');
    // The van's own /etc/mender is left alone.
    expect(await readFile(join(root, 'etc/mender/scripts/version'), 'utf8')).toBe('2\n');
    await deviceUninstall({ paths: hostPaths(root), dryRun: false });
    expect(await snapshot(root)).toEqual(before);
  });

  it('a client change (3.x → 5.x) takes the Download_Enter gate away; uninstall still gives back the original', async () => {
    const root = await van();
    const before = await snapshot(root);
    await deviceInstall(opts(root));
    expect(await readdir(join(root, 'etc/mender/scripts'))).toContain('Download_Enter_50_vancore-gate');
    await rm(join(root, 'usr/bin/mender'));
    await clientBinary(root, 'mender-update', '5.0.1');
    const actions = await deviceInstall(opts(root));
    expect(actions).toContainEqual({ kind: 'remove', dest: '/etc/mender/scripts/Download_Enter_50_vancore-gate' });
    expect((await readdir(join(root, 'etc/mender/scripts'))).sort()).toEqual([
      'ArtifactInstall_Enter_50_vancore-gate',
      'Sync_Leave_50_vancore-gate',
      'version',
    ]);
    await deviceUninstall({ paths: hostPaths(root), dryRun: false });
    await rm(join(root, 'usr/bin/mender-update'));
    await clientBinary(root, 'mender', '3.4.0+ds1-5+b1\truntime: go1.19.8');
    expect(await snapshot(root)).toEqual(before);
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
    [
      'the client is mender-update 5.0.0 (MEN-7900)',
      async (root) => {
        await rm(join(root, 'usr/bin/mender'));
        await clientBinary(root, 'mender-update', '5.0.0');
        return {};
      },
      'mender-update 5.0.0 is not supported: 4.0.x–5.0.0 can stay idle forever after a Sync error (MEN-7900)',
    ],
    [
      'the client is mender-update 4.0.2',
      async (root) => {
        await clientBinary(root, 'mender-update', '4.0.2');
        return {};
      },
      'mender-update 4.0.2 is not supported',
    ],
    // Verify keys the client cannot use (issue #16 item 9); the mender 3.4 rules are from its vendored
    // mender-artifact artifact/signer.go (RSA or ECDSA P-256 only), see verifyKeyProblem.
    [
      'the verify key is Ed25519 and the client mender 3.4',
      () => Promise.resolve({ verifyKey: keys.ed25519 }),
      'ed25519.pub: mender 3.x cannot verify artifacts with an Ed25519 key (RSA and ECDSA P-256 only)',
    ],
    [
      'the verify key is ECDSA P-384 and the client mender 3.4',
      () => Promise.resolve({ verifyKey: keys.p384 }),
      'mender 3.x verifies ECDSA signatures on P-256 only, not secp384r1',
    ],
    [
      'the verify key is RSA 1024',
      () => Promise.resolve({ verifyKey: keys.rsa1024 }),
      'an RSA key of 1024 bits is too weak to sign releases',
    ],
    [
      'the verify key is RSA 1024 and the client mender-update 5.1.0',
      async (root) => {
        await rm(join(root, 'usr/bin/mender'));
        await clientBinary(root, 'mender-update', '5.1.0');
        return { verifyKey: keys.rsa1024 };
      },
      'an RSA key of 1024 bits is too weak to sign releases',
    ],
    [
      'the verify key is a PEM that does not parse',
      async () => {
        const bad = join(work, 'truncated.pub');
        await writeFile(
          bad,
          '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n',
        );
        return { verifyKey: bad };
      },
      'truncated.pub: not a readable public key',
    ],
    [
      '--client 5 but only mender 3.x is there',
      () => Promise.resolve({ client: 'mender-update-5' as const, runner: noHostClient }),
      'no mender-update found under',
    ],
  ])('refuses when %s, changing nothing', async (_what, setup, message) => {
    const root = await van();
    const over = await setup(root);
    const before = await snapshot(root);
    await expect(deviceInstall(opts(root, over))).rejects.toThrow(message);
    expect(await snapshot(root)).toEqual(before);
  });

  it.each([
    ['mender-3', 'rsa2048'],
    ['mender-update-5', 'ed25519'],
    ['mender-update-5', 'p384'],
  ] as const)('%s accepts a %s verify key', async (flavour, kind) => {
    const root = await van(flavour === 'mender-3' ? undefined : ['mender-update', '5.1.0']);
    await deviceInstall(opts(root, { verifyKey: keys[kind] }));
    expect(await readFile(join(root, 'etc/mender/artifact-verify-key.pem'), 'utf8')).toBe(
      await readFile(keys[kind], 'utf8'),
    );
  });

  it('the CLI: a verify key the client cannot use is one line, exit non-zero, nothing written', async () => {
    const root = await van();
    const before = await snapshot(root);
    const r = runCli(['device', 'install', '--root', root, '--from', kit, '--verify-key', keys.ed25519]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `vancore-ota device install: --verify-key ${keys.ed25519}: mender 3.x cannot verify artifacts with an Ed25519 key (RSA and ECDSA P-256 only): use an ECDSA P-256 or RSA ≥ 2048 key, or mender-update 5.x\n`,
    );
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

  it('the CLI: a missing or unusable --root, or a bad --client, is one clear line', async () => {
    const missing = join(work, 'no-such-root');
    for (const args of [
      ['device', 'install', '--root', missing, '--from', kit, '--allow-unsigned'],
      ['device', 'uninstall', '--root', missing],
    ]) {
      const r = runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`vancore-ota device ${args[1]}: --root ${missing}: no such directory\n`);
    }
    const file = join(work, 'ci.pub');
    const notDir = runCli(['device', 'install', '--root', file, '--from', kit, '--allow-unsigned']);
    expect([notDir.code, notDir.stderr]).toEqual([2, `vancore-ota device install: --root ${file}: not a directory\n`]);
    const root = await van();
    const bad = runCli(['device', 'install', '--root', root, '--from', kit, '--client', '4']);
    expect([bad.code, bad.stderr]).toEqual([2, "vancore-ota device install: --client must be auto, 3 or 5, got '4'\n"]);
    // An unwritable place inside the root (a read-only bind mount would do the same): no internal error.
    await rm(join(root, 'usr/share/mender/modules'), { recursive: true, force: true });
    await writeFile(join(root, 'usr/share/mender/modules'), 'a file where a folder must be\n');
    const blocked = runCli(['device', 'install', '--root', root, '--from', kit, '--allow-unsigned']);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(
      /^client: mender 3\.4\.0\+ds1-5\+b1 \(mender-3\)\nvancore-ota device install: cannot .*usr\/share\/mender\/modules.*: E[A-Z]+\n$/,
    );
  });
});
