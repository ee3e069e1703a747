// A small Swagger 2.0 response validator over ajv, for contract tests against Mender's own specs in
// ../shared/mender-api (SOURCES.md). Swagger 2.0 schemas are JSON Schema draft-4 plus a few extras:
//   * `x-nullable: true` → the type also admits null;
//   * `format: integer|long` on a number → must be an integer; `url` → `uri`; `binary` → no check;
//   * `example`, `x-*`, `title`, `description`, `readOnly`, `discriminator` → ignored (not constraints).
// Everything else (types, required, enum, additionalProperties, items, $ref to #/definitions) is checked
// strictly. Unknown formats are dropped (and listed in `droppedFormats`) rather than failing compilation.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/cli.js';

// ajv-formats is CommonJS; under nodenext its default import is the module object in some setups.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface SwaggerResponse {
  description?: string;
  schema?: Json;
  $ref?: string;
}

interface SwaggerOperation {
  responses?: Record<string, SwaggerResponse>;
}

export interface SwaggerSpec {
  swagger: string;
  basePath: string;
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions?: Record<string, Json>;
  responses?: Record<string, SwaggerResponse>;
}

/** `../shared/mender-api` beside the repository (CI clones shared/ next to it). */
export function specDir(): string {
  const dir = resolve(repoRoot, '..', 'shared', 'mender-api');
  if (!existsSync(join(dir, 'GUIDE.md'))) {
    throw new Error(
      `Mender API specs not found at ${dir}: the contract tests need the shared reference docs checked out ` +
        'beside this repository (../shared/mender-api, see SOURCES.md).',
    );
  }
  return dir;
}

/**
 * A schema patch for a place where the simulator deliberately follows Mender's code over its spec.
 * `definition` names a definition in that spec file; `apply` returns its replacement.
 */
export interface SchemaPatch {
  specFile: string;
  definition: string;
  reason: string;
  apply: (schema: Json) => Json;
}

const KNOWN_FORMATS = new Set(['date-time', 'uuid', 'uri', 'email']);

export class SwaggerValidator {
  readonly #dir: string;
  readonly #patches: readonly SchemaPatch[];
  readonly #specs = new Map<string, SwaggerSpec>();
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #ajv: Ajv;
  readonly droppedFormats = new Set<string>();

