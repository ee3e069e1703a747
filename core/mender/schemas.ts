// Zod schemas of the Mender 3.7 and 4.1 management API responses the project reads (specs in
// ../shared/mender-api and ../shared/mender-api-4.1; the server code where they differ). Objects are
// loose: the server may add fields; we check what we use. List answers are read item by item
// (management.ts `parseEach`): one malformed record is set aside and counted, never fails the list.
import * as z from 'zod';

const AttributeValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);

/**
 * Mender's rule for a static group name (mendersoftware/inventory model/device.go,
 * `validGroupNameRegex = ^[A-Za-z0-9_-]*$`, non-empty, at most 1024 characters like every name there).
 * Anything else ("..", "/", "%2F") would reach a different Mender path once put into a URL.
 */
export const MenderGroupName = z
  .string()
  .min(1, 'a Mender group name is not empty')
  .max(1024, 'a Mender group name has at most 1024 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'a Mender group name has only letters, digits, _ and -');

export const InventoryAttribute = z.looseObject({
  name: z.string(),
  value: AttributeValue,
  scope: z.string().optional(),
  description: z.string().optional(),
});

export const InventoryDevice = z.looseObject({
  id: z.string(),
  updated_ts: z.string().optional(),
  attributes: z.array(InventoryAttribute).default([]),
});
export type InventoryDevice = z.infer<typeof InventoryDevice>;

export const AuthSet = z.looseObject({
  id: z.string(),
  pubkey: z.string().optional(),
  identity_data: z.record(z.string(), z.unknown()).optional(),
  status: z.string(),
  ts: z.string().optional(),
});

export const AuthDevice = z.looseObject({
  id: z.string(),
  identity_data: z.record(z.string(), z.unknown()).optional(),
  status: z.enum(['pending', 'accepted', 'rejected', 'preauthorized', 'noauth']),
  created_ts: z.string().optional(),
  updated_ts: z.string().optional(),
  check_in_time: z.string().optional(),
  auth_sets: z.array(AuthSet).default([]),
  decommissioning: z.boolean().optional(),
});
export type AuthDevice = z.infer<typeof AuthDevice>;

export const DeploymentStatuses = [
  'success',
  'pending',
  'downloading',
  'installing',
  'rebooting',
  'failure',
  'noartifact',
  'already-installed',
  'aborted',
  'decommissioned',
  'pause_before_installing',
  'pause_before_rebooting',
  'pause_before_committing',
] as const;
export type DeviceDeploymentStatus = (typeof DeploymentStatuses)[number];

export const DeploymentStatistics = z.looseObject({
  success: z.number().int(),
  pending: z.number().int(),
  downloading: z.number().int(),
  installing: z.number().int(),
  rebooting: z.number().int(),
  failure: z.number().int(),
  noartifact: z.number().int(),
  'already-installed': z.number().int(),
  aborted: z.number().int(),
  pause_before_installing: z.number().int().default(0),
  pause_before_rebooting: z.number().int().default(0),
  pause_before_committing: z.number().int().default(0),
});
export type DeploymentStatistics = z.infer<typeof DeploymentStatistics>;

export const Deployment = z.looseObject({
  id: z.string(),
  name: z.string(),
  artifact_name: z.string(),
  created: z.string(),
  finished: z.string().optional(),
  status: z.enum(['pending', 'inprogress', 'finished']),
  device_count: z.number().int(),
  max_devices: z.number().int().optional(),
  artifacts: z.array(z.string()).optional(),
  groups: z.array(z.string()).optional(),
  type: z.string().optional(),
  statistics: z.looseObject({ status: DeploymentStatistics.optional(), total_size: z.number().optional() }).optional(),
});
export type Deployment = z.infer<typeof Deployment>;

export const DeploymentDevice = z.looseObject({
  id: z.string(),
  status: z.string(),
  created: z.string().optional(),
  started: z.string().optional(),
  finished: z.string().optional(),
  device_type: z.string().optional(),
  log: z.boolean().default(false),
  state: z.string().optional(),
  substate: z.string().optional(),
});
export type DeploymentDevice = z.infer<typeof DeploymentDevice>;

export const DeviceDeploymentHistoryEntry = z.looseObject({
  id: z.string().optional(),
  deployment: Deployment,
  device: DeploymentDevice,
});
export type DeviceDeploymentHistoryEntry = z.infer<typeof DeviceDeploymentHistoryEntry>;

/** A depends/provides value: a string or a list of strings, always handed on as a list. */
const DependsValue = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v));

export const ArtifactFile = z.looseObject({
  name: z.string(),
  checksum: z.string().optional(),
  size: z.number().optional(),
});

export const Artifact = z.looseObject({
  id: z.string(),
  name: z.string(),
  // 4.1 omits an empty description (image.go `json:"description,omitempty"`).
  description: z.string().default(''),
  device_types_compatible: z.array(z.string()),
  info: z.looseObject({ format: z.string().optional(), version: z.number().optional() }).optional(),
  signed: z.boolean().optional(),
  updates: z
    .array(
      z.looseObject({
        type_info: z.looseObject({ type: z.string().nullable().optional() }).optional(),
        files: z.array(ArtifactFile).nullable().optional(),
        /** A list of `{Key, Value}` on 3.7 and 4.1, an object in the spec: read with meta-data.ts. */
        meta_data: z.unknown().optional(),
        /** 4.1: the same meta-data as an object. */
        metadata: z.unknown().optional(),
      }),
    )
    .optional(),
  // mender-server deployments/model/image.go: `Provides map[string]string`, `Depends map[string]interface{}`
  // — `-d key:value` is stored as a string, `device_type` as a list. Both shapes are read as lists.
  artifact_provides: z.record(z.string(), DependsValue).optional(),
  artifact_depends: z.record(z.string(), DependsValue).optional(),
  clears_artifact_provides: z.array(z.string()).optional(),
  size: z.number().optional(),
  modified: z.string(),
});
export type Artifact = z.infer<typeof Artifact>;

export const Count = z.looseObject({ count: z.number().int() });
export const StatisticsListEntry = z.looseObject({ id: z.string(), stats: DeploymentStatistics });
