// Inventory filtering and sorting (GUIDE §2.2, §2.3), pure functions over a device view. The scopes are
// identity (identity data + `status`), inventory (what the device reports), system (group, created_ts,
// updated_ts) and tags.
import { badRequest } from './errors.js';
import type { Attr, AttrValue } from './model.js';

export interface InventoryView {
  id: string;
  status: string;
  identity: Readonly<Record<string, unknown>>;
  inventory: Readonly<Record<string, Attr>>;
  tags: Readonly<Record<string, Attr>>;
  group: string | undefined;
  createdMs: number;
  updatedMs: number;
}

export interface AttributeJson {
  name: string;
  value: unknown;
  scope: string;
  description?: string;
  timestamp?: string;
}

export const SCOPES = ['identity', 'inventory', 'system', 'tags'] as const;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The value of one attribute, or undefined when the device has none. */
export function attrValue(d: InventoryView, scope: string, name: string): unknown {
  switch (scope) {
    case 'identity':
      if (name === 'status') return d.status;
      if (name === 'id') return d.id;
      return d.identity[name];
    case 'inventory':
      return d.inventory[name]?.value;
    case 'tags':
      return d.tags[name]?.value;
    case 'system':
      if (name === 'group') return d.group;
      if (name === 'created_ts') return iso(d.createdMs);
      if (name === 'updated_ts') return iso(d.updatedMs);
      return undefined;
    default:
      return undefined;
  }
}

/** Every attribute of a device, in the v1/v2 `attributes` list shape. */
export function attributesOf(d: InventoryView): AttributeJson[] {
  const out: AttributeJson[] = [];
  for (const [name, value] of Object.entries(d.identity)) out.push({ name, value, scope: 'identity' });
  out.push({ name: 'status', value: d.status, scope: 'identity' });
  for (const [name, a] of Object.entries(d.inventory)) {
    out.push({ name, value: a.value, scope: 'inventory', ...(a.description ? { description: a.description } : {}) });
  }
  out.push({ name: 'created_ts', value: iso(d.createdMs), scope: 'system' });
  out.push({ name: 'updated_ts', value: iso(d.updatedMs), scope: 'system' });
  if (d.group !== undefined) out.push({ name: 'group', value: d.group, scope: 'system' });
  for (const [name, a] of Object.entries(d.tags)) {
    out.push({
      name,
      value: a.value,
      scope: 'tags',
      ...(a.description ? { description: a.description } : {}),
      timestamp: iso(a.ts),
    });
  }
  return out;
}

/** MongoDB equality: a scalar matches itself, a list matches when one element does. */
function equals(actual: unknown, want: unknown): boolean {
  if (Array.isArray(actual)) {
    if (Array.isArray(want)) return JSON.stringify(actual) === JSON.stringify(want);
    return actual.some((x) => x === want);
  }
  return actual === want;
}

// ---------------------------------------------------------------------------------- v1 query filters

export interface V1Filter {
  scope: string;
  name: string;
  /** Candidate values: the text, plus its number / time reading ([code] both types match). */
  values: unknown[];
}

export interface V1Query {
  filters: V1Filter[];
  hasGroup: boolean | undefined;
  group: string | undefined;
  sort: { scope: string | undefined; name: string; desc: boolean } | undefined;
}

