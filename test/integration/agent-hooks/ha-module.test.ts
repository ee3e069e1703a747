// vancore-ha as a real process against the Supervisor stand-in (test/ha-supervisor/standin.ts, which
// answers as the Supervisor's docs and code say; docs/home-assistant.md lists what it follows):
// an update that succeeds, an add-on that fails to start (its backup restored, the old version running),
// a Supervisor that is down (clean failure, nothing changed), and kill -9 in the middle of an update
// (old or new after recovery, never a mix).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_INDEX_FILE } from '../../../core/schemas/payload-index.js';
import { addon, startHaStandin, type Standin, type StandinAddon } from '../../ha-supervisor/standin.js';
import { copyBuiltHooks } from './support/bundles.js';
import { makeTree, runModule, type ModuleRun } from './support/payload.js';
import { registerSecret } from '../../helpers/output-capture.js';

const SUP_TOKEN = registerSecret('Supervisor token', 'sup-token-for-tests');
let work: string;
let mod: string;
let inventory: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-ha-it-'));
  const hooks = await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-ha', 'inventory/mender-inventory-vancore']);
  mod = hooks['modules/vancore-ha'];
  inventory = hooks['inventory/mender-inventory-vancore'];
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Van {
  root: string;
  state: string;
  env: NodeJS.ProcessEnv;
  sv: Standin;
}

async function newVan(
  addons: StandinAddon[],
  o: { crashing?: Record<string, string[]>; jobMs?: number; url?: string } = {},
): Promise<Van> {
  const sv = await startHaStandin({ supervisorToken: SUP_TOKEN, coreToken: 'core', addons, ...o });
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(join(root, 'etc/vancore/supervisor-token'), `${SUP_TOKEN}\n`, { mode: 0o600 });
  // JSON is YAML: the module reads ota.yaml through the same loader as every device executable.
  await writeFile(
    join(root, 'etc/vancore/ota.yaml'),
    JSON.stringify({
      ha_supervisor: {
        url: o.url ?? sv.url,
        token_file: '/etc/vancore/supervisor-token',
        start_timeout_seconds: 3,
        settle_seconds: 0.3,
        poll_interval_seconds: 0.05,
      },
    }),
  );
  return { root, state: join(root, 'var/lib/vancore-ota'), env: { VANCORE_OTA_ROOT: root }, sv };
}

function haTree(parent: string, version: string, addons: { slug: string; version: string; health_url?: string }[]) {
  return makeTree(parent, {
    artifactName: `vancore-ha_addons-${version}`,
    metaData: { vancore: { component: 'ha_addons', version } },
    files: {
      [PAYLOAD_INDEX_FILE]: JSON.stringify({ format: 1, type: 'vancore-ha', component: 'ha_addons', version, addons }),
    },
  });
}

const readJson = async (p: string): Promise<unknown> => JSON.parse(await readFile(p, 'utf8')) as unknown;
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const view = (sv: Standin, slug: string) => {
  const a = sv.addons.get(slug);
  return a && { version: a.version, state: a.state, data: a.data };
};

async function expectOk(run: Promise<ModuleRun>): Promise<ModuleRun> {
  const r = await run;
  expect(r.stderr.split('\n').filter((l) => l.includes('failed'))).toEqual([]);
  expect(r.code).toBe(0);
  return r;
}

