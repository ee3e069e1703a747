// The simulator's records, as zod schemas: the same definitions type the in-memory state and
// validate a persisted state file when it is loaded (a file from an older run is untrusted input).
import { z } from 'zod';

export const AUTH_STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized'] as const;
export type AuthStatus = (typeof AUTH_STATUSES)[number];
export const DEVICE_AUTH_STATUSES = [...AUTH_STATUSES, 'noauth'] as const;
export type DeviceAuthStatus = (typeof DEVICE_AUTH_STATUSES)[number];

/** Device deployment statuses (deployments `DeviceStatus`), in the order the statistics object lists them. */
export const DEVICE_DEPLOYMENT_STATUSES = [
  'success',
  'pending',
  'downloading',
  'rebooting',
  'installing',
  'failure',
  'noartifact',
  'already-installed',
  'aborted',
  'pause_before_installing',
  'pause_before_rebooting',
  'pause_before_committing',
  'decommissioned',
] as const;
export type DeviceDeploymentStatus = (typeof DEVICE_DEPLOYMENT_STATUSES)[number];

/** Final (inactive) device deployment statuses (GUIDE §4.3). */
export const FINAL_STATUSES: ReadonlySet<DeviceDeploymentStatus> = new Set([
  'success',
  'failure',
  'noartifact',
  'already-installed',
  'aborted',
  'decommissioned',
]);

/** Statuses a device may report (devices_api.yml DeploymentStatus). */
export const REPORTABLE_STATUSES = [
  'installing',
  'pause_before_installing',
  'downloading',
  'pause_before_rebooting',
  'rebooting',
  'pause_before_committing',
  'success',
  'failure',
  'already-installed',
] as const;

export type DeploymentStatus = 'pending' | 'inprogress' | 'finished';

const AttrScalar = z.union([z.string(), z.number(), z.boolean()]);
/** Inventory values: a string, a number, or a list of one type (GUIDE §6.2). */
export const AttrValue = z.union([AttrScalar, z.array(AttrScalar)]);
export type AttrValue = z.infer<typeof AttrValue>;

export const Attr = z.object({
  value: AttrValue,
  description: z.string().optional(),
  /** ms since epoch of the last write. */
  ts: z.number(),
});
export type Attr = z.infer<typeof Attr>;

export const AuthSetRec = z.object({
  id: z.string(),
  /** SPKI PEM, normalised. */
  pubkey: z.string(),
  identityData: z.record(z.string(), z.unknown()),
  status: z.enum(AUTH_STATUSES),
  ts: z.number(),
});
export type AuthSetRec = z.infer<typeof AuthSetRec>;

export const DeviceRec = z.object({
  id: z.string(),
  identityKey: z.string(),
  identityData: z.record(z.string(), z.unknown()),
  createdMs: z.number(),
  updatedMs: z.number(),
  checkInMs: z.number().optional(),
  authSets: z.array(AuthSetRec),
  inventory: z.record(z.string(), Attr),
  tags: z.record(z.string(), Attr),
  tagsEtag: z.string().optional(),
  group: z.string().optional(),
  invUpdatedMs: z.number(),
});
export type DeviceRec = z.infer<typeof DeviceRec>;

export const UpdateFileJson = z.object({
  name: z.string(),
  checksum: z.string(),
  size: z.number(),
  date: z.string().optional(),
});

export const ArtifactRec = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  deviceTypes: z.array(z.string()),
  info: z.object({ format: z.string(), version: z.number() }),
  signed: z.boolean(),
  updates: z.array(
    z.object({
      type_info: z.object({ type: z.string() }),
      files: z.array(UpdateFileJson),
      meta_data: z.record(z.string(), z.unknown()),
    }),
  ),
  provides: z.record(z.string(), z.string()),
  depends: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  clearsProvides: z.array(z.string()),
  size: z.number(),
  modifiedMs: z.number(),
  /** File name inside the simulator's data dir. */
  file: z.string(),
  sha256: z.string(),
});
export type ArtifactRec = z.infer<typeof ArtifactRec>;

export const ReleaseMeta = z.object({ notes: z.string().default(''), tags: z.array(z.string()).default([]) });
export type ReleaseMeta = z.infer<typeof ReleaseMeta>;

export const LogMessage = z.object({ timestamp: z.string(), level: z.string(), message: z.string() });
export type LogMessage = z.infer<typeof LogMessage>;

export const DeviceDeploymentRec = z.object({
  id: z.string(),
  deploymentId: z.string(),
  deviceId: z.string(),
  status: z.enum(DEVICE_DEPLOYMENT_STATUSES),
  /** As in Mender: the *deployment's* creation time (the ordering rule depends on it). */
  createdMs: z.number(),
  startedMs: z.number().optional(),
  finishedMs: z.number().optional(),
  /** Set when the device's history was reset (DELETE /deployments/devices/{id}/history). */
  deletedMs: z.number().optional(),
  deviceType: z.string().optional(),
  artifactId: z.string().optional(),
  substate: z.string().optional(),
  /** What the device reported on its first deployments/next of this deployment ([code] 409 on change). */
  request: z.object({ artifactName: z.string(), deviceType: z.string() }).optional(),
  log: z.array(LogMessage).optional(),
});
export type DeviceDeploymentRec = z.infer<typeof DeviceDeploymentRec>;

export const DeploymentRec = z.object({
  id: z.string(),
  /** Creation order; breaks ties between equal creation times (a ManualClock makes many). */
  seq: z.number(),
  name: z.string(),
  artifactName: z.string(),
  createdMs: z.number(),
  finishedMs: z.number().optional(),
  /** Device IDs fixed at creation (GUIDE §4.1). */
  targets: z.array(z.string()),
  groups: z.array(z.string()),
  artifacts: z.array(z.string()),
  force: z.boolean(),
  aborted: z.boolean(),
  totalSize: z.number(),
});
export type DeploymentRec = z.infer<typeof DeploymentRec>;

export const PatRec = z.object({
  id: z.string(),
  name: z.string(),
  createdMs: z.number(),
  /** undefined = never expires */
  expiresMs: z.number().optional(),
  lastUsedMs: z.number().optional(),
});
export type PatRec = z.infer<typeof PatRec>;

export const TokenRec = z.object({
  jti: z.string(),
  kind: z.enum(['user', 'pat', 'device']),
  sub: z.string(),
  /** device tokens: the auth set that was accepted */
  authSetId: z.string().optional(),
  issuedMs: z.number(),
  expiresMs: z.number().optional(),
});
export type TokenRec = z.infer<typeof TokenRec>;

export const StateFile = z.object({
  format: z.literal('vancore-mender-sim'),
  version: z.literal(1),
  /** HMAC key for JWTs and download links, base64. Kept so tokens survive a restart. */
  secret: z.string(),
  user: z.object({ id: z.string(), email: z.string(), createdMs: z.number(), loginMs: z.number().optional() }),
  pats: z.array(PatRec),
  tokens: z.array(TokenRec),
  devices: z.array(DeviceRec),
  artifacts: z.array(ArtifactRec),
  releases: z.record(z.string(), ReleaseMeta),
  deployments: z.array(DeploymentRec),
  deviceDeployments: z.array(DeviceDeploymentRec),
  seq: z.number(),
});
export type StateFile = z.infer<typeof StateFile>;
