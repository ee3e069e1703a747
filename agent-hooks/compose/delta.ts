// The van side of a layer-delta compose artifact (issue #17): rebuild exactly the target images from
// the layers the van already has plus the blobs in the payload, as one `docker load` tarball.
//
//   1. every payload blob (image configs, new layers) is hashed against its digest;
//   2. every other layer must be in an image the engine has (RootFS.Layers), else delta_base_missing;
//   3. the fewest images covering those layers are `docker save`d as a stream; each layer is appended
//      to the `docker load` tarball while it is hashed (`docker save` re-exports a loaded layer byte
//      for byte: the layer store keeps its tar-split), and cut off again unless its sha256 is a layer
//      we need — each layer is written once, never copied a second time;
//   4. a layer that did not come back, or came back with other bytes, stops the install
//      (delta_base_missing / delta_digest_mismatch) — before anything is loaded;
//   5. the payload's blobs and a manifest.json (each image's refs, config and layers by digest) complete
//      the tarball, which load_images loads like a full artifact's.
// Nothing is fetched from anywhere: what the van lacks fails the install, and Mender's deployment
// then offers the full artifact (docs/agent-hooks.md). Nothing on the van changes here either: all
// writes go to the module's own work dir.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
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

/** Read a stream to its end, discarding it. */
async function drain(src: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of src) {
    // discarded
  }
}

const BLOCK = 512;