describe('vancore-ha update module', () => {
  it('answers the protocol questions without a config', async () => {
    const tree = await haTree(work, '1.0.0', [{ slug: 'core_mosquitto', version: '6.4.1' }]);
    expect((await runModule(mod, 'SupportsRollback', tree, {})).stdout).toBe('Yes\n');
    expect((await runModule(mod, 'NeedsArtifactReboot', tree, {})).stdout).toBe('No\n');
  });

  it('backs up, updates and verifies each add-on; commit records vancore.ha_addons.version', async () => {
    const van = await newVan([
      addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' }),
      addon('a0d7b954_nodered', '17.0.0', { version_latest: '18.0.1' }),
    ]);
    try {
      const tree = await haTree(van.root, '2.0.0', [
        { slug: 'core_mosquitto', version: '6.4.1' },
        { slug: 'a0d7b954_nodered', version: '18.0.1', health_url: `${van.sv.url}/supervisor/ping` },
      ]);
      await expectOk(runModule(mod, 'ArtifactInstall', tree, van.env));
      expect(view(van.sv, 'core_mosquitto')).toMatchObject({ version: '6.4.1', state: 'started' });
      expect(view(van.sv, 'a0d7b954_nodered')).toMatchObject({ version: '18.0.1', state: 'started' });
      // One partial backup per add-on, taken before its update, named for the deployment.
      const backups = [...van.sv.backups.values()].map((b) => ({ name: b.name, addons: b.content.addons }));
      expect(backups).toEqual([
        { name: 'vancore vancore-ha_addons-2.0.0 core_mosquitto 6.4.0', addons: ['core_mosquitto'] },
        { name: 'vancore vancore-ha_addons-2.0.0 a0d7b954_nodered 17.0.0', addons: ['a0d7b954_nodered'] },
      ]);
      const order = van.sv.requests.filter((r) => r.startsWith('POST'));
      expect(order).toEqual([
        'POST /backups/new/partial',
        'POST /store/addons/core_mosquitto/update',
        'POST /backups/new/partial',
        'POST /store/addons/a0d7b954_nodered/update',
      ]);
      expect(await exists(join(van.state, 'versions.json'))).toBe(false);
      await expectOk(runModule(mod, 'ArtifactCommit', tree, van.env));
      expect(await readJson(join(van.state, 'versions.json'))).toEqual({ ha_addons: '2.0.0' });
      expect(await readJson(join(van.state, 'last-update.json'))).toMatchObject({
        status: 'success',
        version: '2.0.0',
      });
      // The inventory script reports what the module recorded (Mender runs it with no arguments).
      const inv = await runModule(inventory, '', van.root, van.env);
      expect(inv.stdout.split('\n')).toEqual(
        expect.arrayContaining(['vancore.ha_addons.version=2.0.0', 'vancore.health.last_update_status=success']),
      );
      // A repeated commit (the client's commit was cut after ours) changes nothing.
      await expectOk(runModule(mod, 'ArtifactCommit', tree, van.env));
    } finally {
      await van.sv.close();
    }
  });

  it('an add-on that fails to start: the install fails, the rollback restores its backup and the old version runs', async () => {
    const van = await newVan([addon('core_zigbee2mqtt', '1.40.0', { version_latest: '1.41.0' })], {
      crashing: { core_zigbee2mqtt: ['1.41.0'] },
    });
    try {
      const tree = await haTree(van.root, '3.0.0', [{ slug: 'core_zigbee2mqtt', version: '1.41.0' }]);
      const r = await runModule(mod, 'ArtifactInstall', tree, van.env);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').pop()).toBe(
        'vancore-ha: ArtifactInstall failed: core_zigbee2mqtt 1.41.0 failed to start (state error)',
      );
      expect(view(van.sv, 'core_zigbee2mqtt')).toMatchObject({ version: '1.41.0', state: 'error' });
      // What the client does next (SupportsRollback = Yes): ArtifactRollback, then ArtifactFailure.
      await expectOk(runModule(mod, 'ArtifactRollback', tree, van.env));
      await expectOk(runModule(mod, 'ArtifactFailure', tree, van.env));
      expect(view(van.sv, 'core_zigbee2mqtt')).toEqual({
        version: '1.40.0',
        state: 'started',
        data: 'core_zigbee2mqtt data at 1.40.0',
      });
      expect(van.sv.requests).toContain(`POST /backups/${[...van.sv.backups.keys()][0]}/restore/partial`);
      expect(await exists(join(van.state, 'versions.json'))).toBe(false);
      expect(await readJson(join(van.state, 'last-update.json'))).toMatchObject({
        status: 'rolled_back',
        detail: 'core_zigbee2mqtt 1.41.0 failed to start (state error)',
      });
    } finally {
      await van.sv.close();
    }
  });

  it('Supervisor down: the install fails with one line before anything changes', async () => {
    const gone = await startHaStandin({ supervisorToken: SUP_TOKEN, coreToken: 'core' });
    const deadUrl = gone.url;
    await gone.close();
    const van = await newVan([addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' })], { url: deadUrl });
    try {
      const tree = await haTree(van.root, '2.0.0', [{ slug: 'core_mosquitto', version: '6.4.1' }]);
      const r = await runModule(mod, 'ArtifactInstall', tree, van.env);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').pop()).toBe(
        `vancore-ha: ArtifactInstall failed: Supervisor unreachable at ${deadUrl} (GET /supervisor/ping: ECONNREFUSED)`,
      );
      expect(await exists(van.state)).toBe(false); // no journal, no last-update, no versions
      expect(view(van.sv, 'core_mosquitto')).toMatchObject({ version: '6.4.0', state: 'started' });
      // The client rolls back after a failed install: with nothing begun, that is a no-op.
      await expectOk(runModule(mod, 'ArtifactRollback', tree, van.env));
      expect(await exists(van.state)).toBe(false);
    } finally {
      await van.sv.close();
    }
  });

  it.each([
    ['a wrong token', { token: 'nope' }, 'Supervisor refused the token (GET /addons/core_mosquitto/info: HTTP 401)'],
    [
      'a version the store does not offer',
      { target: '7.0.0' },
      "the add-on store offers core_mosquitto 6.4.1, not 7.0.0 (the Supervisor updates only to the store's version)",
    ],
    [
      'an add-on that is not installed',
      { slug: 'core_nothing' },
      'Supervisor GET /addons/core_nothing/info: Addon core_nothing does not exist (HTTP 404)',
    ],
  ])('%s: one line, nothing changed', async (_name, o: { token?: string; target?: string; slug?: string }, line) => {
    const van = await newVan([addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' })]);
    try {
      if (o.token) await writeFile(join(van.root, 'etc/vancore/supervisor-token'), o.token);
      const tree = await haTree(van.root, '2.0.0', [
        { slug: o.slug ?? 'core_mosquitto', version: o.target ?? '6.4.1' },
      ]);
      const r = await runModule(mod, 'ArtifactInstall', tree, van.env);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').pop()).toBe(`vancore-ha: ArtifactInstall failed: ${line}`);
      expect(van.sv.requests.filter((q) => q.startsWith('POST') && q !== 'POST /store/reload')).toEqual([]);
      expect(await exists(van.state)).toBe(false);
    } finally {
      await van.sv.close();
    }
  });
});

/** Start `ArtifactInstall` and kill -9 it while the Supervisor runs the update job of `slug`. */
async function killMidUpdate(van: Van, tree: string, slug: string): Promise<void> {
  const child = spawn(mod, ['ArtifactInstall', tree], {
    cwd: tree,
    env: { ...process.env, ...van.env },
    stdio: 'ignore',
  });
  const closed = new Promise((r) => child.once('close', r));
  for (;;) {
    if (van.sv.jobs.some((j) => j.name === 'addon_manager_update' && j.reference === slug && !j.done)) break;
    if (child.exitCode !== null) throw new Error(`the module ended before updating ${slug}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await closed;
}

describe('vancore-ha after kill -9 in the middle of an update', () => {
  const before = () => [
    addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' }),
    addon('core_zwave_js', '0.9.0', { version_latest: '0.10.0' }),
  ];
  const targets = [
    { slug: 'core_mosquitto', version: '6.4.1' },
    { slug: 'core_zwave_js', version: '0.10.0' },
  ];

  it('daemon: the client rolls back → every add-on on its old version with its old data', async () => {
    const van = await newVan(before(), { jobMs: 600 });
    try {
      const tree = await haTree(van.root, '2.0.0', targets);
      await killMidUpdate(van, tree, 'core_zwave_js'); // mosquitto already updated, zwave mid-update
      // The Supervisor finishes the job it was given, whatever happened to the caller.
      await expectOk(runModule(mod, 'ArtifactRollback', tree, van.env));
      expect(view(van.sv, 'core_mosquitto')).toEqual({
        version: '6.4.0',
        state: 'started',
        data: 'core_mosquitto data at 6.4.0',
      });
      expect(view(van.sv, 'core_zwave_js')).toEqual({
        version: '0.9.0',
        state: 'started',
        data: 'core_zwave_js data at 0.9.0',
      });
      expect(await readJson(join(van.state, 'last-update.json'))).toMatchObject({ status: 'rolled_back' });
    } finally {
      await van.sv.close();
    }
  });

  it('standalone: the next install recovers to the old versions first, then installs → all new', async () => {
    const van = await newVan(before(), { jobMs: 600 });
    try {
      const tree = await haTree(van.root, '2.0.0', targets);
      await killMidUpdate(van, tree, 'core_mosquitto');
      const r = await expectOk(runModule(mod, 'ArtifactInstall', tree, van.env));
      expect(r.stderr).toContain('was interrupted (installing): rolling it back first');
      await expectOk(runModule(mod, 'ArtifactCommit', tree, van.env));
      expect(view(van.sv, 'core_mosquitto')).toEqual({
        version: '6.4.1',
        state: 'started',
        data: 'core_mosquitto data at 6.4.0; migrated to 6.4.1',
      });
      expect(view(van.sv, 'core_zwave_js')).toMatchObject({ version: '0.10.0', state: 'started' });
      expect(await readJson(join(van.state, 'versions.json'))).toEqual({ ha_addons: '2.0.0' });
    } finally {
      await van.sv.close();
    }
  });
});
