// Response bodies in the shapes of the Mender 3.7 specs (../shared/mender-api/*), from store records.
import type { DeploymentView, SimStore } from './store.js';
import type { ArtifactRec, DeviceDeploymentRec, DeviceRec } from './model.js';
import { attributesOf, type AttributeJson } from './inventory-query.js';

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

/** deployments `Artifact` (flat). */
export function artifactJson(a: ArtifactRec): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    device_types_compatible: a.deviceTypes,
    info: a.info,
    signed: a.signed,
    updates: a.updates,
    artifact_provides: a.provides,
    artifact_depends: a.depends,
    clears_artifact_provides: a.clearsProvides,
    size: a.size,
    modified: iso(a.modifiedMs),
  };
}

/** The `image` of a `DeviceWithImage`, in the spec's nested `meta_artifact` form. */
function imageJson(a: ArtifactRec): Record<string, unknown> {
  return {
    id: a.id,
    meta: { description: a.description },
    meta_artifact: {
      name: a.name,
      device_types_compatible: a.deviceTypes,
      info: a.info,
      signed: a.signed,
      updates: a.updates,
      artifact_provides: a.provides,
      artifact_depends: a.depends,
      clears_artifact_provides: a.clearsProvides,
    },
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

/** deployments `DeviceWithImage`: `id` is the device ID. */
export function deviceWithImageJson(store: SimStore, dd: DeviceDeploymentRec): Record<string, unknown> {
  const a = dd.artifactId ? store.artifact(dd.artifactId) : undefined;
  return {
    id: dd.deviceId,
    status: dd.status,
    created: iso(dd.createdMs),
    ...(dd.startedMs !== undefined ? { started: iso(dd.startedMs) } : {}),
    ...(dd.finishedMs !== undefined ? { finished: iso(dd.finishedMs) } : {}),
    ...(dd.deletedMs !== undefined ? { deleted: iso(dd.deletedMs) } : {}),
    ...(dd.deviceType !== undefined ? { device_type: dd.deviceType } : {}),
    log: dd.log !== undefined,
    ...(dd.substate ? { substate: dd.substate } : {}),
    ...(a ? { image: imageJson(a) } : {}),
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
