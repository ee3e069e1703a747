// A streaming reader of the Mender artifact file format, version 3 (RECIPE §2.2): the outer tar holds
// `version`, `manifest`, optional `manifest.sig`, `header.tar[.gz|.xz]` and `data/NNNN.tar[.gz|.xz]`.
// Only the small header parts are held in memory; payload data is streamed through a hash and dropped,
// so a multi-GiB rootfs artifact costs a pass over the bytes, never their size in RAM.
// Used by the Mender simulator (upload), packaging (verify) and the bridge (artifact facts).
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Duplex, PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { VanError } from './errors.js';

export type ArtifactCompression = 'none' | 'gzip' | 'xz';

export interface ArtifactPayloadFile {
  name: string;
  size: number;
  /** sha256 from the manifest, checked against the bytes. */
  checksum: string;
  /** mtime of the file inside the data tar. */
  modified?: string;
}

export interface ArtifactPayload {
  index: number;
  /** From header-info `payloads[i].type` (rootfs-image artifacts leave type-info's `type` empty). */
  type: string;
  provides: Record<string, string>;
  /** Type-info depends: mender-artifact writes a string for `-d key:value`, a list for repeated keys. */
  depends: Record<string, string | string[]>;
  clearsProvides: string[];
  /** headers/NNNN/meta-data, verbatim JSON (absent when the artifact has none). */
  metaData?: Record<string, unknown>;
  files: ArtifactPayloadFile[];
}

export interface ArtifactHeaderDepends {
  device_type: string[];
  artifact_name?: string[];
  artifact_group?: string[];
}

export interface ArtifactFileInfo {
  name: string;
  format: 'mender';
  version: 3;
  /** artifact_depends.device_type of header-info. */
  deviceTypes: string[];
  /** header-info artifact_provides (artifact_name, artifact_group). */
  provides: Record<string, string>;
  /** header-info artifact_depends. */
  depends: ArtifactHeaderDepends;
  payloads: ArtifactPayload[];
  /**
   * Artifact state script names (scripts/ in the header), sorted: the client runs them in lexical order,
   * and mender-artifact writes them in no fixed order.
   */
  scripts: string[];
  /** A manifest.sig is present. Not verified here: that needs the key (mender-artifact validate -k). */
  signed: boolean;
  compression: ArtifactCompression;
  /** Byte size of the whole .mender file. */
  size: number;
  /** sha256 (hex) of the whole .mender file. */
  sha256: string;
}

export interface ReadArtifactOptions {
  /** Cap on the decompressed header (scripts included); default 64 MiB. */
  maxHeaderBytes?: number;
  /** The xz decompressor to spawn for .xz parts; default `xz`. */
  xzCommand?: string;
}

const SMALL_LIMIT = 1024 * 1024;

