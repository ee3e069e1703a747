// Issue #16 item 10 (MEN-9109): before mender-update 5.0.4 a payload file that is not in the signed
// manifest was not refused [research/anchors-2026.md: mender 5.0.4 "Return an error when artifact payload
// contains files not present in the manifest"]; such a file lands in the module tree's files/ beside the
// signed ones. Our update modules install only what the signed payload index lists, so a file it does not
// list means a tampered artifact: each module refuses it at ArtifactInstall, with one line, and the van
// is unchanged. (The real artifact, built and tampered with mender-artifact + tar, is refused by
// `artifact verify` in test/system/artifact-unlisted-file.test.ts.)
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_INDEX_FILE } from '../../../core/schemas/payload-index.js';
import { copyBuiltHooks } from './support/bundles.js';
import { composeTree, configTree, makeTree, runModule } from './support/payload.js';

let work: string;
let modules: Record<string, string>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-unlisted-'));
  modules = await copyBuiltHooks(join(work, 'hooks'), [
    'modules/vancore-config',
    'modules/vancore-compose',
    'modules/vancore-vpn',
  ]);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function snapshot(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const st = await lstat(join(dir, rel));
    if (st.isDirectory()) Object.assign(out, { [rel]: 'dir' }, await snapshot(dir, rel));
    else out[rel] = st.isFile() ? (await readFile(join(dir, rel))).toString('hex') : 'link';
  }
  return out;
}

async function van(): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(join(root, 'etc/vancore/hub.conf'), 'old\n');
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
  return { root, env: { VANCORE_OTA_ROOT: root, PATH: process.env.PATH ?? '/usr/bin:/bin' } };
}

const trees: Record<string, () => Promise<string>> = {
  'vancore-config': () =>
    configTree(work, { version: '1.6.0', files: { '/etc/vancore/hub.conf': { content: 'new\n' } } }),
  'vancore-compose': () => composeTree(work, { version: '0.9.3', bundle: { 'docker-compose.yml': 'services: {}\n' } }),
  'vancore-vpn': () =>
    makeTree(work, {
      artifactName: 'vancore-vpn-1.0.0-verify',
      metaData: { vancore: { component: 'vpn', version: '1.0.0' } },
      files: {
        [PAYLOAD_INDEX_FILE]: JSON.stringify({
          format: 1,
          type: 'vancore-vpn',
          component: 'vpn',
          version: '1.0.0',
          step: 'verify',
          login_server: 'https://headscale.example.com',
          authkey: null,
        }),
      },
    }),
};

describe('update modules refuse a payload file the signed index does not list (MEN-9109)', () => {
  it.each(Object.keys(trees))('%s: refused at ArtifactInstall, one line, nothing changed', async (name) => {
    const v = await van();
    const before = await snapshot(v.root);
    const tree = await trees[name]!();
    await writeFile(join(tree, 'files', 'zz-smuggled.sh'), '#!/bin/sh\ntouch /pwned\n');
    const r = await runModule(modules[`modules/${name}`]!, 'ArtifactInstall', tree, v.env);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `${name}: ArtifactInstall failed: payload file 'zz-smuggled.sh' is not in the signed ${PAYLOAD_INDEX_FILE}: refusing a tampered artifact`,
    );
    expect((await runModule(modules[`modules/${name}`]!, 'ArtifactFailure', tree, v.env)).code).toBe(0);
    // The module's own records may note the failed attempt; nothing of the van's changed.
    const after = await snapshot(v.root);
    for (const k of Object.keys(after)) if (k.startsWith('var')) delete after[k];
    expect(after).toEqual(before);
  });
});
