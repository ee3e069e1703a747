// The payload index: the file `vancore-index.json` every VanCore artifact carries beside its payload
// files. It tells the device-side update module (agent-hooks: vancore-compose, vancore-config,
// vancore-vpn) how to put the flat payload files back where they belong. Written by
// `vancore-ota artifact build` (mender-artifacts/), read on the device; docs/packaging.md describes it.
// The device parses it with this schema and does not trust it further than the schema allows: every
// path is checked here (no `..`, no NUL, relative where it must be relative).
import * as z from 'zod/mini';
import { ComponentName, SemVer } from './common.js';
import { VpnSteps } from './inventory.js';

export const PAYLOAD_INDEX_FILE = 'vancore-index.json';
export const PAYLOAD_INDEX_FORMAT = 1;

/** A payload file's name inside the artifact: flat, portable, never the index's own name. */
export const StoredName = z.string().check(
  z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: 'must be a flat file name: letters, digits, . _ - (max 100)' }),
  z.refine((n) => n !== PAYLOAD_INDEX_FILE, { error: `must not be ${PAYLOAD_INDEX_FILE}` }),
);

export const FileMode = z.string().check(z.regex(/^0[0-7]{3}$/, { error: 'must be an octal file mode such as 0644' }));

function segmentsOk(segments: string[]): boolean {
  return segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** An absolute path on the device: `/etc/x.conf`, no `..`/`.`/empty segments, no NUL or control characters. */
export function isSafeDevicePath(p: string): boolean {
  return p.length <= 4096 && p.startsWith('/') && !CONTROL.test(p) && p !== '/' && segmentsOk(p.slice(1).split('/'));
}

/** A path inside a bundle: relative, `/`-separated, no `..`/`.`/empty segments, no control characters. */
export function isSafeBundlePath(p: string): boolean {
  return p.length <= 4096 && !p.startsWith('/') && !CONTROL.test(p) && segmentsOk(p.split('/'));
}

export const DevicePath = z.string().check(
  z.refine(isSafeDevicePath, {
    error: 'must be an absolute path without "..", "." or empty segments, NUL or control characters',
  }),
);

export const BundlePath = z.string().check(
  z.refine(isSafeBundlePath, {
    error: 'must be a relative path without "..", "." or empty segments, NUL or control characters',
  }),
);

const Size = z.int().check(z.minimum(0));

const base = {
  format: z.literal(PAYLOAD_INDEX_FORMAT),
  component: ComponentName,
  version: SemVer,
};

/** A content digest as Docker writes it: `sha256:` and 64 lowercase hex digits. */
export const Sha256Digest = z
  .string()
  .check(z.regex(/^sha256:[0-9a-f]{64}$/, { error: 'must be sha256: and 64 lowercase hex digits' }));

/**
 * A layer-delta compose payload (issue #17, `artifact build --base`): the images are not carried as
 * `docker save` tarballs but described layer by layer. `images[].layers` is every layer (diff id, in
 * order) of each target image; the layers the base release does not have travel as payload files
 * (`blobs`, with the image configs); the others the van takes from the images it already runs.
 * `images[].id` is the image id (the config's digest): the van rebuilds exactly that image.
 */
export const ComposeDelta = z.strictObject({
  format: z.literal(1),
  base: z.strictObject({ version: SemVer, artifact_name: z.string().check(z.minLength(1), z.maxLength(256)) }),
  images: z.array(
    z.strictObject({
      /** Where the tarball sat in the full bundle (`images/web.tar`): names the image in messages. */
      path: BundlePath,
      refs: z.array(z.string().check(z.minLength(1), z.maxLength(512))),
      id: Sha256Digest,
      layers: z.array(Sha256Digest),
    }),
  ),
  /** Content-addressed payload files: image configs (digest = image id) and the layers that are new. */
  blobs: z.array(z.strictObject({ name: StoredName, digest: Sha256Digest, size: Size })),
});
export type ComposeDelta = z.infer<typeof ComposeDelta>;

/**
 * vancore-compose: the bundle directory, flattened. `files[].name` is the payload file, `path` where it
 * goes inside the bundle directory the module recreates; `compose_file` is one of those paths;
 * `images` are image tarballs (`docker load -i`) among them.
 */
export const ComposeIndex = z.strictObject({
  ...base,
  type: z.literal('vancore-compose'),
  compose_file: BundlePath,
  files: z.array(z.strictObject({ name: StoredName, path: BundlePath, mode: FileMode, size: Size })),
  images: z.array(BundlePath),
  /** Only in a layer-delta artifact (then `images` is empty). Hubs before issue #17 refuse it (strict). */
  delta: z.optional(ComposeDelta),
});
export type ComposeIndex = z.infer<typeof ComposeIndex>;

/** vancore-config: each payload file and the absolute device path it is installed at. */
export const ConfigIndex = z.strictObject({
  ...base,
  type: z.literal('vancore-config'),
  files: z.array(z.strictObject({ name: StoredName, dest: DevicePath, mode: FileMode, size: Size })),
});
export type ConfigIndex = z.infer<typeof ConfigIndex>;

export const VpnStepsInArtifact = VpnSteps.filter((s): s is Exclude<(typeof VpnSteps)[number], 'none'> => s !== 'none');
export const VpnStep = z.enum(VpnStepsInArtifact);
export type VpnStep = z.infer<typeof VpnStep>;

/**
 * vancore-vpn: one step of the Tailscale → Headscale migration (issue #9). `authkey` names the payload
 * file holding the pre-auth key (only for `add`); the key itself is never in the index.
 */
export const VpnIndex = z.strictObject({
  ...base,
  type: z.literal('vancore-vpn'),
  step: VpnStep,
  login_server: z.url({ protocol: /^https?$/ }),
  authkey: z.nullable(StoredName),
});
export type VpnIndex = z.infer<typeof VpnIndex>;

/**
 * A Home Assistant add-on slug as the Supervisor names them: the store's repository hash and the
 * add-on's own slug (`a0d7b954_vscode`), or a core add-on (`core_mosquitto`); `self` is refused.
 */
export const AddonSlug = z.string().check(
  z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'must be a Home Assistant add-on slug such as core_mosquitto' }),
  z.refine((s) => s !== 'self', { error: "must name an add-on ('self' is the calling add-on)" }),
);

/** An add-on version as the Supervisor reports it (`version` in /addons/<slug>/info): free-form, short. */
export const AddonVersion = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, { error: 'must be an add-on version such as 6.4.1' }));

/**
 * vancore-ha (issue #21): the add-ons to bring to a version through the HA Supervisor, in order. No
 * payload files: the Supervisor pulls the add-on images itself. `health_url` is an optional HTTP
 * probe that must answer 2xx once the add-on reports `started`.
 */
export const HaAddonsIndex = z.strictObject({
  ...base,
  type: z.literal('vancore-ha'),
  addons: z
    .array(
      z.strictObject({
        slug: AddonSlug,
        version: AddonVersion,
        health_url: z._default(z.nullable(z.url({ protocol: /^https?$/ })), null),
      }),
    )
    .check(
      z.minLength(1),
      z.refine((a) => new Set(a.map((x) => x.slug)).size === a.length, { error: 'an add-on is listed twice' }),
    ),
});
export type HaAddonsIndex = z.infer<typeof HaAddonsIndex>;

export const PayloadIndex = z.discriminatedUnion('type', [ComposeIndex, ConfigIndex, VpnIndex, HaAddonsIndex]);
export type PayloadIndex = z.infer<typeof PayloadIndex>;
