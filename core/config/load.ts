// Thin loader: YAML/JSON file → schema. Pure parsing (`parseConfig`) is separate from reading the file.
import { readFile } from 'node:fs/promises';
import { YAMLParseError, parse as parseYaml } from 'yaml';
import { VanError } from '../errors.js';
import { parseWith, type SafeParser } from '../validation.js';

/** Pure: raw object → frozen config, or a VanError('CONFIG_INVALID') with `path: message` lines. */
export function parseConfig<T>(schema: SafeParser<T>, raw: unknown, source: string): Readonly<T> {
  return deepFreeze(parseWith(schema, raw ?? {}, `invalid config ${source}`, 'CONFIG_INVALID'));
}

/** Parse YAML (or JSON, which is YAML) text into a plain value, with the line of a syntax error. */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      // prettyErrors appends " at line L, column C:" and a source excerpt; keep the first sentence and the position.
      const line = e.linePos?.[0]?.line;
      const what = (e.message.split('\n')[0] ?? 'syntax error').replace(/ at line \d+, column \d+:?$/, '');
      throw new VanError('CONFIG_INVALID', `invalid YAML in ${source}${line ? ` line ${line}` : ''}: ${what}`);
    }
    throw e;
  }
}

/**
 * Read and parse a config file. With `missingMeansDefaults`, an absent file gives the schema's defaults
 * (the device's documented behaviour); otherwise it is an error.
 */
export async function loadConfigFile<T>(
  schema: SafeParser<T>,
  path: string,
  opts: { missingMeansDefaults: boolean },
): Promise<Readonly<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.missingMeansDefaults) return parseConfig(schema, {}, '(defaults)');
    throw new VanError('CONFIG_UNREADABLE', `cannot read config ${path}: ${code ?? String(e)}`, { cause: e });
  }
  return parseConfig(schema, parseYamlText(text, path), path);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