  constructor(options: { dir?: string; patches?: readonly SchemaPatch[] } = {}) {
    this.#dir = options.dir ?? specDir();
    this.#patches = options.patches ?? [];
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addFormat('integer', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.#ajv.addFormat('long', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  }

  spec(specFile: string): SwaggerSpec {
    let s = this.#specs.get(specFile);
    if (!s) {
      const raw = parse(readFileSync(join(this.#dir, specFile), 'utf8')) as SwaggerSpec;
      if (raw.swagger !== '2.0') throw new Error(`${specFile} is not a Swagger 2.0 document`);
      s = raw;
      this.#specs.set(specFile, s);
    }
    return s;
  }

  /** The documented response of an operation for a status, resolving `#/responses/...`; undefined if none. */
  response(specFile: string, method: string, specPath: string, status: number): SwaggerResponse | undefined {
    const spec = this.spec(specFile);
    const op = spec.paths[specPath]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method.toUpperCase()} ${specPath} is not in ${specFile}`);
    let r = op.responses?.[String(status)] ?? op.responses?.default;
    if (r?.$ref) {
      const name = r.$ref.replace('#/responses/', '');
      r = spec.responses?.[name];
      if (!r) throw new Error(`${specFile}: unresolved response ${name}`);
    }
    return r;
  }

  /** Compile a schema of `specFile` (with its definitions) and validate `body`; returns error lines. */
  validate(specFile: string, schema: Json, body: unknown, cacheKey: string): string[] {
    let v = this.#compiled.get(cacheKey);
    if (!v) {
      const spec = this.spec(specFile);
      const defs: Record<string, Json> = {};
      for (const [name, def] of Object.entries(spec.definitions ?? {})) {
        const patch = this.#patches.find((p) => p.specFile === specFile && p.definition === name);
        defs[name] = this.#convert(patch ? patch.apply(def) : def);
      }
      const root = { ...(this.#convert(schema) as Record<string, Json>), definitions: defs };
      v = this.#ajv.compile(root);
      this.#compiled.set(cacheKey, v);
    }
    if (v(body)) return [];
    return (v.errors ?? []).map(
      (e) =>
        `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
  }

  /** Swagger 2.0 schema → JSON Schema for ajv (see the header comment). */
  #convert(s: Json): Json {
    if (Array.isArray(s) || s === null || typeof s !== 'object') return s;
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(s)) {
      switch (k) {
        case 'example':
        case 'examples':
        case 'description':
        case 'title':
        case 'readOnly':
        case 'discriminator':
        case 'x-nullable':
          break;
        case 'properties':
        case 'definitions':
          if (v && typeof v === 'object' && !Array.isArray(v)) {
            out[k] = Object.fromEntries(Object.entries(v).map(([n, sub]) => [n, this.#convert(sub)]));
          }
          break;
        case 'items':
        case 'additionalProperties':
        case 'not':
          out[k] = typeof v === 'boolean' ? v : this.#convert(v);
          break;
        case 'allOf':
        case 'anyOf':
        case 'oneOf':
          out[k] = Array.isArray(v) ? v.map((x) => this.#convert(x)) : v;
          break;
        case 'format':
          if (typeof v !== 'string' || v === 'binary') break;
          if (v === 'url') out.format = 'uri';
          else if (v === 'integer' || v === 'long' || KNOWN_FORMATS.has(v)) out.format = v;
          else this.droppedFormats.add(v);
          break;
        case 'type':
          // Swagger's `file` (multipart uploads) is not a JSON type.
          if (v !== 'file') out.type = v;
          break;
        default:
          if (!k.startsWith('x-')) out[k] = v;
      }
    }
    if (s['x-nullable'] === true && typeof out.type === 'string') out.type = [out.type, 'null'];
    return out;
  }
}

/**
 * Assert that a response is one the spec documents for that path/method: the status is listed (or
 * `default` is), and the body validates against its schema with `$ref`s resolved. Throws with every
 * problem listed.
 */
export function assertMatchesSpec(
  validator: SwaggerValidator,
  specFile: string,
  method: string,
  specPath: string,
  status: number,
  body: unknown,
): void {
  const r = validator.response(specFile, method, specPath, status);
  const where = `${method.toUpperCase()} ${specPath} → ${status} (${specFile})`;
  if (!r) throw new Error(`${where}: status ${status} is not documented for this operation`);
  if (r.schema === undefined) return;
  const errors = validator.validate(specFile, r.schema, body, `${specFile} ${method} ${specPath} ${status}`);
  if (errors.length) {
    throw new Error(
      `${where}: body does not match the spec schema:\n  ${errors.join('\n  ')}\n  body: ${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}

/** Spec files and their basePaths, to map a concrete request path to a spec path template. */
export interface RouteMatch {
  specFile: string;
  specPath: string;
}

export class SpecRouter {
  readonly #routes: { specFile: string; specPath: string; method: string; re: RegExp; statics: number }[] = [];

  constructor(validator: SwaggerValidator, specFiles: readonly string[]) {
    for (const file of specFiles) {
      const spec = validator.spec(file);
      const base = spec.basePath.replace(/\/+$/, '');
      for (const [p, ops] of Object.entries(spec.paths)) {
        const re = new RegExp(`^${(base + p).replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
        const statics = p.split('/').filter((seg) => seg && !seg.startsWith('{')).length;
        for (const method of Object.keys(ops)) {
          if (method === 'parameters') continue;
          this.#routes.push({ specFile: file, specPath: p, method: method.toUpperCase(), re, statics });
        }
      }
    }
    // Prefer the most specific template (most static segments), as routers do.
    this.#routes.sort((a, b) => b.statics - a.statics);
  }

  match(method: string, path: string): RouteMatch | undefined {
    const m = method.toUpperCase();
    const r = this.#routes.find((x) => x.method === m && x.re.test(path));
    return r ? { specFile: r.specFile, specPath: r.specPath } : undefined;
  }
}
