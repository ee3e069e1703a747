// The van side of a layer-delta compose artifact (issue #17): rebuild exactly the target images from
// the layers the van already has plus the blobs in the payload, as one `docker load` tarball.
//
//   1. every payload blob (image configs, new layers) is hashed against its digest;
//   2. every other layer must be in an image the engine has (RootFS.Layers), else delta_base_missing;
//   3. the fewest images covering those layers are `docker save`d as a stream; each layer is written
//      to the work dir while it is hashed (`docker save` re-exports a loaded layer byte for byte: the
//      layer store keeps its tar-split), and kept only if its sha256 is a layer we need;
//   4. a layer that did not come back, or came back with other bytes, stops the install
//      (delta_base_missing / delta_digest_mismatch) — before anything is loaded;
//   5. the images are packed as `docker save` would (manifest.json, configs, layers) for load_images.
// Nothing is fetched from anywhere: what the van lacks fails the install, and Mender's deployment
// then offers the full artifact (docs/agent-hooks.md). Nothing on the van changes here either: all
// writes go to the module's own work dir.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { VanError } from '../../core/errors.js';
import { formatReasonLine } from '../../core/reason-codes.js';
import type { ComposeDelta } from '../../core/schemas/payload-index.js';
import { describeResult } from '../lib/runner.js';
import type { Engine } from './engine.js';

export interface RebuildResult {
  /** The tarball to `docker load`: every target image, with its refs. */
  tarball: string;
  size: number;
  stats: { payloadBlobs: number; vanLayers: number; vanBytes: number; savedImages: number };
}

const SAVE_TIMEOUT_MS = 30 * 60_000;
const SMALL = 4 * 1024 * 1024;

function fail(code: 'delta_base_missing' | 'delta_digest_mismatch', message: string): VanError {
  return new VanError(
    code === 'delta_base_missing' ? 'CONFLICT' : 'INPUT_INVALID',
    formatReasonLine([{ code, message }]),
  );
}

const short = (d: string) => `${d.slice(0, 19)}…`;

/** sha256 of a file, streamed. */
async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

/** Write a stream to `dest` while hashing it; the digest. */
async function hashTo(src: AsyncIterable<Buffer>, dest: string | null): Promise<string> {
  const h = createHash('sha256');
  const out = dest === null ? null : createWriteStream(dest, { flags: 'wx', mode: 0o600 });
  await pipeline(
    src,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        h.update(c);
        if (out) yield c;
      }
    },
    out ??
      new Writable({
        write: (_c, _e, cb) => cb(),
      }),
  );
  return `sha256:${h.digest('hex')}`;
}

/** Pure: the fewest images (greedy) whose layers cover `wanted`; what no image has stays in `missing`. */
export function chooseImages(
  wanted: ReadonlySet<string>,
  images: readonly { id: string; layers: readonly string[] }[],
): { ids: string[]; missing: string[] } {
  const left = new Set(wanted);
  const ids: string[] = [];
  for (;;) {
    let best: { id: string; n: number } | null = null;
    for (const img of images) {
      const n = new Set(img.layers.filter((l) => left.has(l))).size;
      if (n > 0 && (best === null || n > best.n)) best = { id: img.id, n };
    }
    if (best === null) break;
    ids.push(best.id);
    for (const l of images.find((i) => i.id === best.id)?.layers ?? []) left.delete(l);
  }
  return { ids, missing: [...left] };
}

