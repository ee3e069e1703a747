import { describe, expect, it } from 'vitest';
import {
  checkNode,
  describeAction,
  desiredFiles,
  inClientDirs,
  mergeMenderConf,
  requestedFlavour,
  planInstall,
  planUninstall,
  sha256,
  type InstallFacts,
  type InstallManifest,
} from '../../../agent-hooks/installer/plan.js';

const kit = [
  { rel: 'mender-scripts/Download_Enter_50_vancore-gate', content: Buffer.from('gate') },
  { rel: 'modules/vancore-compose', content: Buffer.from('compose') },
  { rel: 'identity/mender-device-identity', content: Buffer.from('id') },
  { rel: 'inventory/mender-inventory-vancore', content: Buffer.from('inv') },
  { rel: 'systemd/vancore-sensord.service', content: Buffer.from('[Unit]') },
  { rel: 'vancore-sensord.js', content: Buffer.from('sensord') },
  { rel: 'package.json', content: Buffer.from('{}') },
  { rel: 'mender/mender.conf.fragment.json', content: Buffer.from('{}') },
  { rel: 'mender-scripts/Sync_Leave_50_vancore-gate', content: Buffer.from('gate 5') },
];

describe('desiredFiles', () => {
  it('maps the kit onto the van (and nothing else)', () => {
    expect(desiredFiles(kit, Buffer.from('KEY')).map((f) => [f.dest, f.mode.toString(8)])).toEqual([
      ['/etc/mender/artifact-verify-key.pem', '644'],
      ['/etc/mender/scripts/Download_Enter_50_vancore-gate', '755'],
      ['/etc/mender/scripts/version', '644'],
      ['/etc/systemd/system/vancore-sensord.service', '644'],
      ['/usr/lib/vancore-ota/bin/vancore-sensord.js', '755'],
      ['/usr/share/mender/identity/mender-device-identity', '755'],
      ['/usr/share/mender/inventory/mender-inventory-vancore', '755'],
      ['/usr/share/mender/modules/v3/vancore-compose', '755'],
    ]);
  });
});

const facts = (over: Partial<InstallFacts> = {}): InstallFacts => ({
  desired: desiredFiles(kit.slice(0, 2), null),
  menderKeys: { StateScriptRetryIntervalSeconds: 30 },
  existing: {},
  menderConf: '{"ServerURL":"https://mender.example","StateScriptRetryIntervalSeconds":60}',
  missingDirs: [],
  manifest: null,
  ...over,
});

describe('per client (core/schemas/client.ts NOT_NOW_STATE)', () => {
  const scripts = (files: { dest: string }[]) => files.map((f) => f.dest).filter((d) => d.includes('/scripts/'));
  it.each([
    ['mender-3', '3.4.0+ds1-5+b1', '/etc/mender/scripts/Download_Enter_50_vancore-gate'],
    ['mender-update-5', '5.1.0', '/etc/mender/scripts/Sync_Leave_50_vancore-gate'],
  ] as const)('%s gets only its own download gate and a client record', (flavour, version, gate) => {
    const files = desiredFiles(kit, null, { flavour, version });
    expect(scripts(files)).toEqual([gate, '/etc/mender/scripts/version']);
    const record = files.find((f) => f.dest === '/etc/vancore/mender-client.json');
    expect(JSON.parse(record?.content.toString() ?? '')).toEqual({ flavour, version });
  });

  it('moves /etc/mender and /usr/share/mender paths into MENDER_CONF_DIR / MENDER_DATA_DIR', () => {
    const dirs = { conf: '/c', data: '/d' };
    expect(inClientDirs('/etc/mender/scripts/x', dirs)).toBe('/c/scripts/x');
    expect(inClientDirs('/etc/mender', dirs)).toBe('/c');
    expect(inClientDirs('/usr/share/mender/modules/v3/m', dirs)).toBe('/d/modules/v3/m');
    expect(inClientDirs('/etc/menderx/y', dirs)).toBe('/etc/menderx/y');
    expect(inClientDirs('/etc/systemd/system/u', dirs)).toBe('/etc/systemd/system/u');
  });

  it.each([
    ['auto', 'auto'],
    ['3', 'mender-3'],
    ['5', 'mender-update-5'],
    ['4', undefined],
    ['mender', undefined],
  ])('--client %s → %s', (text, want) => {
    expect(requestedFlavour(text)).toBe(want);
  });
});

