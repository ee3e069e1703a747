// No downgrades (issue #20 item 4) through the real, bundled module processes on a temp van root:
// vancore-config installs v1 and v2, then the replayed v1, an older version it never ran and an
// artifact without meta-data are refused with one line at Download and again at ArtifactInstall (the
// van untouched), and the explicit revert to v1 is installed. Every other module refuses an older
// artifact at Download the same way.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBuiltHooks } from './support/bundles.js';
import { configTree, makeTree, runModule } from './support/payload.js';

let work: string;
let hooks: Record<
  'modules/vancore-config' | 'modules/vancore-compose' | 'modules/vancore-vpn' | 'modules/vancore-ha',
  string
>;
let fakeBin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-downgrade-it-'));
  hooks = await copyBuiltHooks(join(work, 'hooks'), [
    'modules/vancore-config',
    'modules/vancore-compose',
    'modules/vancore-vpn',
    'modules/vancore-ha',
  ]);
  fakeBin = join(work, 'bin');
  await mkdir(fakeBin);
  await writeFile(join(fakeBin, 'systemctl'), '#!/bin/sh\nexit 0\n');
  await chmod(join(fakeBin, 'systemctl'), 0o755);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function newVan(): Promise<{ root: string; state: string; env: NodeJS.ProcessEnv }> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  return {
    root,
    state: join(root, 'var/lib/vancore-ota'),
    env: { VANCORE_OTA_ROOT: root, PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
  };
}

const hubConf = (root: string) => readFile(join(root, 'etc/vancore/hub.conf'), 'utf8');

/** A config tree for hub.conf; `meta` replaces the header's meta-data (null: none at all). */
async function hubTree(version: string, o: { artifactName?: string; meta?: unknown } = {}): Promise<string> {
  const tree = await configTree(work, {
    version,
    files: { '/etc/vancore/hub.conf': { content: `hub ${version}\n` } },
    ...(o.artifactName ? { artifactName: o.artifactName } : {}),
  });
  if (o.meta === null) await rm(join(tree, 'header/meta-data'));
  else if (o.meta !== undefined) await writeFile(join(tree, 'header/meta-data'), JSON.stringify(o.meta));
  return tree;
}

async function installAndCommit(tree: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const state of ['Download', 'ArtifactInstall', 'ArtifactCommit', 'Cleanup']) {
    const r = await runModule(hooks['modules/vancore-config'], state, tree, env);
    expect(r.code, `${state}: ${r.stderr}`).toBe(0);
  }
}

const versions = async (state: string) => JSON.parse(await readFile(join(state, 'versions.json'), 'utf8')) as unknown;