/** A ustar header for a regular file (names ≤ 100 bytes: `blobs/sha256/<hex>` is 77). */
function ustarHeader(name: string, size: number): Buffer {
  // The size field holds 11 octal digits: 8 GiB and more would be cut short and load as a corrupt tar.
  if (size >= 8 ** 11)
    throw new VanError('INPUT_INVALID', `${name}: ${size} bytes is too large for a tar entry (under 8 GiB)`);
  const h = Buffer.alloc(BLOCK);
  const field = (value: string, at: number, len: number) => h.write(value.slice(0, len), at, len, 'utf8');
  const octal = (n: number, len: number) => `${n.toString(8).padStart(len - 1, '0')}\0`;
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(size, 12), 124, 12);
  field(octal(0, 12), 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/**
 * The `docker load` tarball written in place: an entry is appended while its bytes stream in and
 * hash, named (its header rewritten) once its digest is known, or cut off again when it is not a
 * layer we need. Each layer is written once: no copy in a second folder.
 */
class TarWriter {
  private pos = 0;
  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await open(path, 'w', 0o600));
  }

  /** Append a stream as an entry; `name(digest)` decides its name, or null to drop it. */
  async append(
    src: AsyncIterable<Buffer> | Iterable<Buffer>,
    name: (digest: string) => string | null,
  ): Promise<{ digest: string; size: number }> {
    const start = this.pos;
    let at = start + BLOCK;
    const h = createHash('sha256');
    for await (const c of src) {
      h.update(c);
      await this.fh.write(c, 0, c.length, at);
      at += c.length;
    }
    const size = at - start - BLOCK;
    const digest = `sha256:${h.digest('hex')}`;
    const n = name(digest);
    if (n === null) return { digest, size };
    await this.fh.write(ustarHeader(n, size), 0, BLOCK, start);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0) await this.fh.write(Buffer.alloc(pad), 0, pad, at);
    this.pos = at + pad;
    return { digest, size };
  }

  async appendFile(name: string, path: string): Promise<void> {
    await this.append(createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>, () => name);
  }

  /** Two zero blocks, and whatever a dropped last entry left beyond them cut off. */
  async finish(): Promise<number> {
    await this.fh.write(Buffer.alloc(2 * BLOCK), 0, 2 * BLOCK, this.pos);
    this.pos += 2 * BLOCK;
    await this.fh.truncate(this.pos);
    await this.fh.close();
    return this.pos;
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
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
 * Append the `wanted` layers of a `docker save` of `ids` to `out`, each hashed on the way and kept only
 * if its sha256 is one we need. Returns the digest each layer path hashed to (the reason when one is
 * missing) and what each path should hold (manifest.json + configs).
 */
async function extractFromSave(
  engine: Engine,
  ids: string[],
  wanted: Set<string>,
  out: TarWriter,
): Promise<{ got: Map<string, number>; expected: Map<string, string>; hashed: Map<string, string> }> {
  const got = new Map<string, number>();
  const hashed = new Map<string, string>();
  const small = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const keep = (digest: string) => (wanted.has(digest) && !got.has(digest) ? blobPath(digest) : null);
  const save = engine.save(ids, SAVE_TIMEOUT_MS);
  const ex = tar.extract();
  const feed = pipeline(save.stdout as Readable, ex);
  feed.catch(() => undefined);
  try {
    for await (const e of ex) {
      const name = posix.normalize(e.header.name.replace(/^\.\//, ''));
      const size = e.header.size ?? 0;
      if (e.header.type === 'symlink' && e.header.linkname) links.set(name, e.header.linkname);
      if (e.header.type !== 'file' && e.header.type !== 'contiguous-file') {
        await drain(e);
        continue;
      }
      const oci = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
      if (size <= SMALL && (name.endsWith('.json') || name === 'repositories' || oci)) {
        // manifest.json, index.json, configs (and small OCI layers): kept to name what a path should hold.
        const parts: Buffer[] = [];
        for await (const c of e as AsyncIterable<Buffer>) parts.push(c);
        const buf = Buffer.concat(parts);
        small.set(name, buf);
        const r = await out.append([buf], keep);
        hashed.set(name, r.digest);
        if (keep(r.digest) !== null) got.set(r.digest, r.size);
        continue;
      }
      // An OCI layout names blobs by digest: skip those we do not need without writing them.
      if (oci && !wanted.has(`sha256:${oci[1]}`)) {
        await drain(e);
        continue;
      }
      const r = await out.append(e as AsyncIterable<Buffer>, keep);
      hashed.set(name, r.digest);
      if (keep(r.digest) !== null) got.set(r.digest, r.size);
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

const blobPath = (d: string) => `blobs/sha256/${d.slice(7)}`;

/** Rebuild the delta's images in `workDir` (created; the caller removes it). Throws a one-line reason. */
export async function rebuildDeltaImages(
  engine: Engine,
  delta: ComposeDelta,
  filesDir: string,
  workDir: string,
  log: (line: string) => void,
): Promise<RebuildResult> {
  const started = Date.now();
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const owner = new Map<string, string>();
  for (const img of delta.images) for (const l of img.layers) if (!owner.has(l)) owner.set(l, img.path);

  // 1. The payload's blobs: each must be what its digest says (configs are the image ids).
  const inPayload = new Map<string, string>();
  for (const b of delta.blobs) {
    const p = join(filesDir, b.name);
    const got = await hashFile(p);
    if (got !== b.digest) {
      throw fail(
        'delta_digest_mismatch',
        `payload file ${b.name} hashes to ${short(got)}, the index says ${short(b.digest)}; nothing was loaded`,
      );
    }
    inPayload.set(b.digest, p);
  }

  // 2. The layers the van must have.
  const fromVan = new Set([...owner.keys()].filter((l) => !inPayload.has(l)));
  const tarball = join(workDir, 'images.tar');
  const out = await TarWriter.create(tarball);
  let vanBytes = 0;
  let savedImages = 0;
  try {
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
      // 3. Re-export them from the engine straight into the tarball, hashing each.
      log(`delta: taking ${fromVan.size} layers from ${ids.length} images on the van (docker save)`);
      const { got, expected, hashed } = await extractFromSave(engine, ids, fromVan, out);
      savedImages = ids.length;
      // 4. Everything needed came back with exactly its bytes, or nothing is loaded.
      for (const l of fromVan) {
        const size = got.get(l);
        if (size !== undefined) {
          vanBytes += size;
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
    // 5. The payload's blobs (checked above) and manifest.json naming each image's config and layers.
    for (const [digest, p] of inPayload) await out.appendFile(blobPath(digest), p);
    const manifest = delta.images.map((img) => ({
      Config: blobPath(img.id),
      RepoTags: img.refs,
      Layers: img.layers.map(blobPath),
    }));
    await out.append([Buffer.from(JSON.stringify(manifest))], () => 'manifest.json');
  } catch (e) {
    await out.abort();
    throw e;
  }
  const size = await out.finish();
  const stats = { payloadBlobs: delta.blobs.length, vanLayers: fromVan.size, vanBytes, savedImages };
  log(
    `delta: rebuilt ${delta.images.length} images (${Math.ceil(size / 1024 / 1024)} MiB) from ${stats.payloadBlobs} payload blobs ` +
      `and ${stats.vanLayers} layers of the van in ${((Date.now() - started) / 1000).toFixed(1)} s; every digest checked`,
  );
  return { tarball, size, stats };
}
