// A reader of Mender artifact format version 2 (rootfs-image only; `mender-artifact write rootfs-image -v 2`),
// for the simulator's upload path: core/artifact-file.ts reads format 3 only, while both server lines
// accept versions 1–3 (deployments model/image.go ArtifactInfo.Validate: In(1, 2, 3); app.go
// getMetaFromArchive merges depends/provides only for version 3). Layout: `version`, `manifest`,
// optional `manifest.sig`, `header.tar.gz` (header-info {artifact_name, updates[{type}],
// device_types_compatible}, headers/NNNN/{files,type-info,meta-data}), `data/NNNN.tar.gz`. Checksums
// from the manifest are verified for the header and every payload file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { badRequest } from './errors.js';

export interface ArtifactV2Info {
  name: string;
  deviceTypes: string[];
  signed: boolean;
  payloads: {
    type: string;
    metaData?: Record<string, unknown>;
    files: { name: string; checksum: string; size: number; modified?: string }[];
  }[];
  size: number;
  sha256: string;
}

const bad = (why: string) => badRequest(`reading artifact error: ${why}`);

async function readAll(stream: Readable, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) throw bad('header part too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function json(buf: Buffer, what: string): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    throw bad(`${what} is not JSON`);
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read a format-2 artifact file; a malformed one is a 400 in the deployments service's words. */
export async function readArtifactV2(path: string): Promise<ArtifactV2Info> {
  const sums = new Map<string, string>();
  let sawVersion = false;
  let signed = false;
  let header:
    { name: string; types: string[]; deviceTypes: string[]; meta: Map<number, Record<string, unknown>> } | undefined;
  const files = new Map<number, { name: string; checksum: string; size: number; modified?: string }[]>();
  const fileHash = createHash('sha256');

  const outer = tar.extract();
  const src = createReadStream(path);
  src.on('data', (c) => fileHash.update(c as Buffer));
  src.pipe(outer);
  for await (const entry of outer) {
    const name = entry.header.name;
    if (name === 'version') {
      const v = json(await readAll(entry), 'version');
      if (!isObj(v) || v.format !== 'mender' || v.version !== 2) throw bad('not a format version 2 artifact');
      sawVersion = true;
    } else if (name === 'manifest') {
      for (const line of (await readAll(entry)).toString('utf8').split('\n')) {
        const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim());
        if (m?.[1] && m[2]) sums.set(m[2], m[1]);
      }
    } else if (name === 'manifest.sig') {
      signed = (await readAll(entry)).length > 0;
    } else if (name === 'header.tar.gz') {
      const raw = await readAll(entry, 16 * 1024 * 1024);
      if (sums.get(name) !== sha(raw)) throw bad('invalid checksum of header.tar.gz');
      header = await readHeader(raw);
    } else if (/^data\/\d{4}\.tar\.gz$/.test(name)) {
      const index = Number(name.slice(5, 9));
      files.set(index, await readData(entry, index, sums));
    } else {
      entry.resume();
      throw bad(`unexpected entry '${name}'`);
    }
  }
  if (!sawVersion) throw bad("no 'version' entry");
  if (!header) throw bad('no header.tar.gz entry');
  const h = header;
  return {
    name: h.name,
    deviceTypes: h.deviceTypes,
    signed,
    payloads: h.types.map((type, i) => {
      const meta = h.meta.get(i);
      return { type, ...(meta ? { metaData: meta } : {}), files: files.get(i) ?? [] };
    }),
    size: (await stat(path)).size,
    sha256: fileHash.digest('hex'),
  };
}

async function readHeader(raw: Buffer) {
  const inner = tar.extract();
  const gunzip = createGunzip();
  gunzip.on('error', (e) => inner.destroy(e));
  gunzip.pipe(inner);
  gunzip.end(raw);
  let info: Record<string, unknown> | undefined;
  const meta = new Map<number, Record<string, unknown>>();
  try {
    for await (const entry of inner) {
      const buf = await readAll(entry);
      if (entry.header.name === 'header-info') {
        const v = json(buf, 'header-info');
        if (!isObj(v)) throw bad('header-info is not an object');
        info = v;
      }
      const m = /^headers\/(\d{4})\/meta-data$/.exec(entry.header.name);
      if (m) {
        const v = json(buf, entry.header.name);
        if (v !== undefined && !isObj(v)) throw bad(`${entry.header.name} is not an object`);
        if (v && Object.keys(v).length) meta.set(Number(m[1]), v);
      }
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'SimHttpError') throw e;
    throw bad('header.tar.gz is not a gzip tar');
  }
  const name = info?.artifact_name;
  const types = info?.updates;
  const deviceTypes = info?.device_types_compatible;
  if (typeof name !== 'string' || name === '') throw bad('header-info has no artifact_name');
  if (!Array.isArray(types) || !types.every((u) => isObj(u) && typeof u.type === 'string')) {
    throw bad('header-info has no updates');
  }
  if (!Array.isArray(deviceTypes) || deviceTypes.length === 0 || !deviceTypes.every((d) => typeof d === 'string')) {
    throw bad('header-info has no device_types_compatible');
  }
  return {
    name,
    types: types.map((u) => String((u as { type: string }).type)),
    deviceTypes: deviceTypes,
    meta,
  };
}

async function readData(entry: Readable, index: number, sums: Map<string, string>) {
  const inner = tar.extract();
  const gunzip = createGunzip();
  gunzip.on('error', (e) => inner.destroy(e));
  entry.pipe(gunzip).pipe(inner);
  const out: { name: string; checksum: string; size: number; modified?: string }[] = [];
  try {
    for await (const f of inner) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of f) {
        hash.update(c);
        size += c.length;
      }
      const checksum = hash.digest('hex');
      const key = `data/${String(index).padStart(4, '0')}/${f.header.name}`;
      if (sums.get(key) !== checksum) throw bad(`invalid checksum of ${key}`);
      out.push({
        name: f.header.name,
        checksum,
        size,
        ...(f.header.mtime ? { modified: f.header.mtime.toISOString() } : {}),
      });
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'SimHttpError') throw e;
    throw bad('payload is not a gzip tar');
  }
  return out;
}
