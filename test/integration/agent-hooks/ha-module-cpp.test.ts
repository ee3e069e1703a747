// vancore-ha under the C++ client's call order (mender-update 5.1, standalone), as a model that
// follows ../shared/mender-client/RECIPE-current.md §3.1 row by row (no C++ client is installed here):
//   install : M:ProvidePayloadFileSizes → M:Download → M:ArtifactInstall → M:NeedsArtifactReboot → M:SupportsRollback
//   commit  : M:ArtifactCommit → M:Cleanup
//   ArtifactInstall fails (the "ArtifactInstall_Enter exit 1" row; that the module's own failure takes the same
//   chain is an inference, not a measured row):
//             M:SupportsRollback → M:ArtifactRollback → M:ArtifactFailure → M:Cleanup
// Each call is the real bundled module, against the Supervisor stand-in.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_INDEX_FILE } from '../../../core/schemas/payload-index.js';
import { addon, startHaStandin, type StandinAddon } from '../../ha-supervisor/standin.js';
import { copyBuiltHooks } from './support/bundles.js';
import { makeTree, runModule } from './support/payload.js';

const TOKEN = 'sup';
let work: string;
let mod: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-ha-cpp-'));
  mod = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-ha']))['modules/vancore-ha'];
}, 60_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The C++ client's standalone `install`: the module calls in its order; stops at the first failure. */
async function cppInstall(tree: string, env: NodeJS.ProcessEnv): Promise<{ rc: number; calls: string[] }> {
  const calls: string[] = [];
  for (const state of ['ProvidePayloadFileSizes', 'Download', 'ArtifactInstall', 'NeedsArtifactReboot']) {
    const r = await runModule(mod, state, tree, env);
    calls.push(`${state}=${r.code}${r.stdout ? `:${r.stdout.trim()}` : ''}`);
    if (r.code !== 0) {
      for (const s of ['SupportsRollback', 'ArtifactRollback', 'ArtifactFailure', 'Cleanup']) {
        const f = await runModule(mod, s, tree, env);
        calls.push(`${s}=${f.code}${f.stdout ? `:${f.stdout.trim()}` : ''}`);
      }
      return { rc: 1, calls };
    }
  }
  const s = await runModule(mod, 'SupportsRollback', tree, env);
  calls.push(`SupportsRollback=${s.code}:${s.stdout.trim()}`);
  return { rc: 0, calls };
}

async function setup(addons: StandinAddon[], crashing?: Record<string, string[]>) {
  const sv = await startHaStandin({
    supervisorToken: TOKEN,
    coreToken: 'c',
    addons,
    ...(crashing ? { crashing } : {}),
  });
  const root = await mkdtemp(join(work, 'van-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(
    join(root, 'etc/vancore/ota.yaml'),
    JSON.stringify({
      ha_supervisor: { url: sv.url, settle_seconds: 0.2, poll_interval_seconds: 0.05, start_timeout_seconds: 3 },
    }),
  );
  const tree = await makeTree(root, {
    artifactName: 'vancore-ha_addons-2.0.0',
    metaData: { vancore: { component: 'ha_addons', version: '2.0.0' } },
    files: {
      [PAYLOAD_INDEX_FILE]: JSON.stringify({
        format: 1,
        type: 'vancore-ha',
        component: 'ha_addons',
        version: '2.0.0',
        addons: addons.map((a) => ({ slug: a.slug, version: a.version_latest })),
      }),
    },
  });
  return { sv, root, tree, env: { VANCORE_OTA_ROOT: root, SUPERVISOR_TOKEN: TOKEN } };
}

describe('vancore-ha in the C++ client model (RECIPE-current §3.1)', () => {
  it('install, then commit: new versions, the version recorded', async () => {
    const { sv, root, tree, env } = await setup([addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' })]);
    try {
      const i = await cppInstall(tree, env);
      // ProvidePayloadFileSizes is not a v3 query this module answers: no output (the client then streams as before).
      expect(i).toEqual({
        rc: 0,
        calls: [
          'ProvidePayloadFileSizes=0',
          'Download=0',
          'ArtifactInstall=0',
          'NeedsArtifactReboot=0:No',
          'SupportsRollback=0:Yes',
        ],
      });
      for (const s of ['ArtifactCommit', 'Cleanup']) expect((await runModule(mod, s, tree, env)).code).toBe(0);
      expect(sv.addons.get('core_mosquitto')).toMatchObject({ version: '6.4.1', state: 'started' });
      expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
        ha_addons: '2.0.0',
      });
    } finally {
      await sv.close();
    }
  });

  it('an add-on that fails to start: the failure chain restores the backup', async () => {
    const before = addon('core_zigbee2mqtt', '1.40.0', { version_latest: '1.41.0' });
    const { sv, tree, env } = await setup([before], { core_zigbee2mqtt: ['1.41.0'] });
    try {
      const i = await cppInstall(tree, env);
      expect(i).toEqual({
        rc: 1,
        calls: [
          'ProvidePayloadFileSizes=0',
          'Download=0',
          'ArtifactInstall=1',
          'SupportsRollback=0:Yes',
          'ArtifactRollback=0',
          'ArtifactFailure=0',
          'Cleanup=0',
        ],
      });
      expect(sv.addons.get('core_zigbee2mqtt')).toEqual(before);
    } finally {
      await sv.close();
    }
  });
});
