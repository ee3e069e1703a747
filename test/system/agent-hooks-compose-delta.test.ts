// Layer-delta compose artifacts (issue #17 item 1) on the real stack: a private dockerd, the real
// mender-artifact 3.9 (`vancore-ota artifact build --base`), the real mender-client 3.4 running the
// bundled vancore-compose module. A three-service stack of ~157 MB random data in which release 2
// changes only service c's 5 MiB top layer:
//   - the delta artifact is at most 1.1 × the changed layer gzip-compressed (zlib level 6, the gzip
//     mender-artifact writes by default) + 64 KiB;
//   - v1 → delta v2 leaves the van with exactly the images (ids) a v1 → full v2 install gives;
//   - a delta whose bytes are damaged, whose layer does not match its digest, or whose base layer the
//     van lacks fails the install cleanly (one line, reason code) with v1 still running;
//   - the client itself refuses the delta on a van that does not run the base (depends).
// Why the delta has a name of its own (`…-delta-from-<base>`): Mender's deployments service picks the
// artifact for a device by name + device type only and, if several match, the smallest one
// (mender-server backend/services/deployments/app/app.go assignArtifact → store/mongo
// ImageByIdsAndDeviceType: "If multiple entries matches, pick the smallest one"); depends play no part
// in that choice. A delta named like its full artifact would be sent to every van.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { readArtifactFile } from '../../core/artifact-file.js';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { startDockerd, type Dockerd } from '../integration/agent-hooks/support/dockerd.js';
import {
  makeStackReleases,
  stackCompose,
  STACK_SERVICES,
  type StackRelease,
} from '../integration/agent-hooks/support/layered-images.js';
import { artifactCli, keyPair, type KeyFiles } from '../unit/mender-artifacts/fixtures.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';
import { systemTest } from './harness/bed.js';

const execFileP = promisify(execFile);
const PROJECT = 'vancore-platform';

let dockerd: Dockerd;
let work: string;
let module: string;
let v1: StackRelease;
let v2: StackRelease;
let changedLayerGzip: number;
let keys: KeyFiles;
const art: Record<string, string> = {};

async function bundle(name: string, rel: StackRelease): Promise<string> {
  const dir = join(work, 'bundles', name);
  await mkdir(join(dir, 'images'), { recursive: true });
  await writeFile(join(dir, 'docker-compose.yml'), stackCompose());
  for (const [path, tar] of Object.entries(rel.tarballs)) await copyFile(tar, join(dir, path));
  return dir;
}

async function build(
  version: string,
  dir: string,
  out: string,
  base?: string,
  signKey?: string,
): Promise<{ stdout: string; stderr: string }> {
  const r = await artifactCli([
    'build', '--type', 'compose', '--component', 'platform', '--version', version, '--device-type', 'vanpc',
    '--bundle', dir, '--no-gate-scripts', '--out', out, '--compression', 'gzip', ...(base ? ['--base', base] : []),
    ...(signKey ? ['--sign-key', signKey] : []),
  ]); // prettier-ignore
  expect(r.code, r.stderr).toBe(0);
  return r;
}

beforeAll(async () => {
  dockerd = await startDockerd();
  work = await mkdtemp(join(tmpdir(), 'vc-sys-delta-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-compose']))['modules/vancore-compose'];
  const made = await makeStackReleases(dockerd, join(work, 'images'), { bigMiB: [60, 50, 40], topMiB: 5 });
  v1 = made.v1;
  v2 = made.v2;
  changedLayerGzip = gzipSync(await readFile(made.changedLayer.tar), { level: 6 }).length;
  const out = join(work, 'out');
  await build('1.0.0', await bundle('v1', v1), out);
  art.v1 = join(out, 'vancore-platform-1.0.0.mender');
  keys = await keyPair(work, 'ec-pkcs8', 'ci');
  const { stdout, stderr } = await build('2.0.0', await bundle('v2', v2), out, art.v1, keys.priv);
  // One run, both artifacts, progress lines for each (CI log form: not a TTY).
  expect(stderr).toContain('progress: vancore-platform-2.0.0 0% (reading base vancore-platform-1.0.0.mender)\n');
  expect(stderr).toContain('progress: vancore-platform-2.0.0 100% (done)\n');
  expect(stderr).toContain('progress: vancore-platform-2.0.0 delta 100% (done)\n');
  expect(stdout).toContain('vancore-platform-2.0.0-delta-from-1.0.0.mender');
  expect(stdout).toMatch(/delta {5}from 1\.0\.0 \(vancore-platform-1\.0\.0\): 1 new layers/);
  art.v2 = join(out, 'vancore-platform-2.0.0.mender');
  art.delta = join(out, 'vancore-platform-2.0.0-delta-from-1.0.0.mender');
}, 600_000);

