// The payload layout as the device modules read it. The index itself (`vancore-index.json`, one per
// artifact) is the packaging contract in ./payload-index.ts, written by `vancore-ota artifact build`;
// this file adds what the update modules need beyond it, without changing what packaging writes:
//
//  * `x-vancore` in a compose bundle's compose file: migration service, backup/restore hooks and
//    health probes of that bundle (compose tools ignore `x-` keys, so the bundle stays a plain
//    compose project and packaging needs to know nothing about it);
//  * optional per-file `owner`/`group`/`sha256` and a top-level `restart` list in a config index
//    (proposed additions to ConfigIndex; an index without them is exactly what packaging writes now).
import * as z from 'zod/mini';
import { type PayloadType } from './common.js';
import { Components, PayloadTypeOf, type KnownComponent } from './components.js';
import { BundlePath, ConfigIndex } from './payload-index.js';

/** The components a module may install: the known ones whose payload type is that module's. */
export function componentsOf(type: PayloadType): KnownComponent[] {
  return Components.filter((c) => PayloadTypeOf[c] === type);
}

const Seconds = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const HttpUrl = z.url({ protocol: /^https?$/ });
/** A compose service name (compose allows [a-zA-Z0-9._-]). */
const ServiceName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be a compose service name' }));

export const BundleScript = z.strictObject({
  /** Path of the script inside the bundle; run with /bin/sh, cwd = the bundle directory. */
  path: BundlePath,
  timeout_seconds: z._default(Seconds(1, 3600), 60),
});
export type BundleScript = z.infer<typeof BundleScript>;

export const HttpProbe = z.strictObject({
  url: HttpUrl,
  expect_status: z._default(z.int().check(z.minimum(100), z.maximum(599)), 200),
  timeout_seconds: z._default(Seconds(1, 60), 5),
});
export type HttpProbe = z.infer<typeof HttpProbe>;

/** `x-vancore` in the compose file of a vancore-compose bundle. Every key is optional. */
export const ComposeBundleSettings = z.strictObject({
  /**
   * One-shot migration service run (`compose run --rm --no-deps`) with the new bundle before its
   * containers are recreated; a non-zero exit aborts the install. Give it a compose `profiles:` entry
   * so that `up` does not start it.
   */
  migrate: z._default(
    z.nullable(z.strictObject({ service: ServiceName, timeout_seconds: z._default(Seconds(1, 7200), 600) })),
    null,
  ),
  /**
   * Run from the bundle being replaced: `backup` before anything changes (e.g. a database dump into
   * $VANCORE_BACKUP_DIR), `restore` on rollback after a migration ran. Non-zero backup aborts.
   */
  hooks: z.prefault(z.strictObject({ backup: z.optional(BundleScript), restore: z.optional(BundleScript) }), {}),
  /** What "healthy" means for this bundle after `up -d`, and how long it may take to get there. */
  health: z.prefault(
    z.strictObject({
      timeout_seconds: z._default(Seconds(1, 3600), 120),
      interval_seconds: z._default(z.number().check(z.minimum(0.2), z.maximum(60)), 2),
      http: z._default(z.array(HttpProbe), []),
      scripts: z._default(z.array(BundleScript), []),
    }),
    {},
  ),
  /** Free space (MiB) to keep on the state dir's filesystem beyond what the bundle needs. */
  min_free_mb: z._default(Seconds(0, 1_000_000), 256),
});
export type ComposeBundleSettings = z.infer<typeof ComposeBundleSettings>;

export const COMPOSE_SETTINGS_KEY = 'x-vancore';

/**
 * Where vancore-config may write (the module's policy on top of the index schema's path checks):
 * VanCore's own configuration. Mender's files belong to `vancore-ota device install`, system files to
 * the platform image; a config artifact that names anything else is refused before anything changes.
 */
export const CONFIG_DEST_ROOTS = ['/etc/vancore', '/opt/vancore', '/var/lib/vancore'] as const;

export function isConfigDestAllowed(dest: string): boolean {
  return CONFIG_DEST_ROOTS.some((root) => dest.startsWith(`${root}/`));
}

/** A user or group: a name (`root`, `vancore`) or a numeric id. */
const Principal = z
  .string()
  .check(z.regex(/^([a-z_][a-z0-9_-]{0,31}|\d{1,10})$/, { error: 'must be a user/group name or a numeric id' }));
/** A systemd unit to restart after the files are in place. */
const UnitName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9@._:-]{0,127}$/, { error: 'must be a systemd unit name' }));

const ConfigFileBase = ConfigIndex.shape.files.def.element;

export const ConfigFileEntry = z.extend(ConfigFileBase, {
  /** Default: the owner of the file it replaces, else the module's user (root). */
  owner: z.optional(Principal),
  group: z.optional(Principal),
  /** Checked against the payload bytes before anything is written. */
  sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }))),
});
export type ConfigFileEntry = z.infer<typeof ConfigFileEntry>;

/** The vancore-config index as the module accepts it: ConfigIndex plus the optional fields above. */
export const ConfigPayloadIndex = z.extend(ConfigIndex, {
  files: z.array(ConfigFileEntry).check(z.minLength(1)),
  restart: z._default(z.array(UnitName), []),
});
export type ConfigPayloadIndex = z.infer<typeof ConfigPayloadIndex>;
