// The deployment rules of Mender 3.7 (GUIDE §4 semantics, deployments 4.x app code), as pure functions
// the store calls with plain facts: which deployment a polling device takes, which artifact it gets,
// what a deployment's status is. No clock, no state: table-tested in test/unit/mender-sim.
import {
  DEVICE_DEPLOYMENT_STATUSES,
  FINAL_STATUSES,
  type DeploymentStatus,
  type DeviceDeploymentStatus,
} from './model.js';

export interface QueueEntry {
  id: string;
  /** Creation order of the deployment. */
  seq: number;
  /** Not finished and not aborted. */
  active: boolean;
}

/**
 * The deployment a device without an active one joins: the **oldest** active deployment that targets it
 * and was created after the deployment it most recently finished ([code] FindLatestInactiveDeviceDeployment
 * + FindNewerActiveDeployments: "created > last"). `queue` is the device's targeting deployments in creation
 * order; `drop` counts the leading entries that can never be taken again (finished, or not newer).
 */
export function pickDeployment<T extends QueueEntry>(
  queue: readonly T[],
  lastFinishedSeq: number,
): { pick: T | undefined; drop: number } {
  let drop = 0;
  for (const e of queue) {
    const stale = !e.active || e.seq <= lastFinishedSeq;
    if (!stale) return { pick: e, drop };
    drop += 1;
  }
  return { pick: undefined, drop };
}

export interface NextRequest {
  artifactName: string;
  deviceType: string;
}

export interface CandidateArtifact {
  id: string;
  name: string;
  deviceTypes: readonly string[];
}

export type Assignment =
  | { outcome: 'noartifact' }
  | { outcome: 'already-installed'; artifactId: string }
  | { outcome: 'install'; artifactId: string };

/**
 * The artifact of a release for a device (GUIDE §4.5): the first one (upload order) whose
 * device_types_compatible has the device's type, else `noartifact`. If the device already runs that
 * artifact name and the deployment does not force, the device is `already-installed`.
 */
export function decideAssignment(input: {
  request: NextRequest;
  force: boolean;
  artifacts: readonly CandidateArtifact[];
}): Assignment {
  const artifact = input.artifacts.find((a) => a.deviceTypes.includes(input.request.deviceType));
  if (!artifact) return { outcome: 'noartifact' };
  if (!input.force && input.request.artifactName === artifact.name) {
    return { outcome: 'already-installed', artifactId: artifact.id };
  }
  return { outcome: 'install', artifactId: artifact.id };
}

/**
 * A device polling again during its active deployment: the same answer while it reports the same data;
 * [code] a change (another artifact_name or device_type) fails the device deployment and answers 409.
 */
export function compareRequest(saved: NextRequest | undefined, now: NextRequest): 'same' | 'first' | 'conflict' {
  if (!saved) return 'first';
  return saved.artifactName === now.artifactName && saved.deviceType === now.deviceType ? 'same' : 'conflict';
}

export type Stats = Record<DeviceDeploymentStatus, number>;

export function emptyStats(): Stats {
  return Object.fromEntries(DEVICE_DEPLOYMENT_STATUSES.map((s) => [s, 0])) as Stats;
}

export function finishedCount(stats: Stats): number {
  let n = 0;
  for (const s of FINAL_STATUSES) n += stats[s];
  return n;
}

/**
 * GUIDE §4.3: `pending` until some device leaves `pending`, then `inprogress`; `finished` once the devices
 * in a final state reach the target, or when aborted. An offline device keeps it `inprogress` forever.
 */
export function deploymentStatus(input: { aborted: boolean; maxDevices: number; stats: Stats }): DeploymentStatus {
  if (input.aborted) return 'finished';
  const done = finishedCount(input.stats);
  if (input.maxDevices > 0 && done >= input.maxDevices) return 'finished';
  let total = 0;
  for (const s of DEVICE_DEPLOYMENT_STATUSES) total += input.stats[s];
  return total - input.stats.pending > 0 ? 'inprogress' : 'pending';
}

/** `devices/list?status=`: a device status, or one of the groups `pause`, `active`, `finished`. */
export function statusFilter(value: string): ((s: DeviceDeploymentStatus) => boolean) | undefined {
  if (value === 'pause') return (s) => s.startsWith('pause_');
  if (value === 'active') return (s) => !FINAL_STATUSES.has(s);
  if (value === 'finished') return (s) => FINAL_STATUSES.has(s);
  if ((DEVICE_DEPLOYMENT_STATUSES as readonly string[]).includes(value)) return (s) => s === value;
  return undefined;
}
