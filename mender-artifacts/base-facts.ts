// `artifact build --base PREV`: what the base release has on a van — its version, artifact name and
// every image layer (diff id). PREV is a build manifest (`<name>.manifest.json`, which lists the images
// since issue #17) or the base `.mender` itself: then its compose payload is streamed once and only
// the small JSON parts of its image tarballs (manifest.json, configs) are kept.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { readArtifactFile } from '../core/artifact-file.js';
import { VanError } from '../core/errors.js';
import { ArtifactMetaData } from '../core/schemas/artifact-meta.js';
import { ComposeIndex, PAYLOAD_INDEX_FILE } from '../core/schemas/payload-index.js';
import { describeIssues } from '../core/validation.js';
import { BuildManifest } from './manifest.js';

export interface BaseFacts {
  file: string;
  component: string;
  version: string;
  artifactName: string;
  layers: string[];
}

const invalid = (msg: string) => new VanError('INPUT_INVALID', msg);
const SMALL = 4 * 1024 * 1024;

async function fromManifest(path: string): Promise<BaseFacts> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw invalid(`--base ${path}: cannot read it as JSON (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  const r = BuildManifest.safeParse(raw);
  if (!r.success) throw invalid(`--base ${path}: not a build manifest (${describeIssues(r.error.issues)[0] ?? ''})`);
  const m = r.data;
  if (m.type !== 'vancore-compose') throw invalid(`--base ${path} is a ${m.type} artifact, not vancore-compose`);
  if (m.images === undefined) {
    throw invalid(`--base ${path} lists no image layers (built before delta support): pass the base .mender instead`);
  }
  return {
    file: path,
    component: m.component,
    version: m.version,
    artifactName: m.name,
    layers: [...new Set(m.images.flatMap((i) => i.layers))],
  };
}

async function drain(s: Readable): Promise<void> {
  for await (const _ of s) {
    // discard
  }
}

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** diff ids of every image in a `docker save` stream (only its entries ≤ 4 MiB are held). */
async function layersOfSaveStream(s: Readable, what: string): Promise<string[]> {
  const ex = tar.extract();
  const small = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const feed = pipeline(s, ex);
  feed.catch(() => undefined);
  for await (const e of ex) {
    const name = posix.normalize(e.header.name.replace(/^\.\//, ''));
    if (e.header.type === 'symlink' && e.header.linkname) links.set(name, e.header.linkname);
    if (e.header.type === 'file' && (e.header.size ?? 0) <= SMALL) small.set(name, await collect(e));
    else await drain(e);
  }
  await feed;
  const read = (n: string): unknown => {
    let cur = posix.normalize(n);
    for (let i = 0; i < 8 && links.has(cur); i++) {
      cur = posix.normalize(posix.join(posix.dirname(cur), links.get(cur) as string));
    }
    const b = small.get(cur);
    if (!b) throw invalid(`${what}: ${n} is missing`);
    return JSON.parse(b.toString('utf8')) as unknown;
  };
  const manifest = read('manifest.json');
  if (!Array.isArray(manifest)) throw invalid(`${what}: manifest.json is not a list`);
  return manifest.flatMap((m: { Config?: unknown }) => {
    const cfg = typeof m.Config === 'string' ? read(m.Config) : null;
    const ids = (cfg as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
    if (!Array.isArray(ids)) throw invalid(`${what}: an image config has no rootfs.diff_ids`);
    return ids.filter((d): d is string => typeof d === 'string');
  });
}

async function fromArtifact(path: string): Promise<BaseFacts> {
  // One checked pass for the header (name, meta-data) and the payload checksums …
  const info = await readArtifactFile(path);
  const payload = info.payloads[0];
  if (payload?.type !== 'vancore-compose') {
    throw invalid(`--base ${path} is not a vancore-compose artifact (${payload?.type ?? 'no payload'})`);
  }
  const meta = ArtifactMetaData.safeParse(payload.metaData);
  if (!meta.success) throw invalid(`--base ${path} has no valid VanCore meta-data`);
  if (meta.data.vancore.delta_of !== undefined) {
    throw invalid(
      `--base ${path} is itself a delta artifact: pass the full artifact of that version (or its manifest)`,
    );
  }
  if (info.compression !== 'gzip' && info.compression !== 'none') {
    throw invalid(`--base ${path} is ${info.compression}-compressed: pass its manifest instead`);
  }
  // … and one more for the image tarballs' small JSON parts.
  let index: ComposeIndex | null = null;
  const layers: string[] = [];
  const outer = tar.extract();
  const feed = pipeline(createReadStream(path), outer);
  feed.catch(() => undefined);
  for await (const e of outer) {
    if (!/^data\/0000\.tar(\.gz)?$/.test(e.header.name)) {
      await drain(e);
      continue;
    }
    const inner = tar.extract();
    const innerFeed = e.header.name.endsWith('.gz') ? pipeline(e, createGunzip(), inner) : pipeline(e, inner);
    innerFeed.catch(() => undefined);
    for await (const f of inner) {
      if (f.header.name === PAYLOAD_INDEX_FILE) {
        const r = ComposeIndex.safeParse(JSON.parse((await collect(f)).toString('utf8')));
        if (!r.success) throw invalid(`--base ${path}: its ${PAYLOAD_INDEX_FILE} is not a compose index`);
        index = r.data;
        continue;
      }
      const entry = index?.files.find((x) => x.name === f.header.name);
      if (entry && index?.images.includes(entry.path)) {
        layers.push(...(await layersOfSaveStream(f, `--base ${path}: ${entry.path}`)));
      } else await drain(f);
    }
    await innerFeed;
  }
  await feed;
  if (index === null) throw invalid(`--base ${path} has no ${PAYLOAD_INDEX_FILE}`);
  return {
    file: path,
    component: meta.data.vancore.component,
    version: meta.data.vancore.version,
    artifactName: info.name,
    layers: [...new Set(layers)],
  };
}

export async function gatherBase(path: string): Promise<BaseFacts> {
  return path.endsWith('.mender') ? fromArtifact(path) : fromManifest(path);
}
