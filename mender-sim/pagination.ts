// Pagination as the Mender services do it (GUIDE §0): `page` from 1, `per_page` 1..max (default 20),
// go-lib-micro's messages for bad values, and `Link` headers in the two flavours the services write.
import { badRequest } from './errors.js';

export interface Page {
  page: number;
  perPage: number;
}

export interface PageLimits {
  defaultPerPage?: number;
  /** undefined = no maximum (inventory v2 search in OSS) */
  maxPerPage?: number | undefined;
}

type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseBound(raw: string | undefined, name: string, def: number, max: number | undefined): number {
  if (raw === undefined || raw === '') return def;
  // go-lib-micro ParseQueryParmUInt: strconv.ParseUint, then the bounds check.
  if (!/^\d+$/.test(raw)) throw badRequest(`Can't parse param ${name}`);
  const n = Number(raw);
  if (n < 1 || (max !== undefined && n > max) || !Number.isSafeInteger(n)) {
    throw badRequest(`Param ${name} is out of bounds`);
  }
  return n;
}

/** page/per_page of a query string, or a 400 with Mender's wording. */
export function parsePage(query: Query, limits: PageLimits = {}): Page {
  const def = limits.defaultPerPage ?? 20;
  const max = 'maxPerPage' in limits ? limits.maxPerPage : 500;
  return {
    page: parseBound(one(query, 'page'), 'page', 1, undefined),
    perPage: parseBound(one(query, 'per_page'), 'per_page', def, max),
  };
}

/**
 * [code] The artifact and release lists (deployments getReleaseOrImageFilter) never answer 400: a page
 * below 1 becomes 1, a per_page outside 1..500 becomes 20, and what does not parse is ignored.
 */
export function lenientPage(query: Query): Page {
  const num = (name: string): number => {
    const v = one(query, name);
    return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : 0;
  };
  const page = num('page');
  const perPage = num('per_page');
  return { page: page > 0 ? page : 1, perPage: perPage > 0 && perPage <= 500 ? perPage : 20 };
}

export function slicePage<T>(items: readonly T[], p: Page): T[] {
  const start = (p.page - 1) * p.perPage;
  return start >= items.length ? [] : items.slice(start, start + p.perPage);
}

/**
 * `Link` header lines: rel="first", plus "prev" and "next" where they apply, each a separate line.
 * `base` is what goes before `?`: the full request path (deployments, deviceauth) or only its last
 * segment (inventory v1). Other query parameters are kept, as go-lib-micro does.
 */
export function linkHeaders(base: string, query: Query, p: Page, hasNext: boolean): string[] {
  const make = (page: number, rel: string): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (k === 'page' || k === 'per_page' || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
    }
    params.set('page', String(page));
    params.set('per_page', String(p.perPage));
    return `<${base}?${params.toString()}>; rel="${rel}"`;
  };
  const links = [make(1, 'first')];
  if (p.page > 1) links.push(make(p.page - 1, 'prev'));
  if (hasNext) links.push(make(p.page + 1, 'next'));
  return links;
}

/** The last path segment of a URL path (inventory v1 writes only that into Link). */
export function lastSegment(path: string): string {
  const clean = path.split('?')[0] ?? path;
  return clean.slice(clean.lastIndexOf('/') + 1);
}