function invalid(reason: string, cause?: unknown): VanError {
  return new VanError('INPUT_INVALID', `not a valid Mender artifact (format 3): ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Read an artifact from a file on disk (streamed). */
export async function readArtifactFile(path: string, options: ReadArtifactOptions = {}): Promise<ArtifactFileInfo> {
  return readArtifactStream(createReadStream(path), options);
}

/** Read an artifact from any byte stream (an upload, a download). The stream is consumed to its end. */
export async function readArtifactStream(
  input: Readable,
  options: ReadArtifactOptions = {},
): Promise<ArtifactFileInfo> {
  const whole = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      whole.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const extract = tar.extract();
  const feed = pipeline(input, tap, extract);
  const parsed = await withTar(extract, feed, undefined, () => parseOuter(extract, options)).catch((e: unknown) => {
    input.destroy();
    // Less than one tar header plus the end marker: it was never a tar, not a cut-short artifact.
    if (size < 1024 && e instanceof VanError && /truncated/.test(e.message)) {
      throw invalid('the file is too short to be a tar archive');
    }
    throw e;
  });
  return { ...parsed, size, sha256: whole.digest('hex') };
}

function asInvalid(e: unknown): VanError {
  if (e instanceof VanError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/Unexpected end of data|premature close|unexpected end of file/i.test(msg))
    return invalid('the file is truncated', e);
  if (/Invalid tar header|corrupted/i.test(msg)) return invalid('not a tar archive (or a corrupted one)', e);
  if (/incorrect header check|invalid (block type|distance|stored block)/i.test(msg)) {
    return invalid('a compressed part is corrupted', e);
  }
  return invalid(msg.split('\n')[0] ?? 'unreadable', e);
}

interface Manifest {
  /** path → sha256 */
  sums: Map<string, string>;
}

async function readSmall(entry: Readable, what: string, limit = SMALL_LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw invalid(`${what} is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw invalid(`${what} is not JSON`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`${what} must be a list of strings`);
  return v;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw invalid(`${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw invalid(`${what}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

function dependsMap(v: unknown, what: string): Record<string, string | string[]> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw invalid(`${what} must be an object`);
  const out: Record<string, string | string[]> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') out[k] = x;
    else out[k] = stringList(x, `${what}.${k}`);
  }
  return out;
}

async function drain(entry: Readable): Promise<void> {
  for await (const _chunk of entry as AsyncIterable<Buffer>) {
    // discard
  }
}

function hashOf(): { hash: Hash; tap: Transform } {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { hash, tap };
}

function compressionOf(name: string, base: string): ArtifactCompression {
  if (name === base) return 'none';
  if (name === `${base}.gz`) return 'gzip';
  if (name === `${base}.xz`) return 'xz';
  if (name === `${base}.zst`) throw invalid(`${name}: zstd compression is not supported (use none, gzip or lzma)`);
  throw invalid(`unexpected entry '${name}'`);
}

interface Decompressor {
  stream: Duplex;
  /** Set as soon as the decompressor failed on its own (before anyone destroyed its streams). */
  failure: { error?: VanError };
  /** Settles when the decompressor has finished; rejects with the reason when it failed (xz exit, missing tool). */
  done: Promise<void>;
}

/** A decompressing stream for one part; xz goes through the xz tool (Debian: xz-utils). */
function decompressor(kind: ArtifactCompression, options: ReadArtifactOptions): Decompressor {
  if (kind === 'none') return { stream: new PassThrough(), failure: {}, done: Promise.resolve() };
  if (kind === 'gzip') return { stream: createGunzip(), failure: {}, done: Promise.resolve() };
  const cmd = options.xzCommand ?? 'xz';
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const stream = Duplex.from({ writable: child.stdin, readable: child.stdout });
  const failure: { error?: VanError } = {};
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? invalid(`an xz-compressed part needs the '${cmd}' tool (apt-get install xz-utils)`)
          : invalid(`xz failed: ${e.message}`),
      );
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else {
        const why = Buffer.concat(stderr).toString().trim() || `exit ${String(code)}`;
        reject(invalid(`an xz-compressed part is corrupted (${why})`));
      }
    });
  });
  done.catch((e: unknown) => {
    failure.error ??= asInvalid(e);
    stream.destroy(failure.error);
  });
  return { stream, failure, done };
}

/**
 * Run `consume` over the entries of a tar fed by `feed` (a pipeline ending in `extract`). Whatever
 * fails first wins: the consumer, the decompressor (its own message is the clearest) or the feed.
 */
async function withTar<T>(
  extract: tar.Extract,
  feed: Promise<void>,
  decomp: Decompressor | undefined,
  consume: () => Promise<T>,
): Promise<T> {
  let feedError: unknown;
  const fed = feed.catch((e: unknown) => {
    feedError = e;
  });
  let result: T;
  try {
    result = await consume();
  } catch (e) {
    // A decompressor that failed first is the root cause (missing xz, corrupt stream); otherwise the
    // consumer's own complaint is, and the decompressor's later failure is just our teardown.
    const rootCause = decomp?.failure.error;
    extract.destroy();
    await fed;
    await decomp?.done.catch(() => undefined);
    throw rootCause ?? asInvalid(e);
  }
  await fed;
  if (decomp?.failure.error) throw decomp.failure.error;
  await decomp?.done;
  if (feedError !== undefined) throw asInvalid(feedError);
  return result;
}

