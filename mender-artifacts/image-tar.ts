// `docker save` tarballs on the build machine, read by seeking: only the 512-byte tar headers and the
// small JSON parts (manifest.json, image configs) are read, so listing the layers of a 500 MB bundle
// costs milliseconds. Both layouts `docker save` has written are understood: the legacy one
// (Docker ≤ 24: `<id>/layer.tar`, `<id>.json`) and the OCI one (Docker ≥ 25: `blobs/sha256/<hex>`),
// since both carry `manifest.json` with `Config` and `Layers` paths. Layer files are uncompressed tars
// there, so their sha256 is the layer's diff id (checked when a layer is copied, never assumed).
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { VanError } from '../core/errors.js';

export interface TarEntry {
  name: string;
  /** Byte offset of the entry's data in the file. */
  offset: number;
  size: number;
  /** '0' file, '2' symlink, '5' directory, … (ustar typeflag). */
  type: string;
  linkname: string;
}

export interface SavedImage {
  /** RepoTags of the manifest entry (may be empty: saved by id). */
  refs: string[];
  /** `sha256:<hex>` of the config bytes: the image id docker load gives it. */
  id: string;
  config: TarEntry;
  /** Per layer in order: its diff id (from the config) and the tar entry holding it. */
  layers: { digest: string; entry: TarEntry }[];
}

const BLOCK = 512;
const MAX_JSON = 4 * 1024 * 1024;

const invalid = (msg: string) => new VanError('INPUT_INVALID', msg);

function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

function octal(buf: Buffer, start: number, len: number): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit of the first byte.
  if ((buf[start] ?? 0) & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + (buf[i] ?? 0);
    return n;
  }
  const s = cstr(buf, start, len).trim();
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function paxRecords(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(buf.toString('utf8', i, sp));
    if (!Number.isInteger(len) || len <= 0) break;
    const rec = buf.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

async function readAt(fh: FileHandle, offset: number, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await fh.read(buf, done, size - done, offset + done);
    if (bytesRead === 0) throw invalid(`unexpected end of file at byte ${offset + done}`);
    done += bytesRead;
  }
  return buf;
}

/** Every entry of a tar file, by its headers alone (ustar, pax and GNU long names). */
export async function indexTar(path: string): Promise<TarEntry[]> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw invalid(`cannot read ${path}: ${e.code ?? String(e)}`);
  });
  try {
    const { size: fileSize } = await fh.stat();
    const out: TarEntry[] = [];
    let pos = 0;
    let pax: Record<string, string> = {};
    let longName: string | null = null;
    let longLink: string | null = null;
    while (pos + BLOCK <= fileSize) {
      const h = await readAt(fh, pos, BLOCK);
      if (h.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
      if (sum !== octal(h, 148, 8)) throw invalid(`${path} is not a tar file (bad header checksum at byte ${pos})`);
      const type = String.fromCharCode(h[156] || 0x30);
      let size = octal(h, 124, 12);
      const data = pos + BLOCK;
      const next = data + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        const body = await readAt(fh, data, size);
        if (type === 'x') pax = paxRecords(body);
        else if (type === 'L') longName = cstr(body, 0, body.length);
        else if (type === 'K') longLink = cstr(body, 0, body.length);
        pos = next;
        continue;
      }
      const prefix = h.toString('utf8', 257, 262) === 'ustar' ? cstr(h, 345, 155) : '';
      const rawName = cstr(h, 0, 100);
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
      if (pax.size !== undefined) size = Number(pax.size);
      const linkname = pax.linkpath ?? longLink ?? cstr(h, 157, 100);
      out.push({ name: name.replace(/^\.\//, ''), offset: data, size, type, linkname });
      pax = {};
      longName = null;
      longLink = null;
      pos = data + Math.ceil(size / BLOCK) * BLOCK;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** The regular-file entry `name` stands for, following symlinks (docker writes them for repeated layers). */
function resolveEntry(byName: Map<string, TarEntry>, name: string, tarball: string): TarEntry {
  let cur = posix.normalize(name);
  for (let hops = 0; hops < 8; hops++) {
    const e = byName.get(cur);
    if (!e) throw invalid(`${tarball}: manifest.json names ${name}, which is not in the tarball`);
    if (e.type === '0' || e.type === '7') return e;
    if (e.type !== '2') throw invalid(`${tarball}: ${name} is not a regular file`);
    cur = posix.normalize(posix.join(posix.dirname(cur), e.linkname));
  }
  throw invalid(`${tarball}: ${name} is a symlink loop`);
}

async function readJson(path: string, e: TarEntry, what: string): Promise<{ bytes: Buffer; doc: unknown }> {
  if (e.size > MAX_JSON) throw invalid(`${path}: ${what} is larger than ${MAX_JSON} bytes`);
  const fh = await open(path, 'r');
  try {
    const bytes = await readAt(fh, e.offset, e.size);
    try {
      return { bytes, doc: JSON.parse(bytes.toString('utf8')) as unknown };
    } catch {
      throw invalid(`${path}: ${what} is not JSON`);
    }
  } finally {
    await fh.close();
  }
}

/** The images of a `docker save` tarball: refs, image id, every layer's diff id and where it lies. */
export async function readSavedImages(path: string): Promise<SavedImage[]> {
  const entries = await indexTar(path);
  const byName = new Map(entries.map((e) => [posix.normalize(e.name), e]));
  const manifestEntry = byName.get('manifest.json');
  if (!manifestEntry) throw invalid(`${path} has no manifest.json: not a docker save tarball`);
  const { doc } = await readJson(path, manifestEntry, 'manifest.json');
  if (!Array.isArray(doc) || doc.length === 0) throw invalid(`${path}: manifest.json lists no image`);
  const out: SavedImage[] = [];
  for (const m of doc as { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[]) {
    if (typeof m.Config !== 'string' || !Array.isArray(m.Layers)) {
      throw invalid(`${path}: manifest.json entry without Config and Layers`);
    }
    const config = resolveEntry(byName, m.Config, path);
    const { bytes, doc: cfg } = await readJson(path, config, `config ${m.Config}`);
    const diffIds = (cfg as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d))) {
      throw invalid(`${path}: config ${m.Config} has no valid rootfs.diff_ids`);
    }
    if (diffIds.length !== m.Layers.length) {
      throw invalid(`${path}: config ${m.Config} lists ${diffIds.length} layers, manifest.json ${m.Layers.length}`);
    }
    out.push({
      refs: Array.isArray(m.RepoTags) ? m.RepoTags.filter((t): t is string => typeof t === 'string') : [],
      id: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      config,
      layers: (m.Layers as unknown[]).map((l, i) => {
        if (typeof l !== 'string') throw invalid(`${path}: manifest.json has a layer that is not a path`);
        return { digest: diffIds[i] as string, entry: resolveEntry(byName, l, path) };
      }),
    });
  }
  return out;
}