/** What each image path in a `docker save` stream should hold: path → diff id (from manifest.json + configs). */
function expectedLayers(small: Map<string, Buffer>, links: Map<string, string>): Map<string, string> {
  const resolve = (n: string) => {
    let cur = posix.normalize(n);
    for (let i = 0; i < 8 && links.has(cur); i++)
      cur = posix.normalize(posix.join(posix.dirname(cur), links.get(cur)!));
    return cur;
  };
  const json = (n: string): unknown => {
    const b = small.get(resolve(n));
    if (!b) return null;
    try {
      return JSON.parse(b.toString('utf8')) as unknown;
    } catch {
      return null;
    }
  };
  const out = new Map<string, string>();
  const manifest = json('manifest.json');
  if (!Array.isArray(manifest)) return out;
  for (const m of manifest as { Config?: unknown; Layers?: unknown }[]) {
    const cfg = typeof m.Config === 'string' ? json(m.Config) : null;
    const ids = (cfg as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
    if (!Array.isArray(ids) || !Array.isArray(m.Layers)) continue;
    m.Layers.forEach((p, i) => {
      if (typeof p === 'string' && typeof ids[i] === 'string') out.set(resolve(p), ids[i]);
    });
  }
  return out;
}

/**
 * Take `wanted` layers out of a `docker save` of `ids` into `blobDir/<hex>`, each hashed on the way.
 * Returns the digest each layer path hashed to (for the reason when one is missing).
 */
async function extractFromSave(
  engine: Engine,
  ids: string[],
  wanted: Set<string>,
  blobDir: string,
): Promise<{ got: Set<string>; expected: Map<string, string>; hashed: Map<string, string> }> {
  const got = new Set<string>();
  const hashed = new Map<string, string>();
  const small = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const save = engine.save(ids, SAVE_TIMEOUT_MS);
  const ex = tar.extract();
  const feed = pipeline(save.stdout as Readable, ex);
  feed.catch(() => undefined);
  let n = 0;
  try {
    for await (const e of ex) {
      const name = posix.normalize(e.header.name.replace(/^\.\//, ''));
      const size = e.header.size ?? 0;
      if (e.header.type === 'symlink' && e.header.linkname) links.set(name, e.header.linkname);
      if (e.header.type !== 'file' && e.header.type !== 'contiguous-file') {
        await hashTo(e, null);
        continue;
      }
      const oci = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
      if (size <= SMALL && (name.endsWith('.json') || name === 'repositories' || oci)) {
        // manifest.json, index.json, configs: kept to name what a path should hold.
        const parts: Buffer[] = [];
        for await (const c of e as AsyncIterable<Buffer>) parts.push(c);
        const buf = Buffer.concat(parts);
        small.set(name, buf);
        const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
        hashed.set(name, digest);
        if (wanted.has(digest) && !got.has(digest)) {
          await new Promise<void>((res, rej) =>
            createWriteStream(join(blobDir, digest.slice(7)), { mode: 0o600 })
              .end(buf, () => res())
              .on('error', rej),
          );
          got.add(digest);
        }
        continue;
      }
      // An OCI layout names blobs by digest: skip those we do not need without writing them.
      if (oci && !wanted.has(`sha256:${oci[1]}`)) {
        await hashTo(e, null);
        continue;
      }
      const tmp = join(blobDir, `.part-${n++}`);
      const digest = await hashTo(e, tmp);
      hashed.set(name, digest);
      if (wanted.has(digest) && !got.has(digest)) {
        await rename(tmp, join(blobDir, digest.slice(7)));
        got.add(digest);
      } else await rm(tmp, { force: true });
    }
    await feed;
  } catch (e) {
    save.kill();
    await save.done;
    throw fail('delta_base_missing', `cannot read the van's images from docker save: ${(e as Error).message}`);
  }
  const r = await save.done;
  if (r.code !== 0) {
    throw fail('delta_base_missing', describeResult(`docker save of the base images`, r));
  }
  return { got, expected: expectedLayers(small, links), hashed };
}

/** Rebuild the delta's images in `workDir` (created; the caller removes it). Throws a one-line reason. */
export async function rebuildDeltaImages(
  engine: Engine,
  delta: ComposeDelta,
  filesDir: string,
  workDir: string,
  log: (line: string) => void,
): Promise<RebuildResult> {
  const started = Date.now();
  const blobDir = join(workDir, 'blobs');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(blobDir, { recursive: true });
  const owner = new Map<string, string>();
  for (const img of delta.images) for (const l of img.layers) if (!owner.has(l)) owner.set(l, img.path);

  // 1. The payload's blobs: each must be what its digest says (configs are the image ids).
  const path = new Map<string, string>();
  for (const b of delta.blobs) {
    const p = join(filesDir, b.name);
    const got = await hashFile(p);
    if (got !== b.digest) {
      throw fail(
        'delta_digest_mismatch',
        `payload file ${b.name} hashes to ${short(got)}, the index says ${short(b.digest)}; nothing was loaded`,
      );
    }
    path.set(b.digest, p);
  }

  // 2. The layers the van must have.
  const fromVan = new Set([...owner.keys()].filter((l) => !path.has(l)));
  let vanBytes = 0;
  let savedImages = 0;
  if (fromVan.size > 0) {
    const { ids, missing } = chooseImages(fromVan, await engine.imageLayers());
    if (missing.length > 0) {
      const first = missing[0] as string;
      throw fail(
        'delta_base_missing',
        `layer ${short(first)} of ${owner.get(first)} is in no image on this van (${missing.length} of ${fromVan.size} base layers missing; ` +
          `the delta is from ${delta.base.version}): install the full artifact`,
      );
    }
    // 3. Re-export them from the engine, hashing each.
    log(`delta: taking ${fromVan.size} layers from ${ids.length} images on the van (docker save)`);
    const { got, expected, hashed } = await extractFromSave(engine, ids, fromVan, blobDir);
    savedImages = ids.length;
    // 4. Everything needed came back with exactly its bytes, or nothing is loaded.
    for (const l of fromVan) {
      if (got.has(l)) {
        const p = join(blobDir, l.slice(7));
        path.set(l, p);
        vanBytes += (await stat(p)).size;
        continue;
      }
      const at = [...expected].find(([, d]) => d === l)?.[0];
      const had = at === undefined ? undefined : hashed.get(at);
      if (had !== undefined && had !== l) {
        throw fail(
          'delta_digest_mismatch',
          `base layer ${short(l)} of ${owner.get(l)} re-exported by docker save hashes to ${short(had)}: the van's copy is damaged; nothing was loaded`,
        );
      }
      throw fail('delta_base_missing', `base layer ${short(l)} of ${owner.get(l)} did not come out of docker save`);
    }
  }

  // 5. One `docker load` tarball: manifest.json naming each image's config and layers by digest.
  const tarball = join(workDir, 'images.tar');
  const pack = tar.pack();
  const out = pipeline(pack, createWriteStream(tarball, { mode: 0o600 }));
  const blobPath = (d: string) => `blobs/sha256/${d.slice(7)}`;
  const packed = new Set<string>();
  const add = async (digest: string) => {
    if (packed.has(digest)) return;
    packed.add(digest);
    const src = path.get(digest) as string;
    const { size } = await stat(src);
    const entry = pack.entry({ name: blobPath(digest), size, mode: 0o644, mtime: new Date(0) });
    await pipeline(createReadStream(src, { highWaterMark: 1024 * 1024 }), entry);
  };
  for (const img of delta.images) {
    await add(img.id);
    for (const l of img.layers) await add(l);
  }
  const manifest = delta.images.map((img) => ({
    Config: blobPath(img.id),
    RepoTags: img.refs,
    Layers: img.layers.map(blobPath),
  }));
  pack.entry({ name: 'manifest.json', mode: 0o644, mtime: new Date(0) }, JSON.stringify(manifest));
  pack.finalize();
  await out;
  const size = (await stat(tarball)).size;
  await rm(blobDir, { recursive: true, force: true });
  const stats = { payloadBlobs: delta.blobs.length, vanLayers: fromVan.size, vanBytes, savedImages };
  log(
    `delta: rebuilt ${delta.images.length} images (${Math.ceil(size / 1024 / 1024)} MiB) from ${stats.payloadBlobs} payload blobs ` +
      `and ${stats.vanLayers} layers of the van in ${((Date.now() - started) / 1000).toFixed(1)} s; every digest checked`,
  );
  return { tarball, size, stats };
}
