// The build manifest written beside each artifact (`<name>.manifest.json`): what CI built, for the
// release record, `artifact verify` and `artifact upload`. It never holds key material or the VPN
// pre-auth key: only the signing key's fingerprint.
import * as z from 'zod/mini';
import { Constraints, Validation } from '../core/schemas/artifact-meta.js';
import { ComponentName, IsoDateTime, PayloadType, SemVer, SemVerRange } from '../core/schemas/common.js';
import { Sha256Digest, VpnStep } from '../core/schemas/payload-index.js';

export const MANIFEST_FORMAT = 1;

const Sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }));

export const SignedBy = z.strictObject({
  algorithm: z.enum(['rsa', 'ecdsa-p256']),
  bits: z.int(),
  /** sha256 of the public key's SPKI DER, hex. */
  fingerprint: Sha256Hex,
});
export type SignedBy = z.infer<typeof SignedBy>;

export const BuildManifest = z.strictObject({
  manifest_format: z.literal(MANIFEST_FORMAT),
  name: z.string(),
  file: z.string(),
  type: PayloadType,
  component: ComponentName,
  version: SemVer,
  sha256: Sha256Hex,
  size: z.int().check(z.minimum(0)),
  provides: z.record(z.string(), z.string()),
  clears_provides: z.array(z.string()),
  depends: z.record(z.string(), z.array(z.string())),
  device_types: z.array(z.string()),
  requires: z.record(ComponentName, SemVerRange),
  constraints: Constraints,
  validation: Validation,
  /** `vancore-vpn` artifacts: the step (as in the meta-data); never the pre-auth key. */
  vpn_step: z.optional(VpnStep),
  /** Revert artifacts: the version this one takes the component back from (as in the meta-data). */
  revert_of: z.optional(SemVer),
  /**
   * Compose artifacts (issue #17): the images of the release, each with every layer's diff id. What a
   * later `artifact build --base <this manifest>` leaves out of its delta. Absent in older manifests.
   */
  images: z.optional(
    z.array(
      z.strictObject({ path: z.string(), id: Sha256Digest, refs: z.array(z.string()), layers: z.array(Sha256Digest) }),
    ),
  ),
  /** A layer-delta artifact: its base, the full artifact built beside it and what it leaves out. */
  delta: z.optional(
    z.strictObject({
      base_version: SemVer,
      base_artifact: z.string(),
      full_artifact: z.string(),
      new_layers: z.int(),
      new_layer_bytes: z.int(),
      reused_layers: z.int(),
      reused_layer_bytes: z.int(),
    }),
  ),
  scripts: z.array(z.string()),
  payload: z.strictObject({ files: z.int(), bytes: z.int() }),
  signed_by: z.nullable(SignedBy),
  built_at: IsoDateTime,
  mender_artifact_version: z.string(),
});
export type BuildManifest = z.infer<typeof BuildManifest>;

/** `x/vancore-app-1.4.0.mender` → `x/vancore-app-1.4.0.manifest.json`. */
export function manifestPathFor(artifactPath: string): string {
  return `${artifactPath.replace(/\.mender$/, '')}.manifest.json`;
}
