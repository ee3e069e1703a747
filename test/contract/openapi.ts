// A small OpenAPI 3.0 response validator over ajv, for the contract tests against the Mender 4.1 specs in
// ../shared/mender-api-4.1 (SOURCES.md: mender-server v4.1.3 backend/docs/api/). Paths in these files are
// absolute (`/api/management/v1/...`, no basePath). Every `$ref` — within a file or to a sibling file such
// as `../common/schemas.yaml#/components/schemas/Error` — is inlined before compiling (the Mender schemas
// are not recursive; a cycle fails loudly). OpenAPI 3.0 extras: `nullable: true` → the type admits null;
// `format: integer|long` → integer; `url` → `uri`; `binary` and unknown formats (`mender`) → no check;
// `example(s)`, `description`, `deprecated`, `readOnly`, `x-*` → ignored. Everything else is strict.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/cli.js';
import type { Json } from './swagger.js';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `../shared/mender-api-4.1` beside the repository. */
export function openApiDir(): string {
  const dir = resolve(repoRoot, '..', 'shared', 'mender-api-4.1');
  if (!existsSync(join(dir, 'SOURCES.md'))) {
    throw new Error(`Mender 4.1 OpenAPI specs not found at ${dir} (../shared/mender-api-4.1, see SOURCES.md).`);
  }
  return dir;
}

/** A place where the simulator follows Mender 4.1's code over its spec: `schema` names a component. */
export interface OpenApiPatch {
  file: string;
  schema: string;
  reason: string;
  apply: (schema: Json) => Json;
}

const KNOWN_FORMATS = new Set(['date-time', 'uuid', 'uri', 'email']);

export class OpenApiValidator {
  readonly #dir: string;
  readonly #patches: readonly OpenApiPatch[];
  readonly #docs = new Map<string, Obj>();
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #ajv: Ajv;
  readonly droppedFormats = new Set<string>();

