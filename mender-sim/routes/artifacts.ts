// Artifacts and releases (deployments management v1 + v2, GUIDE §3). An upload is streamed to a file in
// the data dir and its header read with core/artifact-file.ts; it is never held in memory.
/* eslint-disable @typescript-eslint/require-await -- Fastify's handler idiom: a handler is async so its
   return value is the reply and a throw reaches the one error handler, even when it has nothing to await. */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  mergedClearsProvides,
  mergedDepends,
  mergedProvides,
  readArtifactFile,
  type ArtifactFileInfo,
} from '../../core/artifact-file.js';
import { isVanError } from '../../core/errors.js';
import { readArtifactV2, type ArtifactV2Info } from '../artifact-v2.js';
import { SimHttpError, badRequest, notFound } from '../errors.js';
import {
  pageHeaders,
  paginate,
  param,
  parseBody,
  qAll,
  qOne,
  queryOf,
  requireManagement,
  requireUuid,
  type SimContext,
} from '../http.js';
import type { ArtifactRec } from '../model.js';
import type { SimStore } from '../store.js';
import { artifactJson } from '../views.js';
import { downloadLink } from './storage.js';

const V1 = '/api/management/v1/deployments';
const V2 = '/api/management/v2/deployments';
/** deployments DefaultDownloadLinkExpire [code]: management download links live 15 minutes. */
const MGMT_LINK_SECONDS = 15 * 60;

const EditBody = z.object({ description: z.string().optional() });
const NotesBody = z.object({ notes: z.string().max(1024).optional() });
const TagsBody = z.array(z.string().min(1).max(1024)).max(20);

function toRecord(id: string, info: ArtifactFileInfo, description: string, now: number): ArtifactRec {
  return {
    id,
    name: info.name,
    description,
    deviceTypes: info.deviceTypes,
    info: { format: info.format, version: info.version },
    signed: info.signed,
    updates: info.payloads.map((p) => ({
      type_info: { type: p.type },
      files: p.files.map((f) => ({
        name: f.name,
        checksum: f.checksum,
        size: f.size,
        ...(f.modified ? { date: f.modified } : {}),
      })),
      meta_data: p.metaData ?? {},
    })),
    provides: mergedProvides(info),
    depends: mergedDepends(info),
    clearsProvides: mergedClearsProvides(info),
    size: info.size,
    modifiedMs: now,
    file: `${id}.mender`,
    sha256: info.sha256,
  };
}

/** A format-2 artifact's record: no provides, depends or clears (only version 3 has them [code]). */
function v2Record(id: string, info: ArtifactV2Info, description: string, now: number): ArtifactRec {
  return {
    id,
    name: info.name,
    description,
    deviceTypes: info.deviceTypes,
    info: { format: 'mender', version: 2 },
    signed: info.signed,
    updates: info.payloads.map((p) => ({
      type_info: { type: p.type },
      files: p.files.map((f) => ({
        name: f.name,
        checksum: f.checksum,
        size: f.size,
        ...(f.modified ? { date: f.modified } : {}),
      })),
      meta_data: p.metaData ?? {},
    })),
    provides: {},
    depends: {},
    clearsProvides: [],
    size: info.size,
    modifiedMs: now,
    file: `${id}.mender`,
    sha256: info.sha256,
  };
}

/** `sort=field:dir` of the artifact and release lists. */
function sorter(sort: string | undefined, fields: Record<string, (a: ArtifactLike) => string | number>) {
  const [field = 'name', dir = 'asc'] = (sort ?? 'name:asc').split(':');
  const key = fields[field];
  if (!key || (dir !== 'asc' && dir !== 'desc')) throw badRequest(`invalid sort parameter: ${sort ?? ''}`);
  const sign = dir === 'asc' ? 1 : -1;
  return (a: ArtifactLike, b: ArtifactLike): number => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * sign;
  };
}

interface ArtifactLike {
  name: string;
  modifiedMs: number;
  count: number;
}

