// Sync: Mender's management API → the fleet records.
//
// * Devices: every device's auth status and last check-in (deviceauth), and inventory (v2 search).
//   Incremental runs read inventory newest-first by `system/updated_ts` and stop at the cursor (OSS has
//   no `$gt` filter); a full resync reads everything and marks devices Mender no longer has.
// * Deployments: every deployment's status and statistics; per-device statuses for those still open,
//   and once more for those that finished since the last look.
// Inventory is untrusted: parseInventory drops what does not fit, the store counts it, and nothing a
// device says can fail the sync.
import type { MenderManagementClient } from '../../core/mender/management.js';
import type { InventoryDevice } from '../../core/mender/schemas.js';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { parseInventory } from '../../core/schemas/inventory.js';
import type { DeviceSnapshot, FleetStore } from '../store/fleet-store.js';

export type SyncKind = 'incremental' | 'full';

export interface SyncReport {
  kind: SyncKind;
  started_at: string;
  duration_ms: number;
  devices_seen: number;
  vans_applied: number;
  vans_created: number;
  attributes_quarantined: number;
  decommissioned: number;
  deployments_seen: number;
  deployment_devices: number;
}

const CURSOR_KEY = 'inventory_cursor';
const FULL_KEY = 'last_full_sync';
/** Re-read devices updated this long before the cursor: updates landing while a page is read are not missed. */
const CURSOR_OVERLAP_MS = 5_000;

export interface SyncDeps {
  mender: MenderManagementClient;
  store: FleetStore;
  now: () => Date;
}

export async function runSync(deps: SyncDeps, kind: SyncKind): Promise<SyncReport> {
  const started = deps.now();
  const startedIso = started.toISOString();
  const report: SyncReport = {
    kind,
    started_at: startedIso,
    duration_ms: 0,
    devices_seen: 0,
    vans_applied: 0,
    vans_created: 0,
    attributes_quarantined: 0,
    decommissioned: 0,
    deployments_seen: 0,
    deployment_devices: 0,
  };

  // deviceauth: status and check-in time of every device (no updated filter exists; pages are cheap).
  const auth = new Map<string, { status: string; checkIn?: string | undefined }>();
  for await (const page of deps.mender.paginate((p, n) => deps.mender.listAuthDevices({ page: p, perPage: n }))) {
    for (const d of page) auth.set(d.id, { status: d.status, checkIn: d.check_in_time });
  }

  const cursor = kind === 'incremental' ? await deps.store.getSyncState(CURSOR_KEY) : undefined;
  const stopBefore = cursor ? new Date(Date.parse(cursor) - CURSOR_OVERLAP_MS).toISOString() : undefined;
  let newest = cursor;
  const seen = new Set<string>();
  const search = (page: number) =>
    deps.mender.searchDevices({
      page,
      perPage: deps.mender.pageSize,
      sort: [{ scope: 'system', attribute: 'updated_ts', order: 'desc' }],
    });
  let page = 1;
  // While one page is written to the database the next one is already being fetched.
  let pending = search(page);
  for (;;) {
    const { items } = await pending;
    const fresh = stopBefore ? items.filter((d) => !d.updated_ts || d.updated_ts >= stopBefore) : items;
    // A full page all past the cursor means there may be more: ask for it now, write this one meanwhile.
    const more = items.length === deps.mender.pageSize && fresh.length === items.length;
    if (more) {
      pending = search(page + 1);
      pending.catch(() => undefined);
    }
    const snaps = fresh.map((d) => snapshot(d, auth));
    for (const d of fresh) {
      seen.add(d.id);
      if (d.updated_ts && (!newest || d.updated_ts > newest)) newest = d.updated_ts;
    }
    if (snaps.length > 0) {
      const r = await deps.store.applyInventory(snaps, startedIso);
      report.vans_applied += r.vans;
      report.vans_created += r.created;
      report.attributes_quarantined += r.quarantined;
    }
    report.devices_seen += items.length;
    if (!more) break;
    page++;
  }

  // Devices whose inventory did not change still check in: keep their auth status and check-in fresh.
  const unchanged = [...auth.entries()].filter(([id]) => !seen.has(id));
  if (unchanged.length > 0)
    await deps.store.updateAuth(
      unchanged.map(([id, a]) => ({ deviceId: id, status: a.status, checkIn: a.checkIn })),
      startedIso,
    );

  if (kind === 'full') {
    report.decommissioned = await deps.store.markDecommissioned(new Set([...seen, ...auth.keys()]), startedIso);
    await deps.store.setSyncState(FULL_KEY, startedIso, startedIso);
  }
  if (newest) await deps.store.setSyncState(CURSOR_KEY, newest, startedIso);

  await syncArtifacts(deps, startedIso);
  const { deployments, devices } = await syncDeployments(deps, startedIso);
  report.deployments_seen = deployments;
  report.deployment_devices = devices;
  report.duration_ms = deps.now().getTime() - started.getTime();
  return report;
}

