// vancore-compose on the real mender-client 3.4 with a real (private) dockerd: artifacts built by
// `vancore-ota artifact build --type compose` from bundle directories, installed by the client
// through the bundled module. Standalone: v1 → v2 with a failing healthcheck → back to v1 serving;
// then v1 → v2. Managed (daemon + simulator): kill -9 of the client (and the module: a power cut) at
// a module phase, restart the daemon, and the van ends on v1 — never a mix.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { IMAGE, composeYaml, freePort, served } from '../integration/agent-hooks/support/compose-fixtures.js';
import { startDockerd, type Dockerd } from '../integration/agent-hooks/support/dockerd.js';
import { artifactCli } from '../unit/mender-artifacts/fixtures.js';
import { systemTest, type Bed } from './harness/bed.js';
import type { Daemon } from '../../mender-sim/real-client/mender.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';

const execFileP = promisify(execFile);

let dockerd: Dockerd;
let work: string;
let module: string;
let port: number;
let imageV1: string;
const artifacts: Record<string, string> = {};

async function bundleDir(name: string, files: Record<string, string | { path: string }>): Promise<string> {
  const dir = join(work, 'bundles', name);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    if (typeof content === 'string') await writeFile(join(dir, rel), content);
    else await copyFile(content.path, join(dir, rel));
  }
  return dir;
}

async function build(version: string, bundle: string): Promise<string> {
  const out = join(work, 'out');
  const r = await artifactCli([
    'build', '--type', 'compose', '--component', 'platform', '--version', version, '--device-type', 'vanpc',
    '--bundle', bundle, '--no-gate-scripts', '--out', out,
  ]); // prettier-ignore
  expect(r.code, r.stderr).toBe(0);
  return join(out, `vancore-platform-${version}.mender`);
}

beforeAll(async () => {
  dockerd = await startDockerd();
  work = await mkdtemp(join(tmpdir(), 'vc-sys-compose-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-compose']))['modules/vancore-compose'];
  port = await freePort();
  const v2 = await dockerd.importBusybox(IMAGE, { 'etc/build': 'v2\n' });
  const tar = join(work, 'web-v2.tar');
  await dockerd.docker(['save', '-o', tar, IMAGE]);
  imageV1 = await dockerd.importBusybox(IMAGE, { 'etc/build': 'v1\n' });
  await dockerd.docker(['rmi', v2]);
  const page = (body: string) => `${body}\n`;
  artifacts.v1 = await build(
    '1.0.0',
    await bundleDir('v1', { 'docker-compose.yml': composeYaml({ port, body: 'v1' }), 'www/index.html': page('v1') }),
  );
  artifacts.v2 = await build(
    '2.0.0',
    await bundleDir('v2', {
      'docker-compose.yml': composeYaml({ port, body: 'v2' }),
      'www/index.html': page('v2'),
      'images/web.tar': { path: tar },
    }),
  );
  artifacts.v2bad = await build(
    '2.0.1',
    await bundleDir('v2bad', {
      'docker-compose.yml': composeYaml({ port, body: 'v2', healthy: false }),
      'www/index.html': page('v2 (broken)'),
      'images/web.tar': { path: tar },
    }),
  );
}, 180_000);

afterAll(async () => {
  await dockerd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

async function projectContainers(): Promise<{ id: string; image: string }[]> {
  const ids = (
    await dockerd.docker(['ps', '-aq', '--filter', 'label=com.docker.compose.project=vancore-platform'])
  ).stdout
    .split('\n')
    .filter(Boolean);
  const out = [];
  for (const id of ids)
    out.push({ id, image: (await dockerd.docker(['inspect', '--format', '{{.Image}}', id])).stdout.trim() });
  return out;
}

/** A van with no VanCore containers yet and the image tag on v1's image. */
async function freshVan(sb: Sandbox): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  const stale = (await projectContainers()).map((c) => c.id);
  if (stale.length > 0) await dockerd.docker(['rm', '-f', ...stale]);
  await dockerd.docker(['tag', imageV1, IMAGE]);
  await sb.installModule('vancore-compose', module);
  const root = await mkdtemp(join(work, 'van-'));
  return { root, env: { ...dockerd.env, VANCORE_OTA_ROOT: root } };
}

async function onV1(root: string): Promise<void> {
  expect(await served(port)).toBe('v1');
  const containers = await projectContainers();
  expect(containers.map((c) => c.image)).toEqual([imageV1]);
  expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
    platform: '1.0.0',
  });
}

async function installV1(sb: Sandbox, env: NodeJS.ProcessEnv): Promise<void> {
  const i = await runMender(sb, ['install', artifacts.v1!], { env });
  expect(i.rc, i.stderr).toBe(0);
  expect((await runMender(sb, ['commit'], { env })).rc).toBe(0);
}

