// What every route plugin needs: the dependencies (one context object passed to each plugin), auth
// checks, body parsing with Mender-like 400s, query access and paginated replies.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import type { Logger } from '../core/logger.js';
import { describeIssues } from '../core/validation.js';
import { bearer } from './auth.js';
import { SimHttpError, badRequest, type ErrorShape } from './errors.js';
import { lenientPage, linkHeaders, parsePage, slicePage, type Page, type PageLimits } from './pagination.js';
import type { MenderProfile } from './profile.js';
import type { SimStore } from './store.js';

export interface SimContext {
  store: SimStore;
  /** The Mender server line answered as (profile.ts). */
  profile: MenderProfile;
  /** Where artifact files live. */
  dataDir: string;
  errorShape: ErrorShape;
  /** Base URL for artifact download links (known only once listening). */
  publicUrl: () => string;
  logger: Logger;
  /** Largest accepted artifact upload, bytes. */
  maxArtifactBytes: number;
}

export type Query = Record<string, string | string[] | undefined>;

/** The parsed query string (fastify's parser gives strings and, for repeated keys, lists). */
export function queryOf(req: FastifyRequest): Query {
  const q = req.query;
  if (typeof q !== 'object' || q === null) return {};
  const out: Query = {};
  for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map(String);
  }
  return out;
}

export function qOne(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

export function qAll(q: Query, name: string): string[] {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A path parameter (always present on the routes that declare it). */
export function param(req: FastifyRequest, name: string): string {
  const p = req.params as Record<string, string | undefined>;
  return p[name] ?? '';
}

export function pathOf(req: FastifyRequest): string {
  const url = req.url;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The management identity of the request (user JWT or PAT), or 401. */
export function requireManagement(ctx: SimContext, req: FastifyRequest): string {
  const raw = bearer(req.headers.authorization);
  const rec = raw ? ctx.store.verifyManagement(raw) : undefined;
  if (!rec) throw new SimHttpError(401, 'unauthorized');
  return rec.jti;
}

/** The device ID of the request's device token, or 401. */
export function requireDevice(ctx: SimContext, req: FastifyRequest): string {
  const raw = bearer(req.headers.authorization);
  const id = raw ? ctx.store.verifyDevice(raw) : undefined;
  if (!id) throw new SimHttpError(401, 'unauthorized');
  return id;
}

/**
 * Validate a JSON body. Unknown fields are ignored, as the Go services do (json.Unmarshal); a wrong type
 * or a missing field is a 400 whose message starts with `prefix`. `fast` (device hot paths) is a cheap
 * check of the common well-formed shape: it returns what the schema would, or undefined to let the schema
 * decide (so every error still comes from zod).
 */
export function parseBody<T>(
  schema: ZodType<T>,
  body: unknown,
  prefix: string,
  fast?: (body: unknown) => T | undefined,
): T {
  if (body === undefined) throw badRequest(`${prefix}: JSON payload is empty`);
  const quick = fast?.(body);
  if (quick !== undefined) return quick;
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = describeIssues(r.error.issues)[0] ?? 'invalid';
  throw badRequest(`${prefix}: ${first}`);
}

/** A JSON object (not an array, not null): what z.object and z.record accept. */
export const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** An absent field or a string: z.string().optional(). */
export const isOptString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The deployments service checks ID formats: a malformed one is 400 (GUIDE §0 IDs). */
export function requireUuid(id: string): string {
  if (!UUID.test(id)) throw badRequest('ID is not a valid UUID');
  return id;
}

export interface PageReply<T> {
  items: T[];
  page: Page;
  total: number;
}

/** Paginate `all` per the query, or 400 for bad page/per_page (`lenient`: clamp instead, see lenientPage). */
export function paginate<T>(all: readonly T[], q: Query, limits?: PageLimits | 'lenient'): PageReply<T> {
  const page = limits === 'lenient' ? lenientPage(q) : parsePage(q, limits);
  return { items: slicePage(all, page), page, total: all.length };
}

/** Set the pagination headers of a list reply in one of the services' flavours (GUIDE §0). */
export function pageHeaders(
  reply: FastifyReply,
  req: FastifyRequest,
  p: PageReply<unknown>,
  how: { totalCount: boolean; link: 'full' | 'last-segment' | 'none' },
): void {
  if (how.totalCount) reply.header('X-Total-Count', String(p.total));
  if (how.link === 'none') return;
  const path = pathOf(req);
  const base = how.link === 'full' ? path : path.slice(path.lastIndexOf('/') + 1);
  const hasNext = p.page.page * p.page.perPage < p.total;
  reply.header('Link', linkHeaders(base, queryOf(req), p.page, hasNext));
}

export const iso = (ms: number): string => new Date(ms).toISOString();
