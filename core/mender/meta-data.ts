// An artifact payload's meta-data as Mender's server actually sends it, in every shape seen.
//
// * 3.7 (`mendersoftware/deployments` model/update.go): `Update.MetaData interface{}` is stored in MongoDB
//   and decoded back into `interface{}`, which the Mongo driver fills with `primitive.D`. A `primitive.D`
//   marshals to JSON as a LIST of `{"Key": …, "Value": …}` entries, recursively for nested documents:
//   `{"vancore": {"component": "app"}}` comes back as
//   `[{"Key":"vancore","Value":[{"Key":"component","Value":"app"}]}]`.
// * 4.1 (`mendersoftware/mender-server` backend/services/deployments/model/update.go,
//   docs/api deployments/schemas.yaml `MetadataAnyDeprecated` / `MetadataAny`): the deprecated
//   `meta_data` keeps the list shape; a new `metadata` object carries the same data as an object.
// * Our own older simulator and Mender's published spec: a plain JSON object.
// Every shape is normalised to plain objects here; nothing a server sends can throw.

import { ArtifactMetaData, type VancoreMeta } from '../schemas/artifact-meta.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** `{"Key": "<string>", "Value": …}` and nothing else (Go's bson.E field names). */
function isKeyValue(v: unknown): v is { Key: string; Value: unknown } {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && typeof v.Key === 'string' && 'Value' in v;
}

const MAX_DEPTH = 32;

/**
 * Plain JSON with every non-empty list of `{Key, Value}` entries turned into an object (recursively).
 * An empty list stays a list: it may be an empty document or an empty array, only the reader knows.
 */
export function fromBsonJson(value: unknown, depth = 0): Json {
  if (depth > MAX_DEPTH) return null;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every(isKeyValue)) {
      const out: Record<string, Json> = {};
      for (const e of value) if (!(e.Key in out)) out[e.Key] = fromBsonJson(e.Value, depth + 1);
      return out;
    }
    return value.map((v) => fromBsonJson(v, depth + 1));
  }
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromBsonJson(v, depth + 1);
    return out;
  }
  return null;
}

/** Empty lists as empty objects: for readers whose schema has no list that may be empty (VanCore meta-data). */
export function emptyListsAsObjects(value: Json): Json {
  if (Array.isArray(value)) return value.length === 0 ? {} : value.map(emptyListsAsObjects);
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = emptyListsAsObjects(v);
    return out;
  }
  return value;
}

/**
 * The candidate meta-data objects of one payload, best first: 4.1's `metadata` object, then `meta_data`
 * (list or object). A value that is a JSON text of an object (a `map[string]string` rendering) is read
 * as that object.
 */
export function payloadMetaData(update: { meta_data?: unknown; metadata?: unknown }): Record<string, Json>[] {
  const out: Record<string, Json>[] = [];
  for (const raw of [update.metadata, update.meta_data]) {
    const v = fromBsonJson(raw);
    if (!isPlainObject(v)) continue;
    const obj: Record<string, Json> = {};
    for (const [k, val] of Object.entries(v)) obj[k] = typeof val === 'string' ? (parseObjectText(val) ?? val) : val;
    out.push(obj);
  }
  return out;
}

function parseObjectText(text: string): Json | undefined {
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    const v = fromBsonJson(JSON.parse(text) as unknown);
    return isPlainObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A depends/provides value as a list: Mender stores `-d key:value` as a string, `device_type` as a list. */
export function asStringList(value: string | string[]): string[] {
  return typeof value === 'string' ? [value] : value;
}

/**
 * The VanCore meta-data of an artifact as the server lists it: the first payload whose meta-data (any
 * shape above) carries a valid `vancore` key. `undefined` for artifacts that are not VanCore's, or whose
 * `vancore` key does not fit the contract (the caller counts those).
 */
export function readVancoreMeta(updates: readonly { meta_data?: unknown; metadata?: unknown }[] | undefined): {
  meta?: VancoreMeta;
  invalid: boolean;
} {
  let invalid = false;
  for (const u of updates ?? []) {
    for (const candidate of payloadMetaData(u)) {
      if (!('vancore' in candidate)) continue;
      const parsed = ArtifactMetaData.safeParse({ vancore: emptyListsAsObjects(candidate.vancore ?? null) });
      if (parsed.success) return { meta: parsed.data.vancore, invalid: false };
      invalid = true;
    }
  }
  return { invalid };
}
