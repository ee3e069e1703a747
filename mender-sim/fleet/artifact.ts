// The artifact download of a virtual device (RECIPE §6.2): GET the deployment's source URI without an
// Authorization header, refuse an unknown size or one under 4096 bytes as the client does, read the whole
// body and check it against Content-Length. The header (name, provides, meta-data) is parsed with the
// project's streaming reader once per artifact URL for the whole fleet — every device would read the same
// bytes — and the other devices just count the bytes through. For a `vancore-vpn` artifact the device also
// reads the payload's `vancore-index.json` (the step lives there, not in the meta-data), as the module does.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { mergedProvides, readArtifactStream, type ArtifactFileInfo } from '../../core/artifact-file.js';
import { PAYLOAD_INDEX_FILE, VpnIndex } from '../../core/schemas/payload-index.js';
import type { HttpPool } from './http-pool.js';
import type { ArtifactFacts } from './machine.js';

export interface DownloadResult {
  status: number;
  artifact?: ArtifactFacts;
  error?: string;
  bytes: number;
}

const COMPONENT_PROVIDE = /^vancore\.([a-z][a-z0-9_]{0,31})\.version$/;
const NAME_PATTERN = /^vancore-([a-z][a-z0-9_]{0,31})-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)$/;

const INDEX_LIMIT = 64 * 1024;

/** `xz -dc` between a compressed entry and a tar extractor. */
function unxz(input: Readable, into: NodeJS.WritableStream): Promise<void> {
  const child = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`xz exited ${code}`))));
  });
  return Promise.all([pipeline(input, child.stdin), pipeline(child.stdout, into), exited]).then(() => undefined);
}

/**
 * The first payload's `vancore-index.json` (data/0000.tar, .tar.gz or .tar.xz — lzma through the xz tool,
 * as the client reads it; other compressions are not read), or undefined. Consumes the whole stream;
 * never throws.
 */
export async function readPayloadIndex(input: Readable): Promise<unknown> {
  const outer = tar.extract();
  let found: unknown;
  outer.on('entry', (header, stream, next) => {
    const m = /^data\/0000\.tar(\.gz|\.xz)?$/.exec(header.name);
    if (!m || found !== undefined) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    const inner = tar.extract();
    inner.on('entry', (h, s, n) => {
      if (h.name !== PAYLOAD_INDEX_FILE || (h.size ?? 0) > INDEX_LIMIT) {
        s.on('end', () => n());
        s.resume();
        return;
      }
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        try {
          found = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        } catch {
          /* not JSON: no index */
        }
        n();
      });
    });
    const unpack =
      m[1] === '.gz'
        ? pipeline(stream, createGunzip(), inner)
        : m[1] === '.xz'
          ? unxz(stream, inner)
          : pipeline(stream, inner);
    unpack.then(
      () => next(),
      () => {
        stream.resume();
        next();
      },
    );
  });
  await pipeline(input, outer).catch(() => input.resume());
  return found;
}

/** What a device learns from an artifact: provides first, then the VanCore meta-data, then the name. */
export function artifactFacts(
  info: Pick<ArtifactFileInfo, 'name' | 'provides' | 'payloads'>,
  index?: unknown,
): ArtifactFacts {
  const provides = mergedProvides(info as ArtifactFileInfo);
  const versions: Record<string, string> = {};
  for (const [k, v] of Object.entries(provides)) {
    const m = COMPONENT_PROVIDE.exec(k);
    if (m?.[1]) versions[m[1]] = v;
  }
  if (Object.keys(versions).length === 0) {
    for (const p of info.payloads) {
      const vc = p.metaData?.vancore as { component?: unknown; version?: unknown } | undefined;
      if (typeof vc?.component === 'string' && typeof vc.version === 'string') versions[vc.component] = vc.version;
    }
  }
  if (Object.keys(versions).length === 0) {
    const m = NAME_PATTERN.exec(info.name);
    if (m?.[1] && m[2]) versions[m[1]] = m[2];
  }
  const vpn = info.payloads[0]?.type === 'vancore-vpn' ? VpnIndex.safeParse(index) : undefined;
  const depends = Object.assign({}, ...info.payloads.map((p) => p.depends ?? {})) as Record<string, string | string[]>;
  const revertOf = info.payloads
    .map((p) => (p.metaData?.vancore as { revert_of?: unknown } | undefined)?.revert_of)
    .find((r): r is string => typeof r === 'string');
  return {
    name: info.name,
    versions,
    provides,
    ...(Object.keys(depends).length ? { depends } : {}),
    ...(vpn?.success ? { vpnStep: vpn.data.step } : {}),
    ...(revertOf ? { revertOf } : {}),
  };
}

export class ArtifactDownloader {
  readonly #facts = new Map<string, Promise<ArtifactFacts>>();
  readonly #pool: HttpPool;

  constructor(pool: HttpPool) {
    this.#pool = pool;
  }

  async download(uri: string): Promise<DownloadResult> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return { status: 0, bytes: 0, error: `bad artifact URI: ${uri.slice(0, 200)}` };
    }
    let res;
    try {
      res = await this.#pool.get(url);
    } catch (e) {
      return { status: 0, bytes: 0, error: `download failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      return { status, bytes: 0 };
    }
    const header = res.headers['content-length'];
    const expected = header === undefined ? NaN : Number(header);
    if (!Number.isFinite(expected)) {
      res.destroy();
      return { status, bytes: 0, error: 'Will not continue with unknown image size.' };
    }
    if (expected < 4096) {
      res.destroy();
      return { status, bytes: 0, error: 'Image size is smaller than expected. Aborting.' };
    }

    const key = `${url.origin}${url.pathname}`;
    let facts = this.#facts.get(key);
    let bytes = 0;
    try {
      if (facts) {
        await new Promise<void>((resolve, reject) => {
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.once('end', resolve);
          res.once('error', reject);
          res.once('aborted', () => reject(new Error('connection closed mid-download')));
        });
      } else {
        // The first download of an artifact is read whole, then parsed twice from memory (its header and
        // its payload index). Teeing the live response into two tar parsers deadlocked when one of them
        // paused (backpressure on one side starved the other); test artifacts are small, and later
        // downloads of the same artifact only count bytes.
        const chunks: Buffer[] = [];
        await new Promise<void>((resolve, reject) => {
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            chunks.push(c);
          });
          res.once('end', resolve);
          res.once('error', reject);
          res.once('aborted', () => reject(new Error('connection closed mid-download')));
        });
        const body = Buffer.concat(chunks);
        const parsed = Promise.all([
          readArtifactStream(Readable.from([body])),
          readPayloadIndex(Readable.from([body])),
        ]).then(([info, idx]) => artifactFacts(info, idx));
        facts = parsed;
        this.#facts.set(key, parsed);
        parsed.catch(() => this.#facts.delete(key));
        await parsed;
      }
    } catch (e) {
      res.destroy();
      return { status, bytes, error: `download failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (bytes !== expected) {
      return { status, bytes, error: `download failed: got ${bytes} bytes, Content-Length said ${expected}` };
    }
    try {
      return { status, bytes, artifact: await facts };
    } catch (e) {
      return { status, bytes, error: `invalid artifact: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}
