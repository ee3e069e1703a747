// vancore-ha on the real mender-client 3.4 (standalone, sandboxed per RECIPE §3): an artifact built by
// the real packaging command (`vancore-ota artifact build --type ha-addons`), the bundled module
// installed as /usr/share/mender/modules/v3/vancore-ha, and the Supervisor stand-in
// (test/ha-supervisor/standin.ts) on 127.0.0.1. Install + commit (the client records the provide),
// an add-on that fails to start (the client rolls back: the backup is restored), and the Supervisor down.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { addon, startHaStandin, type Standin, type StandinAddon } from '../ha-supervisor/standin.js';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli } from '../unit/mender-artifacts/fixtures.js';
import { systemTest } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';

const TOKEN = 'supervisor-token';
let work: string;
let module: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-ha-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-ha']))['modules/vancore-ha'];
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function haArtifact(version: string, addons: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(work, 'art-'));
  const args = ['build', '--type', 'ha-addons', '--component', 'ha_addons', '--version', version];
  for (const [slug, v] of Object.entries(addons)) args.push('--addon', `${slug}=${v}`);
  const r = await artifactCli([...args, '--device-type', 'vanpc', '--no-gate-scripts', '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, `vancore-ha_addons-${version}.mender`);
}

async function setup(
  bed: { sandbox: () => Promise<Sandbox> },
  addons: StandinAddon[],
  o: { crashing?: Record<string, string[]>; down?: boolean } = {},
): Promise<{ sb: Sandbox; root: string; env: NodeJS.ProcessEnv; sv: Standin }> {
  const sb = await bed.sandbox();
  await sb.installModule('vancore-ha', module);
  const sv = await startHaStandin({ supervisorToken: TOKEN, coreToken: 'core', addons, ...o });
  const url = sv.url;
  if (o.down) await sv.close();
  const root = await mkdtemp(join(work, 'van-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(
    join(root, 'etc/vancore/ota.yaml'),
    JSON.stringify({
      ha_supervisor: { url, start_timeout_seconds: 5, settle_seconds: 0.3, poll_interval_seconds: 0.05 },
    }),
  );
  // A hub inside HA OS gets $SUPERVISOR_TOKEN; the client passes its environment to the module.
  return { sb, root, env: { VANCORE_OTA_ROOT: root, SUPERVISOR_TOKEN: TOKEN }, sv };
}

describe('vancore-ha on the real mender-client (standalone)', () => {
  systemTest('install + commit updates the add-ons; the client records vancore.ha_addons.version', async ({ bed }) => {
    const { sb, root, env, sv } = await setup(bed, [
      addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' }),
      addon('core_matter_server', '5.0.0', { version_latest: '5.1.0' }),
    ]);
    try {
      const art = await haArtifact('2.0.0', { core_mosquitto: '6.4.1', core_matter_server: '5.1.0' });
      const install = await runMender(sb, ['install', art], { env });
      expect(install.rc, install.stderr).toBe(0);
      expect(sv.addons.get('core_mosquitto')).toMatchObject({ version: '6.4.1', state: 'started' });
      expect(sv.addons.get('core_matter_server')).toMatchObject({ version: '5.1.0', state: 'started' });
      expect((await runMender(sb, ['commit'], { env })).rc).toBe(0);
      expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
        ha_addons: '2.0.0',
      });
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('vancore-ha_addons-2.0.0\n');
      expect((await runMender(sb, ['show-provides'], { env })).stdout).toContain('vancore.ha_addons.version=2.0.0');
    } finally {
      await sv.close();
    }
  });

  systemTest('an add-on that fails to start: the client rolls back, the backup is restored', async ({ bed }) => {
    const { sb, env, sv } = await setup(bed, [addon('core_zigbee2mqtt', '1.40.0', { version_latest: '1.41.0' })], {
      crashing: { core_zigbee2mqtt: ['1.41.0'] },
    });
    try {
      const art = await haArtifact('3.0.0', { core_zigbee2mqtt: '1.41.0' });
      const install = await runMender(sb, ['install', art], { env });
      expect(install.rc).toBe(1);
      expect(`${install.stdout}\n${install.stderr}`).toContain(
        'vancore-ha: ArtifactInstall failed: core_zigbee2mqtt 1.41.0 failed to start (state error)',
      );
      expect(sv.addons.get('core_zigbee2mqtt')).toEqual(
        addon('core_zigbee2mqtt', '1.40.0', { version_latest: '1.41.0' }),
      );
      expect(sv.requests.some((r) => /^POST \/backups\/[0-9a-f]+\/restore\/partial$/.test(r))).toBe(true);
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('factory-image\n');
    } finally {
      await sv.close();
    }
  });

  systemTest('the Supervisor down: the install fails cleanly, nothing changed', async ({ bed }) => {
    const { sb, root, env } = await setup(bed, [addon('core_mosquitto', '6.4.0', { version_latest: '6.4.1' })], {
      down: true,
    });
    const art = await haArtifact('2.0.0', { core_mosquitto: '6.4.1' });
    const install = await runMender(sb, ['install', art], { env });
    expect(install.rc).toBe(1);
    expect(`${install.stdout}\n${install.stderr}`).toContain(
      'vancore-ha: ArtifactInstall failed: Supervisor unreachable at',
    );
    expect(
      await stat(join(root, 'var/lib/vancore-ota')).then(
        () => 'written',
        () => 'nothing',
      ),
    ).toBe('nothing');
    expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('factory-image\n');
  });
});