async function parseOuter(
  extract: tar.Extract,
  options: ReadArtifactOptions,
): Promise<Omit<ArtifactFileInfo, 'size' | 'sha256'>> {
  let step: 'version' | 'manifest' | 'after-manifest' | 'data' = 'version';
  let manifest: Manifest | undefined;
  let signed = false;
  let header: HeaderParts | undefined;
  let compression: ArtifactCompression = 'none';
  const dataSeen = new Set<number>();
  /** Checksums of outer entries; compared with the manifest at the end (the manifest comes second). */
  const pendingSums = new Map<string, string>();
  let sawEntry = false;

  for await (const entry of extract) {
    sawEntry = true;
    const name = entry.header.name;
    if (entry.header.type !== 'file' && entry.header.type !== 'contiguous-file') {
      entry.resume();
      throw invalid(`unexpected ${entry.header.type ?? 'unknown'} entry '${name}'`);
    }
    if (step === 'version') {
      if (name !== 'version') throw invalid(`the first entry must be 'version', found '${name}'`);
      const { hash, tap } = hashOf();
      const buf = await readSmall(entry.pipe(tap), 'version', 4096);
      const v = parseJson(buf, 'version');
      if (!isRecord(v) || v.format !== 'mender') throw invalid("version: format is not 'mender'");
      if (v.version !== 3)
        throw invalid(`unsupported version ${JSON.stringify(v.version)}; only format version 3 is read`);
      pendingSums.set('version', hash.digest('hex'));
      step = 'manifest';
      continue;
    }
    if (step === 'manifest') {
      if (name !== 'manifest') throw invalid(`expected 'manifest' after 'version', found '${name}'`);
      manifest = parseManifest(await readSmall(entry, 'manifest'));
      step = 'after-manifest';
      continue;
    }
    if (step === 'after-manifest') {
      if (name === 'manifest.sig') {
        const sig = await readSmall(entry, 'manifest.sig', 64 * 1024);
        if (sig.length === 0) throw invalid('manifest.sig is empty');
        signed = true;
        continue;
      }
      if (name.startsWith('manifest-augment') || name.startsWith('header-augment')) {
        // Augmented (delta) artifacts carry a second manifest and header; their parts are not needed here.
        entry.resume();
        continue;
      }
      if (!name.startsWith('header.tar')) throw invalid(`expected the header after the manifest, found '${name}'`);
      compression = compressionOf(name, 'header.tar');
      const { hash, tap } = hashOf();
      header = await parseHeader(entry.pipe(tap), compression, options);
      pendingSums.set(name, hash.digest('hex'));
      step = 'data';
      continue;
    }
    // data/NNNN.tar[.gz|.xz]
    const m = /^data\/(\d{4})\.tar(\.gz|\.xz|\.zst)?$/.exec(name);
    if (!m || !header) throw invalid(`unexpected entry '${name}'`);
    const index = Number(m[1]);
    const payload = header.payloads[index];
    if (!payload) throw invalid(`${name} has no payload in header-info`);
    if (dataSeen.has(index)) throw invalid(`${name} appears twice`);
    dataSeen.add(index);
    const kind = compressionOf(name, `data/${m[1]}.tar`);
    payload.files = await parseData(entry, kind, m[1] ?? '0000', manifest, options);
  }

  if (!sawEntry) throw invalid('the file is empty or not a tar archive');
  if (step === 'version') throw invalid("no 'version' entry");
  if (!manifest) throw invalid("no 'manifest' entry");
  if (!header) throw invalid('no header.tar entry');
  for (const [path, sum] of pendingSums) {
    const want = manifest.sums.get(path);
    if (want === undefined) throw invalid(`the manifest does not list '${path}'`);
    if (want !== sum) throw invalid(`invalid checksum for '${path}'`);
  }
  for (const p of header.payloads) {
    if (!dataSeen.has(p.index) && manifestHasData(manifest, p.index)) {
      throw invalid(`data for payload ${String(p.index).padStart(4, '0')} is missing`);
    }
  }
  return {
    name: header.name,
    format: 'mender',
    version: 3,
    deviceTypes: header.depends.device_type,
    provides: header.provides,
    depends: header.depends,
    payloads: header.payloads,
    scripts: header.scripts,
    signed,
    compression,
  };
}

function parseManifest(buf: Buffer): Manifest {
  const sums = new Map<string, string>();
  for (const line of buf.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-f]{64}) {2}(\S.*)$/.exec(line);
    if (!m?.[1] || !m[2])
      throw invalid(`manifest line is not '<sha256>  <path>': ${JSON.stringify(line.slice(0, 80))}`);
    sums.set(m[2], m[1]);
  }
  return { sums };
}

function manifestHasData(manifest: Manifest, index: number): boolean {
  const prefix = `data/${String(index).padStart(4, '0')}/`;
  for (const k of manifest.sums.keys()) if (k.startsWith(prefix)) return true;
  return false;
}

interface HeaderParts {
  name: string;
  provides: Record<string, string>;
  depends: ArtifactHeaderDepends;
  payloads: ArtifactPayload[];
  scripts: string[];
}