function filterArtifacts(store: SimStore, q: Record<string, string | string[] | undefined>): ArtifactRec[] {
  const name = qOne(q, 'name')?.toLowerCase();
  const description = qOne(q, 'description')?.toLowerCase();
  const deviceType = qOne(q, 'device_type');
  // [code] name is a case-insensitive substring match.
  return store
    .artifacts()
    .filter(
      (a) =>
        (!name || a.name.toLowerCase().includes(name)) &&
        (!description || a.description.toLowerCase().includes(description)) &&
        (!deviceType || a.deviceTypes.includes(deviceType)),
    );
}

export function artifactRoutes(app: FastifyInstance, ctx: SimContext): void {
  const { store } = ctx;

  app.post(`${V1}/artifacts`, async (req, reply) => {
    requireManagement(ctx, req);
    if (!req.isMultipart()) throw badRequest("request Content-Type isn't multipart/form-data");
    let description = '';
    let tmp: string | undefined;
    // [code] deployments api/http ParseMultipart (both lines): `size`, when given, must parse as an
    // integer no larger than the upload limit, and the artifact part must then be exactly that long
    // (utils.ReadExactly: shorter → unexpected EOF, longer → stream too large; both 400).
    let size: number | undefined;
    let received = 0;
    try {
      for await (const part of req.parts({ limits: { fileSize: ctx.maxArtifactBytes, parts: 16, fields: 8 } })) {
        if (part.type === 'field') {
          // Parts after the artifact are never read by Mender (it streams the artifact and stops).
          if (tmp !== undefined) continue;
          if (part.fieldname === 'description' && typeof part.value === 'string') description = part.value;
          if (part.fieldname === 'size') {
            const raw = typeof part.value === 'string' ? part.value : '';
            if (!/^[+-]?\d+$/.test(raw)) throw badRequest(`strconv.ParseInt: parsing "${raw}": invalid syntax`);
            size = Number(raw);
            if (size > ctx.maxArtifactBytes) throw badRequest('Artifact file too large');
          }
          if (part.fieldname === 'artifact') {
            throw badRequest('The last part of the multipart/form-data message should be an artifact.');
          }
          continue;
        }
        if (part.fieldname !== 'artifact' || tmp !== undefined) {
          part.file.resume();
          continue;
        }
        const path = join(ctx.dataDir, `upload-${randomUUID()}.tmp`);
        tmp = path;
        part.file.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
        await pipeline(part.file, createWriteStream(path));
      }
    } catch (e) {
      if (tmp) await rm(tmp, { force: true });
      if (e instanceof SimHttpError) throw e;
      const code = (e as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE') throw badRequest('Artifact file too large');
      throw badRequest(`failed to parse multipart message: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (tmp && size !== undefined && size > 0 && received !== size) {
      await rm(tmp, { force: true });
      throw badRequest(received < size ? 'unexpected EOF' : 'stream too large');
    }
    if (!tmp) throw badRequest('request does not contain the artifact file');
    try {
      const path = tmp;
      const id = randomUUID();
      const info = await readArtifactFile(path).catch((e: unknown) => {
        // Format 2 is accepted by both lines (artifact-v2.ts); core's reader reads format 3 only.
        if (isVanError(e) && /unsupported version 2\b/.test(e.message)) return readArtifactV2(path);
        throw isVanError(e) ? badRequest(e.message) : e;
      });
      const rec =
        'payloads' in info && 'version' in info
          ? toRecord(id, info, description, store.now)
          : v2Record(id, info, description, store.now);
      store.checkUnique(rec.name, { ...rec.depends, device_type: rec.deviceTypes });
      await rename(tmp, join(ctx.dataDir, rec.file));
      tmp = undefined;
      store.addArtifact(rec);
      return await reply.code(201).header('Location', `./management/v1/deployments/artifacts/${id}`).send();
    } finally {
      if (tmp) await rm(tmp, { force: true });
    }
  });

  // Deprecated unpaginated list.
  app.get(`${V1}/artifacts`, async (req) => {
    requireManagement(ctx, req);
    return filterArtifacts(store, queryOf(req)).map((a) => artifactJson(a, ctx.profile));
  });

  app.get(`${V1}/artifacts/list`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const cmp = sorter(qOne(q, 'sort'), { name: (a) => a.name, modified: (a) => a.modifiedMs });
    const all = filterArtifacts(store, q)
      .map((a) => ({ a, name: a.name, modifiedMs: a.modifiedMs, count: 1 }))
      .sort(cmp)
      .map((x) => x.a);
    const p = paginate(all, q, 'lenient');
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map((a) => artifactJson(a, ctx.profile));
  });

  // 4.1 only: mender-server deployments `GET /api/management/v2/deployments/artifacts` (model/image.go
  // ImageFilter): `name` exact (repeatable, ≤ 100) or one `prefix*`; `description` and `device_type` exact
  // or `prefix*`; sorted by name; page/per_page validated (per_page ≤ 500, else 400); `Link`, no total.
  if (ctx.profile === '4.1') {
    const matcher = (v: string): ((x: string) => boolean) =>
      v.endsWith('*') ? (x) => x.startsWith(v.slice(0, -1)) : (x) => x === v;
    app.get(`${V2}/artifacts`, async (req, reply) => {
      requireManagement(ctx, req);
      const q = queryOf(req);
      const names = qAll(q, 'name');
      const prefixes = names.filter((n) => n.endsWith('*'));
      if (prefixes.length && names.length > 1) {
        throw badRequest('cannot filter by both exact names and name prefix');
      }
      if (names.length > 100) throw badRequest('ExactNames: the length must be between 0 and 100.');
      const byName = names.map(matcher);
      const description = qOne(q, 'description');
      const deviceType = qOne(q, 'device_type');
      const byDescription = description ? matcher(description) : undefined;
      const byDeviceType = deviceType ? matcher(deviceType) : undefined;
      const all = store
        .artifacts()
        .filter(
          (a) =>
            (byName.length === 0 || byName.some((m) => m(a.name))) &&
            (!byDescription || byDescription(a.description)) &&
            (!byDeviceType || a.deviceTypes.some(byDeviceType)),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const p = paginate(all, q);
      pageHeaders(reply, req, p, { totalCount: false, link: 'full' });
      return p.items.map((a) => artifactJson(a, ctx.profile));
    });
  }

  app.get(`${V1}/artifacts/:id`, async (req) => {
    requireManagement(ctx, req);
    const a = store.artifact(requireUuid(param(req, 'id')));
    if (!a) throw notFound();
    return artifactJson(a, ctx.profile);
  });

  app.put(`${V1}/artifacts/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    const id = requireUuid(param(req, 'id'));
    const body = parseBody(EditBody, req.body, 'Validating request body');
    store.editArtifact(id, body.description ?? '');
    return reply.code(204).send();
  });

  app.delete(`${V1}/artifacts/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    const a = store.deleteArtifact(requireUuid(param(req, 'id')));
    await rm(join(ctx.dataDir, a.file), { force: true });
    return reply.code(204).send();
  });

  app.get(`${V1}/artifacts/:id/download`, async (req) => {
    requireManagement(ctx, req);
    const a = store.artifact(requireUuid(param(req, 'id')));
    if (!a) throw notFound();
    return downloadLink(ctx, a, MGMT_LINK_SECONDS);
  });

  // OSS: no storage limit.
  app.get(`${V1}/limits/storage`, async (req) => {
    requireManagement(ctx, req);
    return { limit: 0, usage: store.artifacts().reduce((n, a) => n + a.size, 0) };
  });

  // ------------------------------------------------------------------ releases
  const releaseJson = (name: string): Record<string, unknown> => {
    const arts = store.releaseArtifacts(name);
    const meta = store.releaseMeta(name);
    return {
      name,
      modified: new Date(Math.max(0, ...arts.map((a) => a.modifiedMs))).toISOString(),
      artifacts: arts.map((a) => artifactJson(a, ctx.profile)),
      artifacts_count: arts.length,
      tags: meta.tags,
      notes: meta.notes,
    };
  };

  const releases = (q: Record<string, string | string[] | undefined>, v2: boolean): string[] => {
    const name = qOne(q, 'name')?.toLowerCase();
    const tags = qAll(q, 'tag').map((t) => t.toLowerCase());
    const updateType = qOne(q, 'update_type');
    const deviceType = qOne(q, 'device_type');
    const description = qOne(q, 'description')?.toLowerCase();
    return store.releaseNames().filter((r) => {
      const arts = store.releaseArtifacts(r);
      // [code] v2 `name` is a case-insensitive prefix; v1 a substring.
      if (name && !(v2 ? r.toLowerCase().startsWith(name) : r.toLowerCase().includes(name))) return false;
      if (tags.length && !store.releaseMeta(r).tags.some((t) => tags.includes(t))) return false;
      if (updateType && !arts.some((a) => a.updates.some((u) => u.type_info.type === updateType))) return false;
      if (deviceType && !arts.some((a) => a.deviceTypes.includes(deviceType))) return false;
      if (description && !arts.some((a) => a.description.toLowerCase().includes(description))) return false;
      return true;
    });
  };

  const sortedReleases = (names: string[], sort: string | undefined): string[] => {
    const cmp = sorter(sort, {
      name: (r) => r.name,
      modified: (r) => r.modifiedMs,
      artifacts_count: (r) => r.count,
    });
    return names
      .map((name) => {
        const arts = store.releaseArtifacts(name);
        return { name, modifiedMs: Math.max(0, ...arts.map((a) => a.modifiedMs)), count: arts.length };
      })
      .sort(cmp)
      .map((r) => r.name);
  };

  app.get(`${V2}/deployments/releases`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const p = paginate(sortedReleases(releases(q, true), qOne(q, 'sort')), q, 'lenient');
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map(releaseJson);
  });

  // Deprecated v1 release lists.
  app.get(`${V1}/deployments/releases`, async (req) => {
    requireManagement(ctx, req);
    return sortedReleases(releases(queryOf(req), false), undefined).map(releaseJson);
  });

  app.get(`${V1}/deployments/releases/list`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const p = paginate(sortedReleases(releases(q, false), qOne(q, 'sort')), q, 'lenient');
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map(releaseJson);
  });

  app.patch(`${V2}/deployments/releases/:name`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(NotesBody, req.body, 'invalid request body');
    store.updateRelease(param(req, 'name'), { notes: body.notes ?? '' });
    return reply.code(204).send();
  });

  app.put(`${V2}/deployments/releases/:name/tags`, async (req, reply) => {
    requireManagement(ctx, req);
    const tags = parseBody(TagsBody, req.body, 'invalid request body');
    store.updateRelease(param(req, 'name'), { tags: [...new Set(tags.map((t) => t.toLowerCase()))] });
    return reply.code(204).send();
  });

  app.delete(`${V2}/deployments/releases`, async (req, reply) => {
    requireManagement(ctx, req);
    const names = qAll(queryOf(req), 'name');
    if (names.length === 0) throw badRequest('name: cannot be blank.');
    const busy = names.flatMap((n) => store.releaseArtifacts(n)).filter((a) => store.artifactInActiveUse(a));
    if (busy.length) {
      throw new SimHttpError(409, 'release(s) used by active deployment(s)', {
        extra: {
          active_deployments: store
            .deployments()
            .filter((d) => d.status !== 'finished' && names.includes(d.rec.artifactName))
            .map((d) => d.rec.id),
        },
      });
    }
    for (const n of names) {
      for (const a of [...store.releaseArtifacts(n)]) {
        store.deleteArtifact(a.id);
        await rm(join(ctx.dataDir, a.file), { force: true });
      }
    }
    return reply.code(204).send();
  });

  app.get(`${V2}/releases/all/tags`, async (req) => {
    requireManagement(ctx, req);
    return [...new Set(store.releaseNames().flatMap((n) => store.releaseMeta(n).tags))].sort();
  });

  app.get(`${V2}/releases/all/types`, async (req) => {
    requireManagement(ctx, req);
    return [...new Set(store.artifacts().flatMap((a) => a.updates.map((u) => u.type_info.type)))].sort();
  });
}