describe('no downgrades through the real module processes', () => {
  it('vancore-config: v1, v2; the replayed v1 and an older unknown version are refused; the signed revert lands', async () => {
    const van = await newVan();
    await installAndCommit(await hubTree('1.0.0'), van.env);
    await installAndCommit(await hubTree('2.0.0'), van.env);
    expect(await versions(van.state)).toEqual({ config: '2.0.0' });

    const refusals: [string, string, string][] = [
      [
        'the replayed v1',
        await hubTree('1.0.0'),
        'artifact_replayed: vancore-config-1.0.0 (config 1.0.0) was installed on this van at ',
      ],
      [
        'an older version never installed here',
        await hubTree('0.9.0'),
        'downgrade_refused: vancore-config-0.9.0 would take config back from 2.0.0 to 0.9.0; only a signed revert artifact (artifact build --revert-of 2.0.0) may take config back',
      ],
      [
        'a revert of a version this van does not run',
        await hubTree('1.0.0', {
          artifactName: 'vancore-config-1.0.0-revert-1.5.0',
          meta: { vancore: { component: 'config', version: '1.0.0', revert_of: '1.5.0' } },
        }),
        'downgrade_refused: vancore-config-1.0.0-revert-1.5.0 reverts config from 1.5.0, but this van runs 2.0.0: refusing to go back to 1.0.0',
      ],
    ];
    const history = await readFile(join(van.state, 'install-history.json'), 'utf8');
    for (const [what, tree, line] of refusals) {
      for (const state of ['Download', 'ArtifactInstall']) {
        const r = await runModule(hooks['modules/vancore-config'], state, tree, van.env);
        expect(r.code, `${what} at ${state}`).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines, `${what} at ${state}`).toHaveLength(1);
        expect(lines[0]).toContain(`vancore-config: ${state} failed: ${line}`);
      }
      // What the client calls after a refused ArtifactInstall changes nothing either.
      for (const state of ['ArtifactRollback', 'ArtifactFailure', 'Cleanup']) {
        expect((await runModule(hooks['modules/vancore-config'], state, tree, van.env)).code).toBe(0);
      }
      expect(await hubConf(van.root)).toBe('hub 2.0.0\n');
      expect(await versions(van.state)).toEqual({ config: '2.0.0' });
      expect(await readFile(join(van.state, 'install-history.json'), 'utf8')).toBe(history);
    }
    expect(JSON.parse(await readFile(join(van.state, 'last-update.json'), 'utf8'))).toMatchObject({
      status: 'failure',
      artifact_name: 'vancore-config-1.0.0-revert-1.5.0',
      detail: expect.stringMatching(/^downgrade_refused: /) as unknown,
    });

    // Without meta-data the Download cannot tell; ArtifactInstall refuses by the payload index.
    const bare = await hubTree('0.8.0', { meta: null });
    expect((await runModule(hooks['modules/vancore-config'], 'Download', bare, van.env)).code).toBe(0);
    const install = await runModule(hooks['modules/vancore-config'], 'ArtifactInstall', bare, van.env);
    expect(install.code).toBe(1);
    expect(install.stderr).toContain('vancore-config: ArtifactInstall failed: downgrade_refused: vancore-config-0.8.0');
    expect(await hubConf(van.root)).toBe('hub 2.0.0\n');

    const revert = await hubTree('1.0.0', {
      artifactName: 'vancore-config-1.0.0-revert-2.0.0',
      meta: { vancore: { component: 'config', version: '1.0.0', revert_of: '2.0.0' } },
    });
    await installAndCommit(revert, van.env);
    expect(await hubConf(van.root)).toBe('hub 1.0.0\n');
    expect(await versions(van.state)).toEqual({ config: '1.0.0' });
    const doc = JSON.parse(await readFile(join(van.state, 'install-history.json'), 'utf8')) as {
      entries: { artifact_name: string; revert_of?: string }[];
    };
    expect(doc.entries.map((e) => [e.artifact_name, e.revert_of ?? null])).toEqual([
      ['vancore-config-1.0.0', null],
      ['vancore-config-2.0.0', null],
      ['vancore-config-1.0.0-revert-2.0.0', '2.0.0'],
    ]);
  });

  it.each([
    ['vancore-compose', 'platform'],
    ['vancore-vpn', 'vpn'],
    ['vancore-ha', 'ha_addons'],
  ] as const)('%s refuses an older %s artifact at Download, before anything is stored', async (type, component) => {
    const van = await newVan();
    await mkdir(van.state, { recursive: true });
    await writeFile(join(van.state, 'versions.json'), JSON.stringify({ [component]: '3.0.0' }));
    const tree = await makeTree(work, {
      artifactName: `vancore-${component}-2.9.0`,
      metaData: { vancore: { component, version: '2.9.0' } },
      files: {},
    });
    const r = await runModule(hooks[`modules/${type}`], 'Download', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `${type}: Download failed: downgrade_refused: vancore-${component}-2.9.0 would take ${component} back from 3.0.0 to 2.9.0; only a signed revert artifact (artifact build --revert-of 3.0.0) may take ${component} back\n`,
    );
    const newer = await makeTree(work, {
      artifactName: `vancore-${component}-3.1.0`,
      metaData: { vancore: { component, version: '3.1.0' } },
      files: {},
    });
    const ok = await runModule(hooks[`modules/${type}`], 'Download', newer, van.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
  });
});