describe('vancore-compose on the real mender-client', () => {
  systemTest(
    'standalone: v1, then v2 with a failing healthcheck rolls back to v1 serving, then v2 commits',
    async ({ bed }) => {
      const sb = await bed.sandbox();
      const { root, env } = await freshVan(sb);
      await installV1(sb, env);
      await onV1(root);

      const bad = await runMender(sb, ['install', artifacts.v2bad!], { env });
      expect(bad.rc).toBe(1);
      expect(bad.stdout).toContain('Rolling back Artifact...');
      const failed = bad.stderr.split('\n').filter((l) => l.includes('vancore-compose: ArtifactInstall failed'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toContain('not healthy: 0/1 services up; web: unhealthy');
      await onV1(root);
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('vancore-platform-1.0.0\n');

      expect((await runMender(sb, ['install', artifacts.v2!], { env })).rc).toBe(0);
      expect(await served(port)).toBe('v2');
      expect((await runMender(sb, ['commit'], { env })).rc).toBe(0);
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('vancore-platform-2.0.0\n');
      expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
        platform: '2.0.0',
      });
      expect((await projectContainers()).map((c) => c.image)).not.toEqual([imageV1]);
    },
    240_000,
  );

  async function waitForHold(bed: Bed, file: string, daemon: Daemon): Promise<number> {
    return bed.waitFor(
      async () => {
        const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
        return pid > 0 ? pid : undefined;
      },
      { describe: `the module parked at its hold point (${file})`, daemon, timeoutMs: 60_000 },
    );
  }

  const KILLS: [string, string, 'v2' | 'v2bad'][] = [
    ['ArtifactInstall, before the images are loaded', 'load_images', 'v2'],
    ['ArtifactInstall, v2 containers just created', 'after:recreate', 'v2'],
    ['ArtifactCommit, version just recorded', 'after:commit:record', 'v2'],
    ['ArtifactRollback, v1 containers just recreated', 'after:rollback:reconcile', 'v2bad'],
  ];

  systemTest.for(KILLS)(
    'managed: kill -9 of the client in %s, restart → failure reported, v1 serving',
    { timeout: 240_000 },
    async ([, hold, which], { bed }) => {
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      const { root, env } = await freshVan(dev.sb);
      await installV1(dev.sb, env);
      await onV1(root);
      const artifact = artifacts[which]!;
      await dev.mgmt.uploadArtifact(artifact);
      const holdFile = join(root, 'hold.pid');
      const first = bed.startDaemon(dev.sb, {
        env: { ...env, VANCORE_OTA_TEST_HOLD: hold, VANCORE_OTA_TEST_HOLD_FILE: holdFile },
      });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon: first });
      const name = which === 'v2' ? 'vancore-platform-2.0.0' : 'vancore-platform-2.0.1';
      const depId = await dev.mgmt.createDeployment({ name: `kill-${hold}`, artifact_name: name, devices: [deviceId] });
      first.triggerUpdateCheck();
      const modulePid = await waitForHold(bed, holdFile, first);
      // A power cut: the client and the module die at once, mid-phase.
      process.kill(first.pid, 'SIGKILL');
      process.kill(modulePid, 'SIGKILL');
      await first.exited;

      const second = bed.startDaemon(dev.sb, { env });
      const { status } = await bed.finalStatus(dev, depId, deviceId, { daemon: second, timeoutMs: 120_000 });
      expect(status).toBe('failure');
      await onV1(root);
      const journal = JSON.parse(
        await readFile(join(root, 'var/lib/vancore-ota/compose/platform/journal.json'), 'utf8'),
      ) as {
        outcome: string;
      };
      expect(journal.outcome).toBe('rolled_back');
      await second.stop();
      expect((await runMender(dev.sb, ['show-artifact'], { env })).stdout).toBe('vancore-platform-1.0.0\n');
    },
  );

  systemTest(
    'managed: a bundle without a compose file fails with one clear line in the deployment log',
    async ({ bed }) => {
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      const { root, env } = await freshVan(dev.sb);
      await installV1(dev.sb, env);
      // Packaging refuses such a bundle, so the artifact is written with mender-artifact directly.
      const dir = await mkdtemp(join(work, 'bad-'));
      await writeFile(join(dir, '0000-www_index.html'), 'v9\n');
      await writeFile(
        join(dir, 'vancore-index.json'),
        JSON.stringify({
          format: 1,
          type: 'vancore-compose',
          component: 'platform',
          version: '9.0.0',
          compose_file: 'docker-compose.yml',
          files: [{ name: '0000-www_index.html', path: 'www/index.html', mode: '0644', size: 3 }],
          images: [],
        }),
      );
      const art = join(dir, 'bad.mender');
      await execFileP('mender-artifact', [
      'write', 'module-image', '-T', 'vancore-compose', '-n', 'vancore-platform-9.0.0', '-t', 'vanpc',
      '-f', join(dir, 'vancore-index.json'), '-f', join(dir, '0000-www_index.html'), '-o', art,
    ]); // prettier-ignore
      await dev.mgmt.uploadArtifact(art);
      const daemon = bed.startDaemon(dev.sb, { env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
      const depId = await dev.mgmt.createDeployment({
        name: 'bad',
        artifact_name: 'vancore-platform-9.0.0',
        devices: [deviceId],
      });
      daemon.triggerUpdateCheck();
      expect((await bed.finalStatus(dev, depId, deviceId, { daemon })).status).toBe('failure');
      const log = (await dev.mgmt.deviceLog(depId, deviceId)).split('\n');
      const ours = log.filter((l) => l.includes('vancore-compose:'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toContain(
        "vancore-compose: ArtifactInstall failed: bundle has no compose file: 'docker-compose.yml' is not among its 1 files",
      );
      await daemon.stop();
      await onV1(root);
      expect((await runMender(dev.sb, ['show-artifact'], { env })).stdout).toBe('vancore-platform-1.0.0\n');
    },
  );
});