describe('planInstall', () => {
  it('backs up what it replaces, merges mender.conf keys and remembers their old values', () => {
    const actions = planInstall(
      facts({
        existing: { '/etc/mender/scripts/version': { sha256: sha256('2\n'), mode: 0o644 } },
        missingDirs: ['/var/lib/vancore-ota'],
      }),
    );
    expect(actions.map(describeAction)).toEqual([
      'mkdir   /var/lib/vancore-ota',
      'install /etc/mender/scripts/Download_Enter_50_vancore-gate (0755) from mender-scripts/Download_Enter_50_vancore-gate',
      'backup  /etc/mender/scripts/version',
      'install /etc/mender/scripts/version (0644) from (generated)',
      'install /usr/share/mender/modules/v3/vancore-compose (0755) from modules/vancore-compose',
      'backup  /etc/mender/mender.conf',
      'merge   /etc/mender/mender.conf: StateScriptRetryIntervalSeconds',
    ]);
    const merge = actions.at(-1);
    expect(merge).toMatchObject({ keys: { StateScriptRetryIntervalSeconds: { had: true, before: 60 } } });
  });

  it('is idempotent: nothing to do when the van already matches the manifest', () => {
    const f = facts();
    const desired = f.desired;
    const text = mergeMenderConf(f.menderConf, f.menderKeys);
    const manifest: InstallManifest = {
      format: 1,
      installed_at: '2026-11-22T10:00:00Z',
      entries: [
        ...desired.map((d) => ({ dest: d.dest, kind: 'file' as const, sha256: sha256(d.content), existed: false })),
        { dest: '/etc/mender/mender.conf', kind: 'json-merge', sha256: sha256(text), existed: true, backup: '1' },
      ],
      dirs: [],
    };
    const existing = Object.fromEntries(desired.map((d) => [d.dest, { sha256: sha256(d.content), mode: d.mode }]));
    expect(planInstall({ ...f, existing, menderConf: text, manifest })).toEqual([]);
  });
});

describe('planUninstall', () => {
  const manifest: InstallManifest = {
    format: 1,
    installed_at: '2026-11-22T10:00:00Z',
    entries: [
      {
        dest: '/etc/mender/scripts/version',
        kind: 'file',
        sha256: 'x',
        existed: true,
        backup: '0-a',
        mode_before: 0o600,
      },
      { dest: '/usr/share/mender/modules/v3/vancore-compose', kind: 'file', sha256: 'y', existed: false },
      {
        dest: '/etc/mender/mender.conf',
        kind: 'json-merge',
        sha256: sha256('ours'),
        existed: true,
        backup: '1-b',
        keys: { A: { had: true, before: 1 }, B: { had: false } },
      },
    ],
    dirs: ['/usr/lib/vancore-ota', '/usr/lib/vancore-ota/bin'],
  };
  const present = (sha: string) => ({ sha256: sha, mode: 0o644 });

  it('restores backups, removes additions, then the directories it made (deepest first)', () => {
    const actions = planUninstall(
      manifest,
      {
        '/etc/mender/scripts/version': present('x'),
        '/usr/share/mender/modules/v3/vancore-compose': present('y'),
        '/etc/mender/mender.conf': present(sha256('ours')),
      },
      'ours',
    );
    expect(actions.map(describeAction)).toEqual([
      'restore /etc/mender/mender.conf',
      'remove  /usr/share/mender/modules/v3/vancore-compose',
      'restore /etc/mender/scripts/version',
      'remove  /var/lib/vancore-ota/device-install',
      'rmdir   /usr/lib/vancore-ota/bin',
      'rmdir   /usr/lib/vancore-ota',
    ]);
  });

  it('a mender.conf edited since install keeps the edits: only install’s keys go back', () => {
    const conf = JSON.stringify({ ServerURL: 'https://new', A: 30, B: true });
    const actions = planUninstall(manifest, { '/etc/mender/mender.conf': present(sha256(conf)) }, conf);
    const revert = actions.find((a) => a.kind === 'revert-json');
    expect(revert && JSON.parse(revert.text)).toEqual({ ServerURL: 'https://new', A: 1 });
  });
});

describe('checkNode', () => {
  it.each<[string | null, string | null]>([
    ['v20.20.2', null],
    ['v22.1.0', null],
    ['v18.19.1', 'Node.js v18.19.1 is too old: the VanCore hooks need Node.js >= 20'],
    [null, 'Node.js is not installed (no `node` in PATH): the VanCore hooks need Node.js >= 20'],
    ['garbage', "cannot read the Node.js version from 'garbage'"],
  ])('%s', (v, want) => {
    expect(checkNode(v)).toBe(want);
  });
});

describe('mergeMenderConf', () => {
  it('keeps other keys and rejects a mender.conf that is not a JSON object', () => {
    expect(JSON.parse(mergeMenderConf('{"ServerURL":"x","A":1}', { A: 2 }))).toEqual({ ServerURL: 'x', A: 2 });
    expect(JSON.parse(mergeMenderConf(null, { A: 2 }))).toEqual({ A: 2 });
    expect(() => mergeMenderConf('[1]', {})).toThrow('not a JSON object');
  });
});