const RESERVED = new Set(['page', 'per_page', 'sort', 'has_group', 'group']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function candidates(text: string): unknown[] {
  const out: unknown[] = [text];
  if (text.trim() !== '' && Number.isFinite(Number(text))) out.push(Number(text));
  if (RFC3339.test(text)) {
    const t = new Date(text);
    if (!Number.isNaN(t.getTime())) out.push(t.toISOString());
  }
  return out;
}

/** Parse the v1 `GET /devices` query: every non-reserved parameter is a `[scope/]name=[eq:]value` filter. */
export function parseV1Query(query: Record<string, string | string[] | undefined>): V1Query {
  const filters: V1Filter[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (RESERVED.has(key) || raw === undefined) continue;
    const slash = key.indexOf('/');
    const scope = slash > 0 ? key.slice(0, slash) : 'inventory';
    const name = slash > 0 ? key.slice(slash + 1) : key;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const colon = v.indexOf(':');
      let text = v;
      if (colon > 0) {
        const op = v.slice(0, colon);
        if (op === 'eq') text = v.slice(colon + 1);
        else if (/^[a-z]+$/.test(op) && ['ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'exists', 'regex'].includes(op)) {
          throw badRequest(`invalid filter operator: ${op}`);
        }
      }
      filters.push({ scope, name, values: candidates(text) });
    }
  }
  const one = (k: string): string | undefined => {
    const v = query[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const hg = one('has_group');
  let hasGroup: boolean | undefined;
  if (hg !== undefined) {
    if (hg !== 'true' && hg !== 'false') throw badRequest('invalid has_group parameter');
    hasGroup = hg === 'true';
  }
  let sort: V1Query['sort'];
  const s = one('sort');
  if (s) {
    // [code] Only one attribute is honoured: `[scope/]name[:asc|desc]`, default desc.
    const m = /^(?:([^/:]+)\/)?([^:]+)(?::(asc|desc))?$/.exec(s);
    if (!m?.[2]) throw badRequest('invalid sort parameter');
    sort = { scope: m[1], name: m[2], desc: m[3] !== 'asc' };
  }
  return { filters, hasGroup, group: one('group'), sort };
}

export function matchesV1(d: InventoryView, q: V1Query): boolean {
  if (q.hasGroup !== undefined && (d.group !== undefined) !== q.hasGroup) return false;
  if (q.group !== undefined && d.group !== q.group) return false;
  for (const f of q.filters) {
    const actual = attrValue(d, f.scope, f.name);
    if (actual === undefined || !f.values.some((v) => equals(actual, v))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------- sorting

function rank(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  return 3;
}

/** MongoDB-like order: missing < numbers < strings < other; lists compare by their first element. */
export function compareValues(a: unknown, b: unknown): number {
  const x = Array.isArray(a) ? (a as unknown[])[0] : a;
  const y = Array.isArray(b) ? (b as unknown[])[0] : b;
  const r = rank(x) - rank(y);
  if (r !== 0) return r;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : x > y ? 1 : 0;
  return 0;
}

export interface SortKey {
  scope: string | undefined;
  name: string;
  desc: boolean;
}

function sortValue(d: InventoryView, k: SortKey): unknown {
  if (k.scope) return attrValue(d, k.scope, k.name);
  // v1 without a scope: the attribute wherever it lives, inventory first.
  for (const s of ['inventory', 'identity', 'system', 'tags']) {
    const v = attrValue(d, s, k.name);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** A stable sort on one or more keys (ties keep insertion order). */
export function sortDevices<T>(items: readonly T[], keys: readonly SortKey[], viewOf: (item: T) => InventoryView): T[] {
  if (keys.length === 0) return [...items];
  return items
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      for (const k of keys) {
        const c = compareValues(sortValue(viewOf(a.d), k), sortValue(viewOf(b.d), k));
        if (c !== 0) return k.desc ? -c : c;
      }
      return a.i - b.i;
    })
    .map((x) => x.d);
}

// ---------------------------------------------------------------------------------- v2 search

export interface V2Predicate {
  scope: string;
  attribute: string;
  type: '$eq' | '$nin';
  value: unknown;
}

/** Check the v2 filters: OSS accepts `$eq` and (undocumented) `$nin` with a list; anything else is 400. */
export function checkV2Filters(
  filters: readonly { scope: string; attribute: string; type: string; value?: unknown }[],
): V2Predicate[] {
  return filters.map((f, i) => {
    if (f.type !== '$eq' && f.type !== '$nin') {
      throw badRequest(`filters[${i}].type: ${f.type} is not a supported filter type (OSS: $eq, $nin)`);
    }
    if (f.type === '$nin' && !Array.isArray(f.value)) throw badRequest(`filters[${i}].value: $nin needs a list`);
    if (f.type === '$eq' && f.value === undefined) throw badRequest(`filters[${i}].value: cannot be blank`);
    return { scope: f.scope, attribute: f.attribute, type: f.type, value: f.value };
  });
}

export function matchesV2(d: InventoryView, preds: readonly V2Predicate[]): boolean {
  for (const p of preds) {
    const actual = attrValue(d, p.scope, p.attribute);
    if (p.type === '$eq') {
      if (actual === undefined || !equals(actual, p.value)) return false;
    } else {
      const list = p.value as unknown[];
      if (actual !== undefined && list.some((v) => equals(actual, v))) return false;
    }
  }
  return true;
}

/** The v2 projection: only the selected attributes, and always system/updated_ts. */
export function project(
  attrs: readonly AttributeJson[],
  select: readonly { scope: string; attribute: string }[],
): AttributeJson[] {
  if (select.length === 0) return [...attrs];
  const keep = new Set(select.map((s) => `${s.scope}/${s.attribute}`));
  keep.add('system/updated_ts');
  return attrs.filter((a) => keep.has(`${a.scope}/${a.name}`));
}

/** What a device may send: a string, a number, or a list of one of them. */
const deviceScalar = (x: unknown): boolean => typeof x === 'string' || typeof x === 'number';

/**
 * Values as stored: numbers stay numbers, lists stay lists. Booleans are refused (400), on both lines:
 * the inventory service validates a device attribute value as a string, a number or a list of one of
 * them (inventory DeviceAttribute validation; the difference was found in issue #14's reading).
 */
export function isAttrValue(v: unknown): v is AttrValue {
  if (deviceScalar(v)) return true;
  return Array.isArray(v) && v.every(deviceScalar) && v.every((x) => typeof x === typeof v[0]);
}
