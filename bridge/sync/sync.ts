// Sync: Mender's management API → the fleet records.
//
// * Devices: every device's auth status and last check-in (deviceauth), and inventory (v2 search).
//   Incremental runs read inventory newest-first by `system/updated_ts` and stop at the cursor (OSS has
//   no `$gt` filter); a full resync reads everything and marks devices Mender no longer has.
// * Reconcile: `updated_ts` moves only when the device itself reports inventory (mender-server
//   backend/services/inventory/store/mongo/datastore_mongo.go: upsertAttributes sets it only for the
//   inventory scope, UpsertRemoveDeviceAttributes not for tags, UpdateDevicesGroup never), so ops' tag and group changes never pass the cursor. Every `reconcile_every_syncs`
//   incremental runs, a reconcile run reads the whole inventory instead and applies the devices that are
//   past the cursor or whose tags or group differ from the stored ones (nothing is decommissioned).
// * Deployments: every deployment's status and statistics; per-device statuses for those still open,
//   and once more for those that finished since the last look.
// Inventory is untrusted: parseInventory drops what does not fit, the store counts it, and nothing a
// device says can fail the sync.
import type { MenderManagementClient, RejectedRecord } from '../../core/mender/management.js';
import { readVancoreMeta } from '../../core/mender/meta-data.js';
import type { InventoryDevice } from '../../core/mender/schemas.js';
import { parseInventory } from '../../core/schemas/inventory.js';
import type { DeviceSnapshot, FleetStore } from '../store/fleet-store.js';

export const SyncKinds = ['incremental', 'reconcile', 'full'] as const;
export type SyncKind = (typeof SyncKinds)[number];

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
  /** Reconcile runs: devices applied only because their tags or group changed. */
  tags_or_group_changed: number;
  /** Records Mender listed that did not fit (set aside in `quarantine`, the rest synced). */
  records_quarantined: number;
  /** Artifacts with a `vancore` meta-data key that does not fit the contract (stored as not VanCore's). */
  artifacts_meta_invalid: number;
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

/**
 * A view of `target` whose every method first checks `signal`: once the sync's deadline aborts it, no
 * further Mender call starts and nothing more is written (issue #16 item 2). Methods run on the target
 * itself, so private fields keep working.
 */
export function abortable<T extends object>(target: T, signal: AbortSignal): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        signal.throwIfAborted();
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/**
 * One sync. With a `signal` (the runner's overall deadline), an abort stops it at the next Mender call
 * or store write: the cursor only moves when a run gets that far, so the next run reads the rest.
 */
export async function runSync(deps: SyncDeps, kind: SyncKind, signal?: AbortSignal): Promise<SyncReport> {
  if (signal) deps = { ...deps, mender: abortable(deps.mender, signal), store: abortable(deps.store, signal) };
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
    tags_or_group_changed: 0,
    records_quarantined: 0,
    artifacts_meta_invalid: 0,
  };
  const rejected: RejectedRecord[] = [];
  const onRejected = (r: RejectedRecord[]) => void rejected.push(...r);

  // deviceauth: status and check-in time of every device (no updated filter exists; pages are cheap).
  const auth = new Map<string, { status: string; checkIn?: string | undefined }>();
  for await (const page of deps.mender.paginate(
    (p, n) => deps.mender.listAuthDevices({ page: p, perPage: n }),
    undefined,
    onRejected,
  )) {
    for (const d of page) auth.set(d.id, { status: d.status, checkIn: d.check_in_time });
  }

  const cursor = kind !== 'full' ? await deps.store.getSyncState(CURSOR_KEY) : undefined;
  const stopBefore = cursor ? new Date(Date.parse(cursor) - CURSOR_OVERLAP_MS).toISOString() : undefined;
  // Reconcile: read every page; a device older than the cursor is applied only when ops changed it.
  const stored = kind === 'reconcile' ? await deps.store.tagsAndGroups() : undefined;
  const readAll = kind !== 'incremental';
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
    const { items, rejected: bad = [] } = await pending;
    rejected.push(...bad);
    const recent = (d: InventoryDevice) => !stopBefore || !d.updated_ts || d.updated_ts >= stopBefore;
    const fresh = items.filter((d) => {
      if (recent(d)) return true;
      if (!stored) return false;
      const changed = tagsOrGroupChanged(d, stored.get(d.id));
      if (changed) report.tags_or_group_changed++;
      return changed;
    });
    // A full page all past the cursor means there may be more: ask for it now, write this one meanwhile.
    const full = items.length + bad.length >= deps.mender.pageSize;
    const more = full && (readAll || fresh.length === items.length);
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
      const r = await applyIsolated(deps.store, snaps, startedIso, rejected, signal);
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

  report.artifacts_meta_invalid = await syncArtifacts(deps, startedIso, onRejected);
  const { deployments, devices } = await syncDeployments(deps, startedIso, onRejected);
  report.deployments_seen = deployments;
  report.deployment_devices = devices;
  report.records_quarantined = rejected.length;
  if (rejected.length > 0) await deps.store.quarantineRecords(rejected, startedIso);
  report.duration_ms = deps.now().getTime() - started.getTime();
  return report;
}

