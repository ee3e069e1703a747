// The artifact store's presigned download links, standing in for Mender's S3/MinIO links: the device GETs
// them without an Authorization header (RECIPE §6.2), so the link itself carries an expiry and an HMAC.
// The reply has a Content-Length (the client refuses unknown sizes) and is streamed from disk; a single
// `Range` is honoured.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SimHttpError, notFound } from '../errors.js';
import { param, qOne, queryOf, type SimContext } from '../http.js';
import type { ArtifactRec } from '../model.js';

export const STORAGE_PATH = '/api/storage/v1/artifacts';

/** An ISO time with only form-safe characters besides `:` (years 0000–9999). */
const PLAIN_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export function downloadLink(ctx: SimContext, a: ArtifactRec, seconds: number): { uri: string; expire: string } {
  return downloadLinkAt(ctx, a, ctx.store.now + seconds * 1000);
}

/** The download link of `a` that expires at `expireMs` (epoch ms). */
export function downloadLinkAt(ctx: SimContext, a: ArtifactRec, expireMs: number): { uri: string; expire: string } {
  const expire = new Date(expireMs).toISOString();
  const sig = ctx.store.signer.mac(`${a.id}\n${expire}`);
  // The query as URLSearchParams writes it; the hot path (every 200 on deployments/next) spells it out:
  // in a plain ISO time only `:` needs escaping and the signature is hex.
  const q = PLAIN_ISO.test(expire)
    ? `x-men-expire=${expire.replaceAll(':', '%3A')}&x-men-signature=${sig}`
    : new URLSearchParams({ 'x-men-expire': expire, 'x-men-signature': sig }).toString();
  return {
    uri: `${ctx.publicUrl()}${STORAGE_PATH}/${a.id}/${encodeURIComponent(a.name)}.mender?${q}`,
    expire,
  };
}

/** Artifacts up to this size are kept in memory after their first download (they are immutable). */
const MEMORY_MAX_BYTES = 8 * 1024 * 1024;

export function storageRoutes(app: FastifyInstance, ctx: SimContext): void {
  // A stored artifact file never changes (new uploads get new IDs), and a fleet downloads the same one
  // thousands of times: small ones are served from memory instead of stat/open/read/close per download.
  // Keyed by the record, so a deleted artifact's bytes go with it; a failed read is not kept.
  const inMemory = new WeakMap<ArtifactRec, Promise<Buffer | undefined>>();
  const bytesOf = (a: ArtifactRec, path: string): Promise<Buffer | undefined> | undefined => {
    if (a.size > MEMORY_MAX_BYTES) return undefined;
    let p = inMemory.get(a);
    if (!p) {
      p = readFile(path).catch(() => {
        inMemory.delete(a);
        return undefined;
      });
      inMemory.set(a, p);
    }
    return p;
  };

  const serve = async (req: FastifyRequest, reply: FastifyReply, head: boolean): Promise<FastifyReply> => {
    const q = queryOf(req);
    const expire = qOne(q, 'x-men-expire') ?? '';
    const sig = qOne(q, 'x-men-signature') ?? '';
    const id = param(req, 'id');
    const expireMs = Date.parse(expire);
    if (!expire || !sig || Number.isNaN(expireMs)) throw new SimHttpError(400, 'invalid request parameters');
    if (ctx.store.signer.mac(`${id}\n${expire}`) !== sig) throw new SimHttpError(403, 'signature invalid');
    if (expireMs < ctx.store.now) throw new SimHttpError(403, 'URL expired');
    const a = ctx.store.artifact(id);
    if (!a) throw notFound();
    const path = join(ctx.dataDir, a.file);
    const cached = bytesOf(a, path);
    const bytes = cached ? await cached : undefined;
    const size = bytes ? bytes.length : (await stat(path).catch(() => undefined))?.size;
    if (size === undefined) throw notFound();
    reply.header('Content-Type', 'application/vnd.mender-artifact').header('Accept-Ranges', 'bytes');
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(Number(range[2]), size - 1);
      } else {
        start = Math.max(0, size - Number(range[2]));
      }
      if (start > end || start >= size) {
        return reply.code(416).header('Content-Range', `bytes */${size}`).send();
      }
      reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
    } else {
      reply.code(200);
    }
    reply.header('Content-Length', String(end - start + 1));
    if (head) return reply.send();
    return reply.send(bytes ? bytes.subarray(start, end + 1) : createReadStream(path, { start, end }));
  };

  app.get(`${STORAGE_PATH}/:id/:file`, { exposeHeadRoute: false }, (req, reply) => serve(req, reply, false));
  app.head(`${STORAGE_PATH}/:id/:file`, (req, reply) => serve(req, reply, true));
}
