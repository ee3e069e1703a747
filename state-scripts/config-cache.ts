// ota.yaml, read through the core schema, with a cache of the parsed result. A state script starts
// for every deployment step; parsing YAML and validating the config costs ~35 ms of a ~90 ms node
// start (bench/gates.ts). The cache holds the schema's output keyed by the file's identity (device,
// inode, size, mtime, ctime) and the build that wrote it, so any edit to the file or a new build of
// the schema makes the next run parse again. A cache that cannot be read or written is ignored.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceConfig } from '../core/config/device-config.js';
import { VanError } from '../core/errors.js';
import { readStateJson, STATE_FILES, writeStateJson } from '../core/state-dir.js';

declare const __VANCORE_BUILD_ID__: string | undefined;

/** Set by the device bundles' build (a hash of the schema sources); "dev" when run from source. */
export const BUILD_ID: string = typeof __VANCORE_BUILD_ID__ === 'string' ? __VANCORE_BUILD_ID__ : 'dev';

/** Under `<cacheDir>`; the state dir's `cache/` also holds the state scripts' V8 code cache (scripts/build.mjs). */
export const CONFIG_CACHE_FILE = STATE_FILES.configCache.path;

interface CacheDoc {
  build: string;
  key: string;
  config: DeviceConfig;
}

function fileKey(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${path}|${s.dev}|${s.ino}|${s.size}|${s.mtimeNs}|${s.ctimeNs}`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${path}|missing`;
    throw new VanError('CONFIG_UNREADABLE', `cannot read config ${path}: ${code ?? String(e)}`, { cause: e });
  }
}

function freeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) freeze(x);
  }
  return v;
}

/**
 * The device config from `path` (a missing file = the documented defaults). `cacheDir` null, or a
 * source (non-bundled) run, always parses.
 */
export async function loadDeviceConfig(path: string, cacheDir: string | null): Promise<Readonly<DeviceConfig>> {
  const useCache = cacheDir !== null && BUILD_ID !== 'dev';
  const key = fileKey(path);
  const cacheFile = cacheDir ? join(cacheDir, CONFIG_CACHE_FILE) : '';
  if (useCache) {
    // No cache or a broken one (not a file, too large, not JSON): parse below.
    const read = readStateJson(cacheFile, { maxBytes: STATE_FILES.configCache.maxBytes });
    const doc =
      read.status === 'ok' && typeof read.value === 'object' ? (read.value as Partial<CacheDoc> | null) : null;
    if (doc && doc.build === BUILD_ID && doc.key === key && doc.config) return freeze(doc.config);
  }
  const { parseDeviceConfigFile } = await import('./config-parse.js');
  const config = await parseDeviceConfigFile(path);
  if (useCache) {
    const doc: CacheDoc = { build: BUILD_ID, key, config };
    try {
      writeStateJson(cacheFile, doc);
    } catch {
      // a read-only or missing state dir: parse every time
    }
  }
  return config;
}