/**
 * Writes a page of devices; when the database refuses the page (one device's record breaks a constraint,
 * a trigger, an encoding rule nobody foresaw), the page is split in halves until the devices it refuses
 * stand alone: those are set aside as quarantined records (`inventory_device`, with the database's
 * one-line reason) and every other device of the page is still written (issue #16 item 1: one device
 * never blanks the fleet). An abort (the sync's deadline) or a database that does not answer at all is
 * never split: that ends the sync.
 */
export async function applyIsolated(
  store: SyncDeps['store'],
  snaps: DeviceSnapshot[],
  now: string,
  rejected: RejectedRecord[],
  signal?: AbortSignal,
): Promise<{ vans: number; created: number; quarantined: number }> {
  try {
    return await store.applyInventory(snaps, now);
  } catch (e) {
    if (signal?.aborted) throw e;
    // A database that does not answer a trivial read is down: that is the sync failing, not a device.
    await store.quarantineTotal().catch(() => {
      throw e;
    });
    if (snaps.length === 1) {
      const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
      rejected.push({ kind: 'inventory_device', id: snaps[0]!.deviceId, reason: `not stored: ${reason}` });
      return { vans: 0, created: 0, quarantined: 0 };
    }
    const half = Math.ceil(snaps.length / 2);
    const a = await applyIsolated(store, snaps.slice(0, half), now, rejected, signal);
    const b = await applyIsolated(store, snaps.slice(half), now, rejected, signal);
    return { vans: a.vans + b.vans, created: a.created + b.created, quarantined: a.quarantined + b.quarantined };
  }
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

/** Tags or group of an inventory record differ from the stored ones (a van not stored yet counts as changed). */
export function tagsOrGroupChanged(
  d: InventoryDevice,
  stored: { tags_json: string; mender_group: string | null } | undefined,
): boolean {
  if (!stored) return true;
  const inv = parseInventory(d.attributes);
  // A record with system attributes but no group: ops removed it from its group (UnsetDevicesGroup).
  const hasSystem = Object.keys(inv.system).length > 0;
  const group = typeof inv.system.group === 'string' ? inv.system.group : null;
  if (hasSystem && group !== stored.mender_group) return true;
  return JSON.stringify(inv.tags) !== stored.tags_json;
}

/**
 * VanCore artifacts carry their component, version and `requires` in meta-data (docs/contracts.md);
 * `vancore-vpn` ones also their step (checked when a VPN migration is created). The meta-data comes as
 * a `{Key, Value}` list (3.7, 4.1) or an object (4.1 `metadata`): meta-data.ts reads both. Returns how
 * many artifacts carried a `vancore` key that does not fit the contract.
 */
async function syncArtifacts(deps: SyncDeps, now: string, onRejected: (r: RejectedRecord[]) => void): Promise<number> {
  let invalid = 0;
  for await (const page of deps.mender.paginate(
    (p, n) => deps.mender.listArtifacts({ page: p, perPage: n }),
    undefined,
    onRejected,
  )) {
    await deps.store.upsertArtifacts(
      page.map((a) => {
        const read = readVancoreMeta(a.updates);
        if (read.invalid) invalid++;
        const meta = read.meta;
        return {
          id: a.id,
          name: a.name,
          component: meta?.component ?? null,
          version: meta?.version ?? null,
          requires_json: JSON.stringify(meta?.requires ?? {}),
          constraints_json: meta ? JSON.stringify(meta.constraints) : null,
          payload_type: a.updates?.[0]?.type_info?.type ?? null,
          vpn_step: meta?.vpn?.step ?? null,
          delta_of: meta?.delta_of ?? null,
          revert_of: meta?.revert_of ?? null,
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
  return invalid;
}

async function syncDeployments(
  deps: SyncDeps,
  now: string,
  onRejected: (r: RejectedRecord[]) => void,
): Promise<{ deployments: number; devices: number }> {
  const known = await deps.store.deploymentStatuses();
  let deployments = 0;
  let devices = 0;
  for await (const page of deps.mender.paginate(
    (p, n) => deps.mender.listDeployments({ page: p, perPage: n }),
    undefined,
    onRejected,
  )) {
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
      for await (const list of deps.mender.paginate(
        (p, n) => deps.mender.deploymentDevices(d.id, { page: p, perPage: n }),
        undefined,
        onRejected,
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
