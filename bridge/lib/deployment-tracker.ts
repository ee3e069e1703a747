// The deployment tracker (issue #15 item 3): every Mender deployment the bridge makes on behalf of an owner
// (a rollout, a VPN migration, later an automatic revert) goes from intent to finished here, one way:
//
//   start(owner, intent)  the intent (deterministic name, artifact, devices) is written first, then Mender
//                         is asked to create it and its id recorded (`open`);
//   refresh(owner)        an intent left without a Mender id (a crash, an ambiguous failure of the create)
//                         is looked up in Mender by its name before it is created, so it never exists
//                         twice; open deployments' per-device statuses are recorded as outcomes (with the
//                         bridge-clock time each became final) and a deployment whose every device is
//                         final is `finished`;
//   abort(owner)          what is still open is aborted in Mender (`aborted`; `finished` when Mender had
//                         finished it already).
//
// Tables: tracked_deployments, tracked_outcomes (bridge/store/schema.ts); the owners' audit trail is
// owner-events.ts. What to deploy and when stays in the owners' pure planners, which read `load(owner)`.
import type { Kysely } from 'kysely';
import { MenderApiError } from '../../core/mender/errors.js';
import type { MenderManagementClient } from '../../core/mender/management.js';
import type { Database, OwnerKind } from '../store/schema.js';
import { type OutcomesByDevice, jsonStrings, outcomesByName } from './records.js';

/** Mender's per-device statuses after which nothing more happens on that device. */
export const FINAL = new Set(['success', 'already-installed', 'failure', 'noartifact', 'aborted', 'decommissioned']);

export const TrackedStatuses = ['intent', 'open', 'finished', 'aborted'] as const;
export type TrackedStatus = (typeof TrackedStatuses)[number];

export interface Owner {
  kind: OwnerKind;
  id: string;
}

/** What an owner's planner decided to deploy. */
export interface DeploymentIntent {
  /** Deterministic (the owner's naming): Mender's deployment is found again by it. */
  name: string;
  /** The owner's round: a rollout's wave, a VPN migration's batch. */
  round: number;
  /** What the round deploys: a rollout's component, a VPN migration's step. */
  subject: string;
  /** forward | rollback | revert */
  purpose: string;
  artifactName: string;
  deviceIds: string[];
}

export interface TrackedDeployment extends DeploymentIntent {
  status: TrackedStatus;
  menderId: string | null;
  createdAt: string;
  /** Per-device Mender statuses, with the bridge-clock time each became final. */
  outcomes: OutcomesByDevice;
}

/** The part of the Mender client the tracker uses (`abortDeployment` only for `abort`). */
export type TrackerMender = Pick<
  MenderManagementClient,
  'createDeployment' | 'listDeployments' | 'deploymentDevices' | 'collect'
> &
  Partial<Pick<MenderManagementClient, 'abortDeployment'>>;

export interface DeploymentTrackerDeps {
  db: Kysely<Database>;
  mender: TrackerMender;
  /** The bridge clock, ISO text. */
  now: () => string;
  /** Told of every Mender call (the controllers count them for the benchmark). */
  count?: () => void;
}

const CHUNK = 400;
const statusOf = (s: string): TrackedStatus =>
  (TrackedStatuses as readonly string[]).includes(s) ? (s as TrackedStatus) : 'open';

/** An owner's tracked deployments with their outcomes, by round, then in the order they were created. */
export async function loadTracked(db: Kysely<Database>, owner: Owner): Promise<TrackedDeployment[]> {
  const rows = await db
    .selectFrom('tracked_deployments')
    .selectAll()
    .where('owner_kind', '=', owner.kind)
    .where('owner_id', '=', owner.id)
    .orderBy('round')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const outcomes = await db
    .selectFrom('tracked_outcomes')
    .innerJoin('tracked_deployments', 'tracked_deployments.name', 'tracked_outcomes.name')
    .select(['tracked_outcomes.name', 'device_id', 'tracked_outcomes.status', 'finished_at'])
    .where('tracked_deployments.owner_kind', '=', owner.kind)
    .where('tracked_deployments.owner_id', '=', owner.id)
    .execute();
  const by = outcomesByName(outcomes);
  return rows.map((d) => ({
    name: d.name,
    round: d.round,
    subject: d.subject,
    purpose: d.purpose,
    artifactName: d.artifact_name,
    deviceIds: jsonStrings(d.device_ids_json),
    status: statusOf(d.status),
    menderId: d.mender_id,
    createdAt: d.created_at,
    outcomes: by.get(d.name) ?? {},
  }));
}

export class DeploymentTracker {
  constructor(private readonly deps: DeploymentTrackerDeps) {}