afterAll(async () => {
  await dockerd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

async function containerImages(): Promise<Record<string, string>> {
  const ids = (await dockerd.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`])).stdout
    .split('\n')
    .filter(Boolean);
  const out: Record<string, string> = {};
  for (const id of ids) {
    const [svc, image] = (
      await dockerd.docker([
        'inspect',
        '--format',
        '{{index .Config.Labels "com.docker.compose.service"}} {{.Image}}',
        id,
      ])
    ).stdout
      .trim()
      .split(' ');
    out[svc as string] = image as string;
  }
  return out;
}

/** A van without any VanCore containers or images, the module installed. */
async function freshVan(sb: Sandbox): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  const stale = (await dockerd.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (stale.length > 0) await dockerd.docker(['rm', '-f', ...stale]);
  const images = (await dockerd.docker(['image', 'ls', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (images.length > 0) await dockerd.docker(['rmi', '-f', ...new Set(images)]);
  await sb.installModule('vancore-compose', module);
  const root = await mkdtemp(join(work, 'van-'));
  return { root, env: { ...dockerd.env, VANCORE_OTA_ROOT: root } };
}

async function install(sb: Sandbox, env: NodeJS.ProcessEnv, file: string): Promise<void> {
  const i = await runMender(sb, ['install', file], { env, timeoutMs: 300_000 });
  expect(i.rc, i.stderr).toBe(0);
  expect((await runMender(sb, ['commit'], { env, timeoutMs: 120_000 })).rc).toBe(0);
}

const ids = (rel: StackRelease) => Object.fromEntries(STACK_SERVICES.map((s) => [s, rel.ids[s]]));

async function onV1(sb: Sandbox, env: NodeJS.ProcessEnv, root: string): Promise<void> {
  expect(await containerImages()).toEqual(ids(v1));
  expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('vancore-platform-1.0.0\n');
  expect(JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
    platform: '1.0.0',
  });
}

/** The lines of the client's output the module wrote for a failed ArtifactInstall. */
function moduleFailure(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('vancore-compose: ArtifactInstall failed'));
}

describe('layer-delta compose artifacts on the real mender-client', () => {
  systemTest('the delta is small, depends on the base, and names its base in verify-able meta-data', async () => {
    const full = await readArtifactFile(art.v2!);
    const delta = await readArtifactFile(art.delta!);
    const stack = STACK_SERVICES.length;
    expect(full.size).toBeGreaterThan(150 * 1024 * 1024);
    const limit = 1.1 * changedLayerGzip + 64 * 1024;
    expect(delta.size).toBeLessThanOrEqual(limit);
    // It does carry the changed layer (not a delta of nothing).
    expect(delta.size).toBeGreaterThan(changedLayerGzip);
    const p = delta.payloads[0]!;
    expect(p.provides).toEqual({ 'vancore.platform.version': '2.0.0' });
    expect(p.depends).toEqual({ 'vancore.platform.version': '1.0.0' });
    expect(delta.deviceTypes).toEqual(['vanpc']);
    expect((p.metaData as { vancore: { delta_of?: string } }).vancore.delta_of).toBe('1.0.0');
    // configs of all three images + the one new layer + compose file + index
    expect(p.files.map((f) => f.name).filter((n) => n.startsWith('blob-'))).toHaveLength(stack + 1);
    const manifest = JSON.parse(await readFile(art.delta!.replace(/\.mender$/, '.manifest.json'), 'utf8')) as {
      delta: { new_layers: number; reused_layers: number; full_artifact: string };
    };
    expect(manifest.delta).toMatchObject({ new_layers: 1, reused_layers: 6, full_artifact: 'vancore-platform-2.0.0' });
    // Both are signed; verify says which one is the delta, and of which base.
    const vDelta = await artifactCli(['verify', art.delta!, '--key', keys.pub]);
    expect(vDelta.code, vDelta.stderr).toBe(0);
    expect(vDelta.stdout).toContain('  delta     layer delta from 1.0.0: installs only on vans running 1.0.0\n');
    const vFull = await artifactCli(['verify', art.v2!, '--key', keys.pub]);
    expect(vFull.code, vFull.stderr).toBe(0);
    expect(vFull.stdout).not.toContain('  delta ');
  });

  systemTest(
    'v1 → delta v2 gives the van the same images (ids) as v1 → full v2',
    async ({ bed }) => {
      const sb = await bed.sandbox();
      let van = await freshVan(sb);
      await install(sb, van.env, art.v1!);
      await onV1(sb, van.env, van.root);
      // The van has none of v2's own parts before the delta.
      await expect(dockerd.docker(['image', 'inspect', v2.ids.c!])).rejects.toThrow();

      const d = await runMender(sb, ['install', art.delta!], { env: van.env, timeoutMs: 300_000 });
      expect(d.rc, d.stderr).toBe(0);
      expect(d.stderr).toMatch(/delta: rebuilt 3 images .* from 4 payload blobs and 6 layers of the van/);
      expect((await runMender(sb, ['commit'], { env: van.env })).rc).toBe(0);
      const afterDelta = await containerImages();
      expect(afterDelta).toEqual(ids(v2));
      expect((await runMender(sb, ['show-artifact'], { env: van.env })).stdout).toBe(
        'vancore-platform-2.0.0-delta-from-1.0.0\n',
      );
      expect(JSON.parse(await readFile(join(van.root, 'var/lib/vancore-ota/versions.json'), 'utf8'))).toEqual({
        platform: '2.0.0',
      });

      // The same van hardware, from scratch, the full way.
      const sb2 = await bed.sandbox();
      van = await freshVan(sb2);
      await install(sb2, van.env, art.v1!);
      await install(sb2, van.env, art.v2!);
      expect(await containerImages()).toEqual(afterDelta);
    },
    900_000,
  );

  systemTest(
    'managed: with the full and the delta artifact on the server, a deployment of the delta name installs it',
    async ({ bed }) => {
      // The bridge's way (issue #17): both artifacts uploaded, the delta's name deployed to vans on the
      // base. The device downloads only the delta.
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      const van = await freshVan(dev.sb);
      await install(dev.sb, van.env, art.v1!);
      await dev.mgmt.uploadArtifact(art.v2!);
      await dev.mgmt.uploadArtifact(art.delta!);
      const daemon = bed.startDaemon(dev.sb, { env: van.env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
      const depId = await dev.mgmt.createDeployment({
        name: 'delta',
        artifact_name: 'vancore-platform-2.0.0-delta-from-1.0.0',
        devices: [deviceId],
      });
      daemon.triggerUpdateCheck();
      const { status } = await bed.finalStatus(dev, depId, deviceId, { daemon, timeoutMs: 300_000 });
      expect(status).toBe('success');
      await daemon.stop();
      expect(await containerImages()).toEqual(ids(v2));
      expect((await runMender(dev.sb, ['show-artifact'], { env: van.env })).stdout).toBe(
        'vancore-platform-2.0.0-delta-from-1.0.0\n',
      );
    },
    600_000,
  );

  systemTest(
    'a damaged, mismatched or baseless delta fails cleanly with v1 still running; a van off the base refuses it',
    async ({ bed }) => {
      // Not on the base at all: the client checks the depends and never runs the module.
      const off = await bed.sandbox();
      const offVan = await freshVan(off);
      const refused = await runMender(off, ['install', art.delta!], { env: offVan.env, timeoutMs: 120_000 });
      expect(refused.rc).toBe(1);
      expect(refused.stderr).toMatch(/depend/i);
      expect(moduleFailure(refused.stderr)).toEqual([]);

      const sb = await bed.sandbox();
      const van = await freshVan(sb);
      await install(sb, van.env, art.v1!);
      await onV1(sb, van.env, van.root);

      // 1. Bytes damaged in transit: Mender's own payload checksum stops it at download.
      const damaged = join(work, 'damaged.mender');
      await copyFile(art.delta!, damaged);
      const fh = await open(damaged, 'r+');
      const { size } = await fh.stat();
      const at = Math.floor(size * 0.6);
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = (b[0] ?? 0) ^ 0xff;
      await fh.write(b, 0, 1, at);
      await fh.close();
      const r1 = await runMender(sb, ['install', damaged], { env: van.env, timeoutMs: 120_000 });
      expect(r1.rc).toBe(1);
      await onV1(sb, van.env, van.root);

      // 2. A layer that does not match its digest in the (signed) index: the module's own check.
      const mismatched = await rewriteDelta(art.delta!, 'mismatch');
      const r2 = await runMender(sb, ['install', mismatched], { env: van.env, timeoutMs: 120_000 });
      expect(r2.rc).toBe(1);
      const l2 = moduleFailure(r2.stderr);
      expect(l2).toHaveLength(1);
      expect(l2[0]).toMatch(/delta_digest_mismatch: payload file blob-sha256-[0-9a-f]{64} hashes to sha256:/);
      await onV1(sb, van.env, van.root);

      // 3. A base layer the van does not have: a delta built against a base that (as a rebuilt 1.0.0
      //    would) already had the changed layer, so it carries only the configs.
      const m = JSON.parse(await readFile(art.v1!.replace(/\.mender$/, '.manifest.json'), 'utf8')) as {
        images: { path: string; layers: string[] }[];
      };
      const v2m = JSON.parse(await readFile(art.v2!.replace(/\.mender$/, '.manifest.json'), 'utf8')) as {
        images: { path: string; layers: string[] }[];
      };
      const c = m.images.find((i) => i.path === 'images/c.tar')!;
      c.layers = v2m.images.find((i) => i.path === 'images/c.tar')!.layers;
      const fakeBase = join(work, 'rebuilt-1.0.0.manifest.json');
      await writeFile(fakeBase, JSON.stringify(m));
      const out = join(work, 'out-baseless');
      await build('2.0.0', join(work, 'bundles', 'v2'), out, fakeBase);
      const baseless = join(out, 'vancore-platform-2.0.0-delta-from-1.0.0.mender');
      const r3 = await runMender(sb, ['install', baseless], { env: van.env, timeoutMs: 120_000 });
      expect(r3.rc).toBe(1);
      const l3 = moduleFailure(r3.stderr);
      expect(l3).toHaveLength(1);
      expect(l3[0]).toMatch(
        /delta_base_missing: layer sha256:[0-9a-f]{12}… of images\/c\.tar is in no image on this van \(1 of 7 base layers missing; the delta is from 1\.0\.0\): install the full artifact/,
      );
      await onV1(sb, van.env, van.root);
      // No journal was begun by any of them: nothing on the van changed.
      const journal = JSON.parse(
        await readFile(join(van.root, 'var/lib/vancore-ota/compose/platform/journal.json'), 'utf8'),
      ) as { artifact_name: string; outcome: string };
      expect(journal).toMatchObject({ artifact_name: 'vancore-platform-1.0.0', outcome: 'committed' });
    },
    900_000,
  );
});

/**
 * The delta re-written with mender-artifact from its own payload and meta-data, with one byte of the
 * layer blob flipped: an artifact whose Mender checksums are right but whose layer is not the one its
 * index names (what a broken build or a tampered, re-signed artifact would look like).
 */
async function rewriteDelta(file: string, name: string): Promise<string> {
  const info = await readArtifactFile(file);
  const p = info.payloads[0]!;
  const dir = await mkdtemp(join(work, `${name}-`));
  const files = join(dir, 'files');
  await mkdir(files);
  await execFileP('sh', ['-c', `tar -xOf "${file}" data/0000.tar.gz | tar -xzf - -C "${files}"`]);
  const index = JSON.parse(await readFile(join(files, 'vancore-index.json'), 'utf8')) as {
    delta: { blobs: { name: string; size: number }[] };
  };
  const layer = index.delta.blobs.reduce((a, b) => (b.size > a.size ? b : a));
  const fh = await open(join(files, layer.name), 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, 4096);
  b[0] = (b[0] ?? 0) ^ 0xff;
  await fh.write(b, 0, 1, 4096);
  await fh.close();
  await writeFile(join(dir, 'meta.json'), JSON.stringify(p.metaData));
  const out = join(dir, `${info.name}.mender`);
  const order = ['vancore-index.json', ...p.files.map((f) => f.name).filter((n) => n !== 'vancore-index.json')];
  await execFileP('mender-artifact', [
    'write', 'module-image', '-T', 'vancore-compose', '-n', info.name, '-t', 'vanpc',
    '--software-filesystem', 'vancore', '--software-name', 'platform', '--software-version', '2.0.0',
    '--depends', 'vancore.platform.version:1.0.0', '-m', join(dir, 'meta.json'),
    ...order.flatMap((n) => ['-f', join(files, n)]), '-o', out,
  ]); // prettier-ignore
  return out;
}