async function parseHeader(
  raw: Readable,
  kind: ArtifactCompression,
  options: ReadArtifactOptions,
): Promise<HeaderParts> {
  const limit = options.maxHeaderBytes ?? 64 * 1024 * 1024;
  const decomp = decompressor(kind, options);
  let total = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      total += chunk.length;
      if (total > limit) cb(invalid(`the header is larger than ${limit} bytes`));
      else cb(null, chunk);
    },
  });
  const inner = tar.extract();
  const feed = pipeline(raw, decomp.stream, cap, inner);

  let info: Record<string, unknown> | undefined;
  const scripts: string[] = [];
  const typeInfo = new Map<number, Record<string, unknown>>();
  const metaData = new Map<number, Record<string, unknown>>();
  await withTar(inner, feed, decomp, async () => {
    for await (const entry of inner) {
      const name = entry.header.name;
      if (name === 'header-info') {
        const v = parseJson(await readSmall(entry, 'header-info'), 'header-info');
        if (!isRecord(v)) throw invalid('header-info must be an object');
        info = v;
        continue;
      }
      const m = /^headers\/(\d{4})\/(type-info|meta-data)$/.exec(name);
      if (m) {
        const idx = Number(m[1]);
        const buf = await readSmall(entry, name);
        if (m[2] === 'meta-data' && buf.toString('utf8').trim() === '') continue;
        const v = parseJson(buf, name);
        if (!isRecord(v)) throw invalid(`${name} must be a JSON object`);
        (m[2] === 'meta-data' ? metaData : typeInfo).set(idx, v);
        continue;
      }
      if (name.startsWith('scripts/')) scripts.push(name.slice('scripts/'.length));
      // Script bodies and unknown header files (future additions) are skipped, as mender-artifact does.
      await drain(entry);
    }
  });

  if (!info) throw invalid('header-info is missing');
  const provides = stringMap(info.artifact_provides, 'header-info artifact_provides');
  const name = provides.artifact_name;
  if (!name) throw invalid('header-info has no artifact_provides.artifact_name');
  const dependsRaw = isRecord(info.artifact_depends) ? info.artifact_depends : {};
  const deviceTypes = stringList(dependsRaw.device_type, 'artifact_depends.device_type');
  if (deviceTypes.length === 0) throw invalid('header-info has no artifact_depends.device_type');
  const depends: ArtifactHeaderDepends = { device_type: deviceTypes };
  const an = stringList(dependsRaw.artifact_name, 'artifact_depends.artifact_name');
  if (an.length) depends.artifact_name = an;
  const ag = stringList(dependsRaw.artifact_group, 'artifact_depends.artifact_group');
  if (ag.length) depends.artifact_group = ag;
  if (!Array.isArray(info.payloads) || info.payloads.length === 0) throw invalid('header-info lists no payloads');

  const payloads: ArtifactPayload[] = info.payloads.map((p: unknown, index) => {
    if (!isRecord(p) || typeof p.type !== 'string') throw invalid(`header-info payloads[${index}].type is missing`);
    const ti = typeInfo.get(index);
    if (!ti) throw invalid(`headers/${String(index).padStart(4, '0')}/type-info is missing`);
    const md = metaData.get(index);
    return {
      index,
      type: p.type,
      provides: stringMap(ti.artifact_provides, `type-info ${index} artifact_provides`),
      depends: dependsMap(ti.artifact_depends, `type-info ${index} artifact_depends`),
      clearsProvides: stringList(ti.clears_artifact_provides, `type-info ${index} clears_artifact_provides`),
      ...(md ? { metaData: md } : {}),
      files: [],
    };
  });
  return { name, provides, depends, payloads, scripts: scripts.sort() };
}

async function parseData(
  raw: Readable,
  kind: ArtifactCompression,
  index: string,
  manifest: Manifest | undefined,
  options: ReadArtifactOptions,
): Promise<ArtifactPayloadFile[]> {
  const decomp = decompressor(kind, options);
  const inner = tar.extract();
  const feed = pipeline(raw, decomp.stream, inner);
  const files: ArtifactPayloadFile[] = [];
  await withTar(inner, feed, decomp, async () => {
    for await (const entry of inner) {
      const h = entry.header;
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        n += chunk.length;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') continue;
      const path = `data/${index}/${h.name}`;
      const sum = hash.digest('hex');
      const want = manifest?.sums.get(path);
      if (want === undefined) throw invalid(`the manifest does not list '${path}'`);
      if (want !== sum) throw invalid(`invalid checksum for '${path}'`);
      files.push({ name: h.name, size: n, checksum: sum, ...(h.mtime ? { modified: h.mtime.toISOString() } : {}) });
    }
  });
  return files;
}

/**
 * All provides of an artifact merged the way mender-artifact's reader does (MergeArtifactProvides):
 * header-info provides plus every payload's type-info provides.
 */
export function mergedProvides(info: ArtifactFileInfo): Record<string, string> {
  const out: Record<string, string> = { ...info.provides };
  for (const p of info.payloads) Object.assign(out, p.provides);
  return out;
}

/**
 * All depends merged like mender-artifact's MergeArtifactDepends: header-info depends (non-empty lists)
 * plus every payload's type-info depends, whose values stay as written (a string for `-d k:v`).
 */
export function mergedDepends(info: ArtifactFileInfo): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...info.depends };
  for (const p of info.payloads) Object.assign(out, p.depends);
  return out;
}

/** clears_artifact_provides of every payload, in order, without duplicates. */
export function mergedClearsProvides(info: ArtifactFileInfo): string[] {
  return [...new Set(info.payloads.flatMap((p) => p.clearsProvides))];
}