  constructor(options: { dir?: string; patches?: readonly OpenApiPatch[] } = {}) {
    this.#dir = options.dir ?? openApiDir();
    this.#patches = options.patches ?? [];
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addFormat('integer', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.#ajv.addFormat('long', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  }

  /** A spec file (path relative to the spec dir), parsed once. */
  doc(file: string): Obj {
    let d = this.#docs.get(file);
    if (!d) {
      const raw = parse(readFileSync(join(this.#dir, file), 'utf8')) as unknown;
      if (!isObj(raw) || typeof raw.openapi !== 'string' || !raw.openapi.startsWith('3.')) {
        throw new Error(`${file} is not an OpenAPI 3 document`);
      }
      d = raw;
      this.#docs.set(file, d);
    }
    return d;
  }

  /** Follow a `$ref` from `file`: the target value and the file it lives in. */
  #target(file: string, ref: string): { value: Json; file: string } {
    const [path = '', pointer = ''] = ref.split('#');
    const target = path === '' ? file : normalize(join(dirname(file), path));
    let v: Json = this.doc(target);
    for (const raw of pointer.split('/').filter(Boolean)) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isObj(v) || !(key in v)) throw new Error(`${file}: unresolved $ref ${ref}`);
      v = v[key] as Json;
    }
    const m = /^\/components\/schemas\/([^/]+)$/.exec(pointer);
    const patch = m ? this.#patches.find((p) => p.file === target && p.schema === m[1]) : undefined;
    return { value: patch ? patch.apply(v) : v, file: target };
  }

  /** The documented response of an operation for a status (`$ref`s to shared responses followed). */
  response(file: string, method: string, path: string, status: number): { schema?: Json; file: string } | undefined {
    const paths = this.doc(file).paths;
    const op = isObj(paths) && isObj(paths[path]) ? paths[path][method.toLowerCase()] : undefined;
    if (!isObj(op)) throw new Error(`${method.toUpperCase()} ${path} is not in ${file}`);
    const responses = isObj(op.responses) ? op.responses : {};
    let r: Json | undefined = responses[String(status)] ?? responses.default;
    let where = file;
    while (isObj(r) && typeof r.$ref === 'string') {
      const t = this.#target(where, r.$ref);
      r = t.value;
      where = t.file;
    }
    if (!isObj(r)) return undefined;
    const content = isObj(r.content) ? r.content : undefined;
    const media = content ? (content['application/json'] ?? Object.values(content)[0]) : undefined;
    return isObj(media) && media.schema !== undefined ? { schema: media.schema, file: where } : { file: where };
  }

  /** Validate `body` against `schema` (found in `file`); returns error lines. */
  validate(file: string, schema: Json, body: unknown, cacheKey: string): string[] {
    let v = this.#compiled.get(cacheKey);
    if (!v) {
      v = this.#ajv.compile(this.#convert(file, schema, []) as object);
      this.#compiled.set(cacheKey, v);
    }
    if (v(body)) return [];
    return (v.errors ?? []).map(
      (e) =>
        `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
  }

  /** OpenAPI 3.0 schema → self-contained JSON Schema for ajv (see the header comment). */
  #convert(file: string, s: Json, seen: readonly string[]): Json {
    if (Array.isArray(s)) return s.map((x) => this.#convert(file, x, seen));
    if (!isObj(s)) return s;
    if (typeof s.$ref === 'string') {
      const key = `${file}#${s.$ref}`;
      if (seen.includes(key)) throw new Error(`recursive $ref ${key}`);
      const t = this.#target(file, s.$ref);
      return this.#convert(t.file, t.value, [...seen, key]);
    }
    const out: Obj = {};
    for (const [k, v] of Object.entries(s)) {
      switch (k) {
        case 'example':
        case 'examples':
        case 'description':
        case 'title':
        case 'readOnly':
        case 'writeOnly':
        case 'deprecated':
        case 'discriminator':
        case 'nullable':
        case 'xml':
        case 'externalDocs':
          break;
        case 'properties':
          if (isObj(v))
            out[k] = Object.fromEntries(Object.entries(v).map(([n, sub]) => [n, this.#convert(file, sub, seen)]));
          break;
        case 'format':
          if (typeof v !== 'string' || v === 'binary' || v === '') break;
          if (v === 'url') out.format = 'uri';
          else if (v === 'integer' || v === 'long' || KNOWN_FORMATS.has(v)) out.format = v;
          else this.droppedFormats.add(v);
          break;
        default:
          if (!k.startsWith('x-')) out[k] = this.#convert(file, v, seen);
      }
    }
    if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
    return out;
  }
}

/** Assert a response is one the 4.1 spec documents for that operation; throws with every problem. */
export function assertMatchesOpenApi(
  v: OpenApiValidator,
  file: string,
  method: string,
  path: string,
  status: number,
  body: unknown,
): void {
  const r = v.response(file, method, path, status);
  const where = `${method.toUpperCase()} ${path} → ${status} (${file})`;
  if (!r) throw new Error(`${where}: status ${status} is not documented for this operation`);
  if (r.schema === undefined) return;
  const errors = v.validate(r.file, r.schema, body, `${file} ${method} ${path} ${status}`);
  if (errors.length) {
    throw new Error(
      `${where}: body does not match the spec schema:\n  ${errors.join('\n  ')}\n  body: ${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}

/** Map a concrete request path to an operation of the 4.1 files (most static segments win). */
export class OpenApiRouter {
  readonly #routes: { file: string; path: string; method: string; re: RegExp; statics: number }[] = [];

  constructor(v: OpenApiValidator, files: readonly string[]) {
    for (const file of files) {
      const paths = v.doc(file).paths;
      for (const [p, ops] of Object.entries(isObj(paths) ? paths : {})) {
        const re = new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
        const statics = p.split('/').filter((seg) => seg && !seg.startsWith('{')).length;
        for (const method of Object.keys(isObj(ops) ? ops : {})) {
          if (!['get', 'put', 'post', 'patch', 'delete', 'head'].includes(method)) continue;
          this.#routes.push({ file, path: p, method: method.toUpperCase(), re, statics });
        }
      }
    }
    this.#routes.sort((a, b) => b.statics - a.statics);
  }

  match(method: string, path: string): { file: string; path: string } | undefined {
    const m = method.toUpperCase();
    const r = this.#routes.find((x) => x.method === m && x.re.test(path));
    return r ? { file: r.file, path: r.path } : undefined;
  }
}
