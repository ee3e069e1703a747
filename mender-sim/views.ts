// Response bodies as the deployments / inventory / deviceauth code of each profile renders them, from
// store records. Where the code and the specs (../shared/mender-api*/) disagree the code wins; the
// contract tests list each such place.
import type { DeploymentView, SimStore } from './store.js';
import type { ArtifactRec, DeviceDeploymentRec, DeviceRec } from './model.js';
import { attributesOf, type AttributeJson } from './inventory-query.js';
import { updateMetaJson, type MenderProfile } from './profile.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** deviceauth `Device`. */
export function devauthDeviceJson(store: SimStore, d: DeviceRec): Record<string, unknown> {
  return {
    id: d.id,
    identity_data: d.identityData,
    status: store.deviceStatus(d),
    created_ts: iso(d.createdMs),
    updated_ts: iso(d.updatedMs),
    ...(d.checkInMs !== undefined ? { check_in_time: iso(d.checkInMs) } : {}),
    auth_sets: d.authSets.map((a) => ({
      id: a.id,
      pubkey: a.pubkey,
      identity_data: a.identityData,
      status: a.status,
      ts: iso(a.ts),
      device_id: d.id,
    })),
    decommissioning: false,
  };
}

/** inventory `DeviceInventory`. */
export function inventoryDeviceJson(
  store: SimStore,
  d: DeviceRec,
  pick?: (attrs: AttributeJson[]) => AttributeJson[],
): { id: string; updated_ts: string; attributes: AttributeJson[] } {
  const attrs = attributesOf(store.inventoryView(d));
  return { id: d.id, updated_ts: iso(d.invUpdatedMs), attributes: pick ? pick(attrs) : attrs };
}

/** An artifact's `updates`, with the payload meta-data in the profile's shape (profile.ts). */
function updatesJson(profile: MenderProfile, a: ArtifactRec): Record<string, unknown>[] {
  return a.updates.map((u) => ({ type_info: u.type_info, files: u.files, ...updateMetaJson(profile, u.meta_data) }));
}

/**
 * deployments `Image` as encoding/json writes it: `ImageMeta` and `ArtifactMeta` are embedded structs
 * without JSON names, so their fields come out flat (deployments model/image.go, both lines);
 * `description` is `omitempty`; `artifact_depends` always carries `device_type` (ArtifactMeta.Validate
 * sets it before the record is stored).
 */
export function artifactJson(a: ArtifactRec, profile: MenderProfile): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    ...(a.description !== '' ? { description: a.description } : {}),
    device_types_compatible: a.deviceTypes,
    info: a.info,
    signed: a.signed,
    updates: updatesJson(profile, a),
    ...(Object.keys(a.provides).length ? { artifact_provides: a.provides } : {}),
    artifact_depends: { ...a.depends, device_type: a.deviceTypes },
    ...(a.clearsProvides.length ? { clears_artifact_provides: a.clearsProvides } : {}),
    size: a.size,
    modified: iso(a.modifiedMs),
  };
}

/** deployments `Deployment`, with `max_devices` [code] and the statistics. */
export function deploymentJson(v: DeploymentView): Record<string, unknown> {
  const d = v.rec;
  return {
    id: d.id,
    name: d.name,
    artifact_name: d.artifactName,
    created: iso(d.createdMs),
    ...(d.finishedMs !== undefined && v.status === 'finished' ? { finished: iso(d.finishedMs) } : {}),
    status: v.status,
    device_count: v.deviceCount,
    max_devices: d.targets.length,
    artifacts: d.artifacts,
    ...(d.groups.length ? { groups: d.groups } : {}),
    type: 'software',
    statistics: { status: { ...v.stats }, total_size: d.totalSize },
  };
}

/**
 * deployments `DeviceWithImage`: `id` is the device ID. [code] The image is the stored `Image`, flat as
 * in artifactJson — not the spec's `meta`/`meta_artifact` nesting — and no `device_type` is sent
 * (deployments model/device_deployment.go; the spec is wrong on both).
 */
export function deviceWithImageJson(
  store: SimStore,
  dd: DeviceDeploymentRec,
  profile: MenderProfile,
): Record<string, unknown> {
  const a = dd.artifactId ? store.artifact(dd.artifactId) : undefined;
  return {
    id: dd.deviceId,
    status: dd.status,
    created: iso(dd.createdMs),
    ...(dd.startedMs !== undefined ? { started: iso(dd.startedMs) } : {}),
    ...(dd.finishedMs !== undefined ? { finished: iso(dd.finishedMs) } : {}),
    ...(dd.deletedMs !== undefined ? { deleted: iso(dd.deletedMs) } : {}),
    log: dd.log !== undefined,
    ...(dd.substate ? { substate: dd.substate } : {}),
    ...(a ? { image: artifactJson(a, profile) } : {}),
  };
}

/** Go's time.Time String() in UTC, as the deployments service prints log lines. */
export function goTime(iso8601: string): string {
  const t = new Date(iso8601);
  if (Number.isNaN(t.getTime())) return iso8601;
  const s = t.toISOString(); // 2024-01-02T10:00:00.123Z
  const frac = s.slice(20, 23).replace(/0+$/, '');
  return `${s.slice(0, 10)} ${s.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

/** GET …/devices/{id}/log: one line per message, `<UTC timestamp> <level>: <message>`. */
export function logText(dd: DeviceDeploymentRec): string {
  return (dd.log ?? []).map((m) => `${goTime(m.timestamp)} ${m.level}: ${m.message}\n`).join('');
}