  #count(): void {
    this.deps.count?.();
  }

  load(owner: Owner): Promise<TrackedDeployment[]> {
    return loadTracked(this.deps.db, owner);
  }

  /**
   * Store the intent, then make it real in Mender. `stored` runs in between (the owner's audit event):
   * after the intent is safe, before Mender is called.
   */
  async start(owner: Owner, intent: DeploymentIntent, stored?: () => Promise<void>): Promise<void> {
    const now = this.deps.now();
    // The intent first: a crash after this line finds the deployment again by its name (`refresh`).
    await this.deps.db
      .insertInto('tracked_deployments')
      .values({
        name: intent.name,
        owner_kind: owner.kind,
        owner_id: owner.id,
        round: intent.round,
        subject: intent.subject,
        purpose: intent.purpose,
        artifact_name: intent.artifactName,
        device_ids_json: JSON.stringify(intent.deviceIds),
        mender_id: null,
        status: 'intent',
        created_at: now,
        updated_at: now,
      })
      .execute();
    await stored?.();
    await this.#realize(intent, false);
  }

  /** Realize leftover intents, then record the per-device statuses of the open deployments. */
  async refresh(owner: Owner): Promise<void> {
    const now = this.deps.now();
    for (const d of await this.load(owner)) {
      if (d.status === 'intent') {
        await this.#realize(d, true);
        continue;
      }
      if (d.status !== 'open' || !d.menderId) continue;
      const devices = await this.#record(d, d.menderId, now);
      const statuses = new Map(devices.map((x) => [x.id, x.status]));
      if (d.deviceIds.every((id) => FINAL.has(statuses.get(id) ?? ''))) await this.#set(d.name, { status: 'finished' });
    }
  }

  /** Read the deployment's per-device statuses from Mender and store the changed ones as outcomes. */
  async #record(d: TrackedDeployment, menderId: string, now: string): Promise<{ id: string; status: string }[]> {
    const { db, mender } = this.deps;
    this.#count();
    const devices = await mender.collect((page, perPage) => mender.deploymentDevices(menderId, { page, perPage }));
    const rows = devices
      .filter((x) => d.outcomes[x.id]?.status !== x.status)
      .map((x) => ({
        name: d.name,
        device_id: x.id,
        status: x.status,
        // Our clock, not the device's: soaks are measured on the bridge's (possibly accelerated) clock.
        finished_at: FINAL.has(x.status) ? (d.outcomes[x.id]?.finishedAt ?? now) : null,
        updated_at: now,
      }));
    for (let i = 0; i < rows.length; i += CHUNK)
      await db
        .insertInto('tracked_outcomes')
        .values(rows.slice(i, i + CHUNK))
        .onConflict((oc) =>
          oc.columns(['name', 'device_id']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            finished_at: eb.ref('excluded.finished_at'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    return devices;
  }

  /**
   * Abort every deployment of the owner that is not finished; returns the Mender ids aborted. One Mender
   * finished after our last look answers 422 (nothing left to abort): recorded as finished, not reported.
   * With `recordOutcomes` the per-device statuses are read once more either way (the revert does), so what
   * finished between our last look and the abort is in the outcomes.
   */
  async abort(owner: Owner, recordOutcomes = false): Promise<string[]> {
    const { mender } = this.deps;
    if (!mender.abortDeployment) throw new Error('deployment tracker: this Mender client cannot abort');
    const aborted: string[] = [];
    for (const d of await this.load(owner)) {
      if (d.status === 'finished' || d.status === 'aborted') continue;
      const menderId = d.menderId ?? (await this.#find(d.name));
      let status: TrackedStatus = 'aborted';
      if (menderId) {
        try {
          this.#count();
          await mender.abortDeployment(menderId);
          aborted.push(menderId);
        } catch (e) {
          if (!(e instanceof MenderApiError && e.status === 422)) throw e;
          status = 'finished';
        }
      }
      await this.#set(d.name, { status, ...(menderId ? { mender_id: menderId } : {}) });
      if (menderId && recordOutcomes) await this.#record(d, menderId, this.deps.now());
    }
    return aborted;
  }

  async #set(name: string, set: { status: TrackedStatus; mender_id?: string }): Promise<void> {
    await this.deps.db
      .updateTable('tracked_deployments')
      .set({ ...set, updated_at: this.deps.now() })
      .where('name', '=', name)
      .execute();
  }

  /** The id of the Mender deployment with exactly this name, if there is one (Mender's search is a substring match). */
  async #find(name: string): Promise<string | undefined> {
    const { mender } = this.deps;
    this.#count();
    const found = await mender.collect((page, perPage) => mender.listDeployments({ search: name, page, perPage }));
    return found.find((d) => d.name === name)?.id;
  }

  /** Find-or-create: when it may exist already, look it up by name first, so it is never created twice. */
  async #realize(intent: Pick<DeploymentIntent, 'name' | 'artifactName' | 'deviceIds'>, lookFirst: boolean) {
    let id = lookFirst ? await this.#find(intent.name) : undefined;
    if (!id) {
      this.#count();
      id = await this.deps.mender.createDeployment({
        name: intent.name,
        artifact_name: intent.artifactName,
        devices: intent.deviceIds,
      });
    }
    await this.#set(intent.name, { status: 'open', mender_id: id });
  }
}
