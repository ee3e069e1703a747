// Multi-layer images for the layer-delta tests and bench, without a registry or a builder: each layer
// is a deterministic tar (sorted names, mtime 0, root owner) of a directory, the config and
// manifest.json are written as `docker load` reads them, and a real dockerd loads the result. The
// bundles then carry what that dockerd's `docker save` writes. Random file contents make the sizes
// honest (nothing compresses).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Dockerd } from './dockerd.js';

const execFileP = promisify(execFile);

export interface LayerFile {
  path: string;
  /** Text content, or a number of random bytes. */
  content: string | number;
}

export interface Layer {
  /** The layer tar. */
  tar: string;
  /** sha256:<hex> of the tar: its diff id. */
  digest: string;
  size: number;
}

const APPLETS = ['sh', 'sleep', 'cat', 'echo', 'true', 'false', 'ls', 'test', 'wget', 'httpd'];

async function tarDir(root: string, out: string): Promise<Layer> {
  await execFileP('tar', [
    '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-C', root, '-cf', out, '.',
  ]); // prettier-ignore
  const bytes = await readFile(out);
  return { tar: out, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

/** A layer of the given files (random or text) under `dir`. */
export async function makeLayer(dir: string, name: string, files: LayerFile[]): Promise<Layer> {
  const root = await mkdtemp(join(dir, `${name}-`));
  for (const f of files) {
    await mkdir(join(root, f.path, '..'), { recursive: true });
    // Random bytes in 1 MiB pieces: no 50 MB buffer in the test process.
    if (typeof f.content === 'number') {
      const parts: Buffer[] = [];
      for (let left = f.content; left > 0; left -= 1 << 20) parts.push(randomBytes(Math.min(left, 1 << 20)));
      await writeFile(join(root, f.path), Buffer.concat(parts));
    } else await writeFile(join(root, f.path), f.content);
  }
  const layer = await tarDir(root, `${root}.tar`);
  await rm(root, { recursive: true, force: true });
  return layer;
}

/** The busybox layer every test image starts from (sh, sleep, …). */
export async function busyboxLayer(dir: string): Promise<Layer> {
  const root = await mkdtemp(join(dir, 'busybox-'));
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const a of APPLETS) await symlink('busybox', join(root, 'bin', a));
  const layer = await tarDir(root, `${root}.tar`);
  await rm(root, { recursive: true, force: true });
  return layer;
}

/** Load an image of `layers` as `tag` into the dockerd; its image id. */
export async function loadImage(dockerd: Dockerd, dir: string, tag: string, layers: Layer[]): Promise<string> {
  const root = await mkdtemp(join(dir, 'load-'));
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sleep', '86400'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'vancore-ota test layer' })),
  });
  const cfgHex = createHash('sha256').update(config).digest('hex');
  await writeFile(join(root, `${cfgHex}.json`), config);
  const names: string[] = [];
  for (const l of layers) {
    const hex = l.digest.slice(7);
    await mkdir(join(root, hex), { recursive: true });
    await copyFile(l.tar, join(root, hex, 'layer.tar'));
    names.push(`${hex}/layer.tar`);
  }
  await writeFile(
    join(root, 'manifest.json'),
    JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: [tag], Layers: names }]),
  );
  const tar = `${root}.tar`;
  await execFileP('tar', ['-C', root, '-cf', tar, '.']);
  await dockerd.docker(['load', '-q', '-i', tar], { timeoutMs: 300_000 });
  await rm(root, { recursive: true, force: true });
  await rm(tar, { force: true });
  return `sha256:${cfgHex}`;
}

export interface StackRelease {
  /** Bundle path → the `docker save` tarball of that service's image. */
  tarballs: Record<string, string>;
  /** Service → image id. */
  ids: Record<string, string>;
}

export interface StackSpec {
  /** Random MiB of each service's big layer (a, b, c). */
  bigMiB: [number, number, number];
  /** Random MiB of service c's top layer: the one that changes between releases. */
  topMiB: number;
}

export const STACK_SERVICES = ['a', 'b', 'c'] as const;
export const stackRef = (svc: string) => `vc-delta-${svc}:stable`;

/**
 * Two releases of a three-service stack: each image is busybox + a big random layer + a small top
 * layer; release 2 changes only service c's top layer (`topMiB` of new random bytes). The tarballs are
 * the dockerd's own `docker save` output; the dockerd is left without any of the images.
 */
export async function makeStackReleases(
  dockerd: Dockerd,
  dir: string,
  spec: StackSpec,
): Promise<{ v1: StackRelease; v2: StackRelease; changedLayer: Layer }> {
  await mkdir(dir, { recursive: true });
  const bb = await busyboxLayer(dir);
  const big = await Promise.all(
    STACK_SERVICES.map((s, i) =>
      makeLayer(dir, `big-${s}`, [{ path: `data/${s}.bin`, content: spec.bigMiB[i]! << 20 }]),
    ),
  );
  const top = await Promise.all(
    STACK_SERVICES.map((s) => makeLayer(dir, `top-${s}`, [{ path: `etc/${s}.conf`, content: `service ${s} v1\n` }])),
  );
  const topV1c = await makeLayer(dir, 'top-c1', [
    { path: 'etc/c.conf', content: 'service c v1\n' },
    { path: 'data/c-top.bin', content: spec.topMiB << 20 },
  ]);
  const topV2c = await makeLayer(dir, 'top-c2', [
    { path: 'etc/c.conf', content: 'service c v2\n' },
    { path: 'data/c-top.bin', content: spec.topMiB << 20 },
  ]);
  const release = async (name: string, cTop: Layer): Promise<StackRelease> => {
    const tarballs: Record<string, string> = {};
    const ids: Record<string, string> = {};
    for (const [i, s] of STACK_SERVICES.entries()) {
      const layers = [bb, big[i]!, s === 'c' ? cTop : top[i]!];
      ids[s] = await loadImage(dockerd, dir, stackRef(s), layers);
      const tar = join(dir, `${name}-${s}.tar`);
      await dockerd.docker(['save', '-o', tar, stackRef(s)], { timeoutMs: 300_000 });
      tarballs[`images/${s}.tar`] = tar;
    }
    return { tarballs, ids };
  };
  const v2 = await release('v2', topV2c);
  const v1 = await release('v1', topV1c);
  const all = (await dockerd.docker(['image', 'ls', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (all.length > 0) await dockerd.docker(['rmi', '-f', ...new Set(all)]);
  for (const l of [bb, ...big, ...top, topV1c]) await rm(l.tar, { force: true });
  return { v1, v2, changedLayer: topV2c };
}

/** The stack's compose file: three sleeping services, no network. */
export function stackCompose(): string {
  return `services:
${STACK_SERVICES.map(
  (s) => `  ${s}:
    image: ${stackRef(s)}
    command: ["sleep", "86400"]
    network_mode: none
    init: true
`,
).join('')}x-vancore:
  health:
    timeout_seconds: 30
    interval_seconds: 0.5
  min_free_mb: 16
`;
}
