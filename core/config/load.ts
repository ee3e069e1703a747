// Thin loader: YAML/JSON file → schema. Pure parsing (`parseConfig`) is separate from reading the file.
import { YAMLParseError, parse as parseYaml } from 'yaml';
import { VanError } from '../errors.js';
import { readStateFile } from '../state-files.js';
import { parseWith, type SafeParser } from '../validation.js';

/** Configs are a few kB; anything past this is not a config. */
const CONFIG_MAX_BYTES = 1024 * 1024;

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
  // A FIFO, a device or a huge file is refused at once: a blocking read would hold a gate past any
  // deadline (issue #16 item 8; core/state-files.ts).
  const read = await Promise.resolve(readStateFile(path, CONFIG_MAX_BYTES, { followLinks: true }));
  if (read.status === 'missing') {
    if (opts.missingMeansDefaults) return parseConfig(schema, {}, '(defaults)');
    throw new VanError('CONFIG_UNREADABLE', `cannot read config ${path}: ENOENT`);
  }
  if (read.status === 'invalid') throw new VanError('CONFIG_UNREADABLE', `cannot read config: ${read.problem}`);
  return parseConfig(schema, parseYamlText(read.text, path), path);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