function snapshot(
  d: InventoryDevice,
  auth: Map<string, { status: string; checkIn?: string | undefined }>,
): DeviceSnapshot {
  const a = auth.get(d.id);
  const inventory = parseInventory(d.attributes);
  const identityStatus = inventory.identity.status;
  return {
    deviceId: d.id,
    authStatus: a?.status ?? (typeof identityStatus === 'string' ? identityStatus : undefined),
    checkInTime: a?.checkIn,
    inventoryUpdatedTs: d.updated_ts,
    inventory,
  };
}

/**
 * VanCore artifacts carry their component, version and `requires` in meta-data (docs/contracts.md);
 * `vancore-vpn` ones also their step (checked when a VPN migration is created).
 */
async function syncArtifacts(deps: SyncDeps, now: string): Promise<void> {
  for await (const page of deps.mender.paginate((p, n) => deps.mender.listArtifacts({ page: p, perPage: n }))) {
    await deps.store.upsertArtifacts(
      page.map((a) => {
        const meta = a.updates?.map((u) => ArtifactMetaData.safeParse(u.meta_data)).find((r) => r.success)
          ?.data?.vancore;
        return {
          id: a.id,
          name: a.name,
          component: meta?.component ?? null,
          version: meta?.version ?? null,
          requires_json: JSON.stringify(meta?.requires ?? {}),
          constraints_json: meta ? JSON.stringify(meta.constraints) : null,
          payload_type: a.updates?.[0]?.type_info?.type ?? null,
          vpn_step: meta?.vpn?.step ?? null,
          sha256: null,
          device_types_json: JSON.stringify(a.device_types_compatible),
          size: a.size ?? null,
          signed: a.signed ? 1 : 0,
          modified: a.modified,
          synced_at: now,
        };
      }),
    );
  }
}

async function syncDeployments(deps: SyncDeps, now: string): Promise<{ deployments: number; devices: number }> {
  const known = await deps.store.deploymentStatuses();
  let deployments = 0;
  let devices = 0;
  for await (const page of deps.mender.paginate((p, n) => deps.mender.listDeployments({ page: p, perPage: n }))) {
    deployments += page.length;
    // Open deployments, and finished ones we have not read since they finished, need their devices.
    const needDevices = page.filter((d) => d.status !== 'finished' || known.get(d.id) !== 'finished');
    const stats = needDevices.length > 0 ? await deps.mender.statisticsList(needDevices.map((d) => d.id)) : new Map();
    await deps.store.upsertDeployments(
      page.map((d) => ({
        id: d.id,
        name: d.name,
        artifact_name: d.artifact_name,
        status: d.status,
        created: d.created,
        finished: d.finished ?? null,
        device_count: d.device_count,
        max_devices: d.max_devices ?? null,
        stats_json: stats.has(d.id)
          ? JSON.stringify(stats.get(d.id))
          : d.statistics?.status
            ? JSON.stringify(d.statistics.status)
            : null,
        synced_at: now,
      })),
    );
    for (const d of needDevices) {
      for await (const list of deps.mender.paginate((p, n) =>
        deps.mender.deploymentDevices(d.id, { page: p, perPage: n }),
      )) {
        devices += list.length;
        await deps.store.upsertDeploymentDevices(
          list.map((x) => ({
            deployment_id: d.id,
            device_id: x.id,
            status: x.status,
            started: x.started ?? null,
            finished: x.finished ?? null,
            log_available: x.log ? 1 : 0,
            updated_at: now,
          })),
        );
      }
    }
  }
  return { deployments, devices };
}
