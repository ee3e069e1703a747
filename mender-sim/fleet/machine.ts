// One virtual device as a pure state machine: given its state, its scripted behaviour, the reply to the
// action it just made and the time, `advance` returns its next state, the next action and when to make
// it. The runner (fleet.ts) only performs actions over HTTP and feeds the replies back; everything the
// device decides is here, table-tested in test/unit/mender-sim-fleet.
//
// Two Mender clients, one mechanism: what differs between them is data in CLIENT_MODELS (below), read at
// the few points where the clients differ; there is no second machine.
//
// `mender-3` follows mender-client 3.4 under the daemon (RECIPE §6.1, GUIDE §6): auth (401 = pending,
// retried), inventory PUT (405 → PATCH), update check POST v2 → 404 → POST v1, then for a deployment
// `downloading`, the artifact GET, `installing`, `rebooting`, re-auth before the commit, `installing`,
// `success` and an inventory PUT with the new artifact_name. A failure reports `failure` and PUTs the log;
// a 409 on a status report (aborted at the backend) rolls back the same way; a 401 anywhere re-authenticates
// and repeats the request. A VanCore gate that says "not now" at Download_Enter (exit 1) reports nothing:
// the device just fetches the deployment again at its next poll (RECIPE-current §6). The model leaves out
// 3.4's "Executing script" substate PUTs.
//
// `mender-update-5` follows the C++ client 5.1 (shared/mender-client/RECIPE-current.md, each difference
// cites its row): `downloading` → `installing` → re-auth → `installing` → `success`, never a substate and
// no `rebooting` (§3.2 (d)); the commit gate runs after the second `installing`; the gate says "not now" at
// Sync_Leave, which reports nothing at all (§3.2 (c)), while a Download_Enter exit 1 is `failure` + log
// and is not retried (§3.2 (a)); inventory is a PUT only, skipped when unchanged and sent again after a
// token arrives (§3.3); the update check falls back from POST v2 to GET v1 on 404 (source:
// src/mender-update/deployments/deployments.cpp, CheckNewDeployments).
import lt from 'semver/functions/lt.js';
import valid from 'semver/functions/valid.js';
import { type VpnPosition, stateAfter, stepAllowed } from '../../core/vpn-steps.js';
import { NOT_NOW_STATE, type ClientFlavour, type NotNowState } from '../../core/schemas/client.js';
import type { GatePhase } from '../../core/schemas/common.js';
import type { VpnStep } from '../../core/schemas/payload-index.js';
import { VPN_STATE_INITIAL } from '../../core/vpn-state.js';
import type { GateState } from '../../core/schemas/gate.js';
import { formatReasonLine, type ReasonCode } from '../../core/reason-codes.js';
import type { LastUpdateStatuses } from '../../core/schemas/inventory.js';
import type { Behaviour, DeferralReason } from './scenario.js';

export type LastUpdateStatus = (typeof LastUpdateStatuses)[number];

/** Statuses the virtual device reports (a subset of devices_api.yml DeploymentStatus). */
export type ReportStatus = 'downloading' | 'installing' | 'rebooting' | 'success' | 'failure' | 'already-installed';

export type Action =
  | { kind: 'auth' }
  | { kind: 'inventory'; method: 'PUT' | 'PATCH' }
  | { kind: 'next-v2' }
  /** The v1 fallback after a v2 404: POST on 3.x, GET with the query on 5.x. */
  | { kind: 'next-v1'; method?: 'GET' }
  | { kind: 'status'; status: ReportStatus }
  | { kind: 'download' }
  | { kind: 'log' }
  /** Idle until the next poll or inventory time (or a wake-up). */
  | { kind: 'wait' }
  /** Offline for good: never scheduled again. */
  | { kind: 'stop' };
export type ActionKind = Action['kind'];

/** What `deployments/next` offered (200). */
export interface OfferedDeployment {
  id: string;
  artifactName: string;
  uri: string;
}

/** What the device learnt from the downloaded artifact's header. */
export interface ArtifactFacts {
  name: string;
  /** Installed component versions this artifact brings (`vancore.<component>.version` provides, …). */
  versions: Record<string, string>;
  /** All merged provides (sent back as device_provides on later update checks). */
  provides: Record<string, string>;
  /** A `vancore-vpn` artifact: the migration step of its payload index. */
  vpnStep?: VpnStep;
  /** Type-info depends of its payloads (a delta artifact depends on its base's version provide). */
  depends?: Record<string, string | string[]>;
  /** A revert artifact (`vancore.revert_of`): the version it takes its component back from. */
  revertOf?: string;
}

/**
 * The first type-info depend the device's provides do not satisfy, as the 3.4 client words it at
 * Download_Enter (shared/mender-client/RECIPE.md §8 table: `Artifact dependency "vancore.hw" not
 * satisfied by currently installed artifact (gen2 != <nil>).`); undefined when all hold. A list value
 * is satisfied by any of its items.
 */
function unmetDepends(
  depends: Readonly<Record<string, string | string[]>> | undefined,
  provides: Readonly<Record<string, string>>,
): string | undefined {
  for (const [key, want] of Object.entries(depends ?? {})) {
    const have = provides[key];
    const ok = Array.isArray(want) ? have !== undefined && want.includes(have) : have === want;
    if (!ok)
      return `Artifact dependency "${key}" not satisfied by currently installed artifact (${Array.isArray(want) ? want.join(',') : want} != ${have ?? '<nil>'}).`;
  }
  return undefined;
}

export type StepInput =
  /** A `wait` ended (its time came, or pollNow / inventoryNow). */
  | { kind: 'wake' }
  /** An inventory the client did not send: the same payload as the last one accepted (5.x, RECIPE-current §3.3). */
  | { kind: 'unchanged' }
  /**
   * The reply to the action. `status` 0 = no HTTP answer (connection error, timeout). `sent`: the inventory
   * payload that was PUT (kept by a client that skips unchanged inventory).
   */
  | {
      kind: 'reply';
      status: number;
      deployment?: OfferedDeployment;
      artifact?: ArtifactFacts;
      error?: string;
      sent?: string;
    };

/** What differs between the two Mender clients the fleet models (core/schemas/client.ts). */
export interface ClientModel {
  /** `mender_client_version` (and `vancore.client` = `<binary>/<version>`). */
  version: string;
  /** Where the VanCore download gate says "not now": the state whose exit 1 reports nothing. */
  notNowState: NotNowState;
  /** Download_Enter exit 1: 3.4 a silent transient error (RECIPE-current §6); 5.x `failure` + log, not retried (§3.2 (a)). */
  downloadEnterExit1: 'silent' | 'failure';
  /** Status sent around ArtifactCommit_Enter: 3.4 `rebooting` (RECIPE §6.1); 5.x none, the commit gate runs after the second `installing` (RECIPE-current §3.2 (d)). */
  commitStatus: 'rebooting' | undefined;
  /** 3.4 repeats a 405 inventory PUT as PATCH (RECIPE §6.2); 5.x only PUTs (src/mender-update/inventory.cpp). */
  inventoryPatchOn405: boolean;
  /** 5.x skips an inventory equal to the last one accepted; a new token clears that memory (RECIPE-current §3.3). */
  inventorySkipUnchanged: boolean;
  /** After a v2 404: 3.4 POSTs v1 (RECIPE §6.2); 5.x GETs v1 with artifact_name and device_type in the query (deployments.cpp). */
  nextV1Method: 'POST' | 'GET';
}

export const CLIENT_MODELS: Readonly<Record<ClientFlavour, Readonly<ClientModel>>> = {
  'mender-3': {
    version: '3.4.0',
    notNowState: NOT_NOW_STATE['mender-3'],
    downloadEnterExit1: 'silent',
    commitStatus: 'rebooting',
    inventoryPatchOn405: true,
    inventorySkipUnchanged: false,
    nextV1Method: 'POST',
  },
  'mender-update-5': {
    version: '5.1.0',
    notNowState: NOT_NOW_STATE['mender-update-5'],
    downloadEnterExit1: 'failure',
    commitStatus: undefined,
    inventoryPatchOn405: false,
    inventorySkipUnchanged: true,
    nextV1Method: 'GET',
  },
};

export type Activity = 'booting' | 'pending' | 'idle' | 'deferred' | 'updating' | 'offline';

export type UpdateStage =
  | 'already-installed'
  | 'downloading'
  /** 5.x: `downloading` was reported, then Download_Enter exited 1 (RECIPE-current §3.2 (a)). */
  | 'download-refused'
  | 'download'
  | 'installing'
  | 'rebooting'
  | 'committing'
  | 'success'
  | 'failure'
  | 'log';

export interface UpdateInProgress {
  id: string;
  artifactName: string;
  uri: string;
  stage: UpdateStage;
  artifact?: ArtifactFacts;
  /** Why it failed (goes into the deployment log). */
  failReason?: string;
  /** What `vancore.health.last_update_status` becomes when it ends. */
  result?: 'failure' | 'rolled_back';
  aborted?: boolean;
  /** Failed attempts of the current status report (the client retries a few times, then gives up). */
  retries: number;
}

export interface GateView {
  state: GateState;
  phase: GatePhase | NotNowState | 'none';
  reason: string;
  /** `vancore.gate.codes`: the reason's codes, as the real inventory script prints them. */
  codes: ReasonCode[];
  sinceMs: number;
}

export interface DeviceState {
  /** Which Mender client the van runs. */
  client: ClientFlavour;
  /** The action to make next (or the one in flight). */
  action: Action;
  activity: Activity;
  /** The first inventory and update check are done. */
  booted: boolean;
  artifactName: string;
  versions: Readonly<Record<string, string>>;
  /** Provides of the installed artifact besides artifact_name / device_type. */
  provides: Readonly<Record<string, string>>;
  lastUpdateStatus: LastUpdateStatus;
  gate: Readonly<GateView>;
  deferralsLeft: number;
  /** Completed update checks (204 or a deployment). */
  polls: number;
  nextPollAt: number;
  nextInventoryAt: number;
  inventoryDue: boolean;
  update: Readonly<UpdateInProgress> | undefined;
  /** The request to repeat once re-authenticated. */
  resume: Action | undefined;
  /** The inventory payload the server last accepted (5.x skips sending it again; a new token forgets it). */
  inventorySent: string | undefined;
  /**
   * vpn.json as the vancore-vpn module keeps it (`vancore.vpn.state/step` in inventory); undefined until
   * a VPN step ran or the fleet was given a start state (then the profile's drawn state, step none).
   */
  vpn: Readonly<VpnPosition> | undefined;
  /** The deadman will revert the committed step to this (after the inventory that reported the commit). */
  vpnRevertTo: Readonly<VpnPosition> | undefined;
  /** Artifact names committed, in order (tests: "which vans ever ran the bad release"). */
  committed?: readonly string[];
  /** The van reports its post-commit soak (`vancore.soak.*`, issue #20 item 2) once it committed something. */
  soakReporting?: boolean;
  /** The van refuses downgrades as the update modules do (issue #20): the fleet's `refuseDowngrades`. */
  refuseDowngrades?: boolean;
  soak?: Readonly<{ state: 'passed' | 'regressed'; artifact: string; reason?: string }>;
}

export interface Timing {
  pollIntervalMs: number;
  inventoryIntervalMs: number;
  /** RetryPollIntervalSeconds: auth while pending, failed requests. */
  retryIntervalMs: number;
  /** Time an install and a reboot take on the device. */
  stepDelayMs: number;
  /** The client re-authenticates before the commit (RECIPE §6.1); costs one signed request. */
  reauthBeforeCommit: boolean;
  /** Attempts per status report before the client gives up on the deployment. */
  statusAttempts: number;
}

export type FleetEvent =
  'success' | 'failure' | 'rolled_back' | 'aborted' | 'already-installed' | 'deferred' | 'offline' | 'accepted';

export interface Step {
  state: DeviceState;
  /** When to make `state.action` (Infinity for `stop`). */
  at: number;
  event?: FleetEvent;
}

/** The gate's reason code for each scripted deferral (the catalogue's codes, core/reason-codes.ts). */
export const DEFERRAL_CODE: Record<DeferralReason, ReasonCode> = {
  moving: 'moving',
  weak_signal: 'signal_low',
  low_battery: 'battery_low',
  // The download gate's network policy (state-scripts/policy/network.ts): the modem roams with
  // `download.roaming: never`, or the link is metered and the update is larger than `download.metered.max_mb`.
  roaming: 'roaming',
  metered_over_max: 'metered_over_max',
};

/** The gate's view of a deferral, its line made by the gates' own formatter (never a hand-written string). */
function deferredGate(code: ReasonCode): Pick<GateView, 'reason' | 'codes'> {
  return { reason: formatReasonLine([{ code }]), codes: [code] };
}

export function initialState(
  behaviour: Behaviour,
  base: {
    artifactName: string;
    versions: Record<string, string>;
    vpn?: VpnPosition | undefined;
    client?: ClientFlavour;
    soakReporting?: boolean | undefined;
    refuseDowngrades?: boolean | undefined;
    /** Provides the device has besides its component versions (e.g. a hardware provide of its rootfs). */
    provides?: Record<string, string> | undefined;
  },
  now: number,
): DeviceState {
  const versions = { ...base.versions, ...behaviour.versions };
  return {
    client: base.client ?? 'mender-3',
    action: { kind: 'auth' },
    activity: 'booting',
    booted: false,
    artifactName: behaviour.artifactName ?? base.artifactName,
    versions,
    provides: { ...base.provides, ...versionProvides(versions) },
    lastUpdateStatus: 'none',
    gate: { state: 'open', phase: 'none', reason: '', codes: [], sinceMs: now },
    deferralsLeft: behaviour.deferral?.polls ?? 0,
    polls: 0,
    nextPollAt: now,
    nextInventoryAt: now,
    inventoryDue: true,
    update: undefined,
    resume: undefined,
    inventorySent: undefined,
    vpn: base.vpn ? { ...base.vpn } : undefined,
    vpnRevertTo: undefined,
    committed: [],
    ...(base.refuseDowngrades ? { refuseDowngrades: true } : {}),
    // A van with the soak watcher reports the soak of its last commit from the start (long passed).
    ...(base.soakReporting
      ? {
          soakReporting: true,
          soak: { state: 'passed' as const, artifact: behaviour.artifactName ?? base.artifactName },
        }
      : {}),
  };
}

function versionProvides(versions: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [c, v] of Object.entries(versions)) out[`vancore.${c}.version`] = v;
  return out;
}

/** Status codes that are part of the normal protocol for each action (anything else is counted as an error). */
export const EXPECTED_STATUSES: Record<Exclude<ActionKind, 'wait' | 'stop'>, readonly number[]> = {
  auth: [200, 401],
  inventory: [200],
  'next-v2': [200, 204, 404],
  'next-v1': [200, 204],
  status: [204, 409],
  download: [200],
  log: [204],
};

/**
 * The pure transition: the next state, the next action and when to make it. `prev` is not modified.
 * A device scripted to go offline stops once it has made its quota of update checks and is idle.
 */
export function advance(prev: DeviceState, behaviour: Behaviour, input: StepInput, now: number, t: Timing): Step {
  const step = transition(prev, behaviour, input, now, t);
  const off = behaviour.offline;
  if (!off || step.state.action.kind !== 'wait' || step.state.polls < off.afterPolls) return step;
  const state: DeviceState = { ...step.state, action: { kind: 'stop' }, activity: 'offline' };
  return { state, at: Infinity, event: step.event ?? 'offline' };
}

function transition(prev: DeviceState, behaviour: Behaviour, input: StepInput, now: number, t: Timing): Step {
  const s: DeviceState = { ...prev };
  const a = prev.action;

  if (input.kind === 'wake') {
    if (a.kind !== 'wait') return { state: prev, at: now };
    return fromIdle(s, now);
  }
  if (input.kind === 'unchanged') {
    // "Inventory data unchanged, not submitting" (RECIPE-current §3.3): the cycle ends as after a 200.
    if (a.kind !== 'inventory') return { state: prev, at: now };
    return inventoryDone(s, 200, now, t);
  }
  const status = input.status;
  const model = CLIENT_MODELS[s.client];

  switch (a.kind) {
    case 'wait':
    case 'stop':
      return { state: prev, at: a.kind === 'stop' ? Infinity : now };

    case 'auth': {
      if (status === 200) {
        const event: FleetEvent | undefined = prev.activity === 'pending' ? 'accepted' : undefined;
        if (s.activity === 'pending' || s.activity === 'booting') s.activity = s.booted ? 'idle' : 'booting';
        const resume = s.resume;
        s.resume = undefined;
        // 5.x: a token-received callback clears the inventory cache, so the next cycle PUTs it again (§3.3).
        s.inventorySent = undefined;
        s.action = resume ?? (s.booted ? { kind: 'wait' } : { kind: 'inventory', method: 'PUT' });
        if (s.action.kind === 'wait') return withEvent(idle(s, now), event);
        return withEvent({ state: s, at: now }, event);
      }
      // 401: pending (or rejected); anything else: the server is unwell. Both retry after RetryPollInterval.
      if (status === 401 && !s.booted) s.activity = 'pending';
      return { state: s, at: now + t.retryIntervalMs };
    }

    case 'inventory': {
      if (status === 401) return reauth(s, a, now);
      if (status === 405 && a.method === 'PUT' && model.inventoryPatchOn405) {
        s.action = { kind: 'inventory', method: 'PATCH' };
        return { state: s, at: now };
      }
      if (status === 200 && model.inventorySkipUnchanged) s.inventorySent = input.sent;
      return inventoryDone(s, status, now, t);
    }

    case 'next-v2':
    case 'next-v1': {
      if (status === 401) return reauth(s, { kind: 'next-v2' }, now);
      if (status === 404 && a.kind === 'next-v2') {
        s.action = model.nextV1Method === 'GET' ? { kind: 'next-v1', method: 'GET' } : { kind: 'next-v1' };
        return { state: s, at: now };
      }
      if (status === 200 && input.deployment) return offered(s, behaviour, input.deployment, now, t);
      s.booted = true;
      if (status === 204) {
        s.polls += 1;
        s.nextPollAt = now + t.pollIntervalMs;
      } else {
        s.nextPollAt = now + t.retryIntervalMs;
      }
      if (s.activity === 'booting') s.activity = 'idle';
      return idle(s, now);
    }

    case 'status':
      return statusReplied(s, behaviour, a.status, input, now, t);

    case 'download': {
      const u = prev.update;
      if (!u) return idle(s, now);
      if (status === 200 && input.artifact) {
        if (input.artifact.name !== u.artifactName) {
          return fail(
            s,
            `Artifact name in artifact is not what the server claims (${u.artifactName} != ${input.artifact.name}).`,
            'failure',
            now,
          );
        }
        const unmet = unmetDepends(input.artifact.depends, { ...s.provides, artifact_name: s.artifactName });
        if (unmet) return fail(s, unmet, 'failure', now);
        s.update = { ...u, artifact: input.artifact };
        return report(s, 'installing', now);
      }
      const why = input.error ?? (status === 0 ? 'download failed: no answer' : `download failed: HTTP ${status}`);
      return fail(s, why, 'failure', now);
    }

    case 'log':
      return finish(s, now);
  }
}

/** An inventory cycle ended (sent with `status`, or skipped as unchanged). */
function inventoryDone(s: DeviceState, status: number, now: number, t: Timing): Step {
  s.inventoryDue = false;
  s.nextInventoryAt = now + (status === 200 ? t.inventoryIntervalMs : t.retryIntervalMs);
  if (status === 200 && s.vpnRevertTo) {
    // The deadman's probes fail after the commit was reported: it restores the previous step
    // (vpn.json `reverted` / <previous step>; artifact and versions stay) and the next inventory says so.
    s.vpn = { state: 'reverted', step: s.vpnRevertTo.step };
    s.vpnRevertTo = undefined;
    s.inventoryDue = true;
  }
  if (!s.booted) {
    // At start the daemon runs an inventory update and then, at once, an update check.
    s.action = { kind: 'next-v2' };
    return { state: s, at: now };
  }
  return idle(s, now);
}

function withEvent(step: Step, event: FleetEvent | undefined): Step {
  return event ? { ...step, event: step.event ?? event } : step;
}

function reauth(s: DeviceState, repeat: Action, now: number): Step {
  s.resume = repeat;
  s.action = { kind: 'auth' };
  return { state: s, at: now };
}

/** Back to idle: inventory if due, else wait for the next poll or inventory time; offline devices stop. */
function idle(s: DeviceState, now: number): Step {
  s.update = undefined;
  if (s.inventoryDue) {
    s.action = { kind: 'inventory', method: 'PUT' };
    return { state: s, at: now };
  }
  s.action = { kind: 'wait' };
  if (s.activity !== 'pending' && s.activity !== 'booting' && s.activity !== 'offline') {
    s.activity = s.gate.state === 'deferred' ? 'deferred' : 'idle';
  }
  return { state: s, at: Math.max(now, Math.min(s.nextPollAt, s.nextInventoryAt)) };
}

function fromIdle(s: DeviceState, now: number): Step {
  if (s.inventoryDue || now >= s.nextInventoryAt) {
    s.action = { kind: 'inventory', method: 'PUT' };
    return { state: s, at: now };
  }
  if (now >= s.nextPollAt) {
    s.action = { kind: 'next-v2' };
    return { state: s, at: now };
  }
  return idle(s, now);
}

function offered(s: DeviceState, behaviour: Behaviour, dep: OfferedDeployment, now: number, t: Timing): Step {
  s.booted = true;
  s.polls += 1;
  s.nextPollAt = now + t.pollIntervalMs;
  if (dep.artifactName === s.artifactName) {
    s.update = { id: dep.id, artifactName: dep.artifactName, uri: dep.uri, stage: 'already-installed', retries: 0 };
    s.activity = 'updating';
    s.action = { kind: 'status', status: 'already-installed' };
    return { state: s, at: now };
  }
  const model = CLIENT_MODELS[s.client];
  const deferral = s.deferralsLeft > 0 ? behaviour.deferral : undefined;
  if (deferral) {
    s.deferralsLeft -= 1;
    const at = deferral.at ?? model.notNowState;
    if (s.gate.state !== 'deferred' || s.gate.phase !== at) {
      s.gate = { state: 'deferred', phase: at, ...deferredGate(DEFERRAL_CODE[deferral.reason]), sinceMs: now };
      s.inventoryDue = true;
    }
    s.activity = 'deferred';
    if (at === 'Download_Enter' && model.downloadEnterExit1 === 'failure') {
      // 5.x: `downloading` goes out before Download_Enter runs; its exit 1 is then a deployment failure
      // with the log, and the deployment is finished, never offered again (RECIPE-current §3.2 (a)).
      s.update = { id: dep.id, artifactName: dep.artifactName, uri: dep.uri, stage: 'download-refused', retries: 0 };
      s.lastUpdateStatus = 'in_progress';
      return { ...report(s, 'downloading', now, 'download-refused'), event: 'deferred' };
    }
    // "Not now" where it reports nothing: 3.4 Download_Enter (RECIPE-current §6), 5.x Sync_Leave (§3.2 (c));
    // the deployment stays pending and is fetched again at the next poll.
    return { ...idle(s, now), event: 'deferred' };
  }
  if (s.gate.state !== 'open' || s.gate.phase !== model.notNowState) {
    if (s.gate.state !== 'open') s.inventoryDue = true;
    s.gate = {
      state: 'open',
      phase: model.notNowState,
      reason: '',
      codes: [],
      sinceMs: s.gate.state === 'open' ? s.gate.sinceMs : now,
    };
  }
  s.update = { id: dep.id, artifactName: dep.artifactName, uri: dep.uri, stage: 'downloading', retries: 0 };
  s.lastUpdateStatus = 'in_progress';
  s.activity = 'updating';
  return report(s, 'downloading', now);
}

const STAGE_OF: Record<ReportStatus, UpdateStage> = {
  downloading: 'downloading',
  installing: 'installing',
  rebooting: 'rebooting',
  success: 'success',
  failure: 'failure',
  'already-installed': 'already-installed',
};

function report(s: DeviceState, status: ReportStatus, at: number, stage: UpdateStage = STAGE_OF[status]): Step {
  if (s.update) s.update = { ...s.update, stage, retries: 0 };
  s.action = { kind: 'status', status };
  return { state: s, at };
}

function fail(s: DeviceState, reason: string, result: 'failure' | 'rolled_back', now: number, aborted = false): Step {
  const u = s.update;
  if (u) s.update = { ...u, failReason: reason, result, ...(aborted ? { aborted: true } : {}) };
  s.lastUpdateStatus = result;
  return report(s, 'failure', now);
}

function finish(s: DeviceState, now: number): Step {
  const u = s.update;
  let event: FleetEvent | undefined;
  if (u) {
    if (u.stage === 'success') event = 'success';
    else if (u.stage === 'already-installed') event = 'already-installed';
    else event = u.aborted ? 'aborted' : (u.result ?? 'failure');
  }
  s.update = undefined;
  s.inventoryDue = true;
  s.activity = 'idle';
  const step = idle(s, now);
  return event ? { ...step, event } : step;
}

function statusReplied(
  s: DeviceState,
  behaviour: Behaviour,
  reported: ReportStatus,
  input: Extract<StepInput, { kind: 'reply' }>,
  now: number,
  t: Timing,
): Step {
  const u = s.update;
  if (!u) return idle(s, now);
  const status = input.status;
  if (status === 401) return reauth(s, { kind: 'status', status: reported }, now);

  if (status === 409) {
    // "Status report rejected, deployment aborted at the backend": roll back, report failure, send the log.
    if (u.stage === 'failure') return log(s, now);
    if (u.stage === 'already-installed' || u.stage === 'success') {
      if (u.stage === 'success') applyArtifact(s, u, behaviour);
      return finishAborted(s, now);
    }
    const installed = u.stage === 'installing' || u.stage === 'rebooting' || u.stage === 'committing';
    return fail(
      s,
      `Status report rejected, deployment aborted at the backend (${reported})`,
      installed ? 'rolled_back' : 'failure',
      now,
      true,
    );
  }

  if (status !== 204) {
    if (u.retries + 1 < t.statusAttempts) {
      s.update = { ...u, retries: u.retries + 1 };
      return { state: s, at: now + t.retryIntervalMs };
    }
    if (u.stage === 'failure') return log(s, now);
    if (u.stage === 'already-installed' || u.stage === 'success') {
      if (u.stage === 'success') applyArtifact(s, u, behaviour);
      return finish(s, now);
    }
    return fail(
      s,
      `reporting status ${reported} failed: ${status === 0 ? 'no answer' : `HTTP ${status}`}`,
      'failure',
      now,
    );
  }

  switch (u.stage) {
    case 'already-installed':
      return finish(s, now);
    case 'downloading':
      s.update = { ...u, stage: 'download' };
      s.action = { kind: 'download' };
      return { state: s, at: now };
    case 'download-refused':
      return fail(s, 'Download_Enter_00_vangate: Received error code: 1', 'failure', now);
    case 'download':
      return report(s, 'installing', now);
    case 'installing': {
      // ArtifactInstall_Enter runs before the module installs anything (RECIPE §5).
      if (behaviour.outcome === 'energy_refused') return installGateRefused(s, now, now + t.stepDelayMs);
      // The install gate's no-downgrade check (agent-hooks/lib/downgrade.ts): older than what runs is refused
      // unless the artifact is an explicit revert of exactly the installed version.
      const downgrade = s.refuseDowngrades ? refusedDowngrade(s, u.artifact) : undefined;
      if (downgrade) return fail(s, `ArtifactInstall_Enter: ${downgrade}`, 'failure', now + t.stepDelayMs);
      const vpnStep = u.artifact?.vpnStep;
      if (vpnStep) {
        // What the vancore-vpn module does in ArtifactInstall: refuse a step out of order, or fail the
        // step's probes (scripted); the client then rolls back and vpn.json stays as it was.
        const refused = stepAllowed(vpnStep, s.vpn ?? VPN_STATE_INITIAL);
        if (refused) return fail(s, `ArtifactInstall: vancore-vpn: ${refused}`, 'failure', now + t.stepDelayMs);
        if (behaviour.vpn?.failStep === vpnStep)
          return fail(
            s,
            `ArtifactInstall: vancore-vpn: ${vpnStep} probes failed within the validation window; rolled back`,
            'rolled_back',
            now + t.stepDelayMs,
          );
      }
      if (behaviour.outcome === 'failure') {
        return fail(
          s,
          'ArtifactInstall: the update module failed to install the payload; rolled back',
          'failure',
          now + t.stepDelayMs,
        );
      }
      const commitStatus = CLIENT_MODELS[s.client].commitStatus;
      if (commitStatus) return report(s, commitStatus, now + t.stepDelayMs);
      return toCommit(s, u, now + t.stepDelayMs, t);
    }
    case 'rebooting':
      // 3.4 runs ArtifactCommit_Enter while it reports `rebooting` (RECIPE §6.1).
      if (behaviour.outcome === 'rollback') return commitRefused(s, now, now + t.stepDelayMs);
      return toCommit(s, u, now + t.stepDelayMs, t);
    case 'committing':
      // 5.x runs ArtifactCommit_Enter after the second `installing` (RECIPE-current §3.2 (d)); a refusal is
      // the rollback + failure chain, reported as `failure` + log (§4).
      if (!CLIENT_MODELS[s.client].commitStatus && behaviour.outcome === 'rollback')
        return commitRefused(s, now, now + t.stepDelayMs);
      return report(s, 'success', now);
    case 'success':
      applyArtifact(s, u, behaviour);
      return finish(s, now);
    case 'failure':
      return log(s, now);
    case 'log':
      return finish(s, now);
  }
}

/** Re-authenticate (if the client does) and report `installing` before the commit. */
function toCommit(s: DeviceState, u: Readonly<UpdateInProgress>, at: number, t: Timing): Step {
  if (t.reauthBeforeCommit) {
    // Both clients expire their token on purpose before the commit (RECIPE §6.1; RECIPE-current §3.2 (d)).
    s.update = { ...u, stage: 'committing', retries: 0 };
    s.resume = { kind: 'status', status: 'installing' };
    s.action = { kind: 'auth' };
    return { state: s, at };
  }
  return report(s, 'installing', at, 'committing');
}

/** The VanCore commit gate refuses (exit 1): Mender rolls back and reports failure. */
function commitRefused(s: DeviceState, now: number, at: number): Step {
  s.gate = {
    state: 'blocked',
    phase: 'ArtifactCommit_Enter',
    ...deferredGate('health_check_failed'),
    sinceMs: now,
  };
  s.inventoryDue = true;
  return fail(s, 'ArtifactCommit_Enter_00_vangate exited 1: health checks failed; rolled back', 'rolled_back', at);
}

/**
 * The VanCore install gate's energy budget refuses (issue #20): it answered 21 for its wait budget (the
 * daemon blocked meanwhile, compressed here into one step delay like every install step), then 1; Mender
 * reports failure with nothing installed, and the journal the inventory publishes keeps both codes.
 */
function installGateRefused(s: DeviceState, now: number, at: number): Step {
  const codes: ReasonCode[] = ['wait_budget_exhausted', 'energy_budget'];
  s.gate = {
    state: 'blocked',
    phase: 'ArtifactInstall_Enter',
    reason: formatReasonLine(codes.map((code) => ({ code }))),
    codes,
    sinceMs: now,
  };
  s.inventoryDue = true;
  return fail(
    s,
    'ArtifactInstall_Enter_50_vancore-gate exited 1: the battery does not cover the update and a rollback',
    'failure',
    at,
  );
}

function log(s: DeviceState, now: number): Step {
  if (s.update) s.update = { ...s.update, stage: 'log' };
  s.action = { kind: 'log' };
  return { state: s, at: now };
}

function finishAborted(s: DeviceState, now: number): Step {
  const step = finish(s, now);
  return { ...step, event: 'aborted' };
}

/** `downgrade_refused: …` when the artifact would take a component back without being its explicit revert. */
export function refusedDowngrade(
  s: Pick<DeviceState, 'versions'>,
  facts: ArtifactFacts | undefined,
): string | undefined {
  for (const [c, v] of Object.entries(facts?.versions ?? {})) {
    const have = s.versions[c];
    if (have === undefined || valid(have) === null || valid(v) === null || !lt(v, have)) continue;
    if (facts?.revertOf === have) continue;
    return `downgrade_refused: ${c} ${v} is older than the installed ${have}`;
  }
  return undefined;
}

function applyArtifact(s: DeviceState, u: Readonly<UpdateInProgress>, behaviour?: Behaviour): void {
  s.artifactName = u.artifactName;
  s.committed = [...(s.committed ?? []), u.artifactName];
  if (s.soakReporting)
    s.soak = behaviour?.soakRegression
      ? {
          state: 'regressed',
          artifact: u.artifactName,
          reason: 'soak_container_restarts: 4 container restarts since the commit (app-web-1 4)',
        }
      : { state: 'passed', artifact: u.artifactName };
  const facts = u.artifact;
  if (facts) {
    s.versions = { ...s.versions, ...facts.versions };
    // Provides the artifact does not touch stay (a hardware provide of the rootfs); its own replace them.
    s.provides = { ...s.provides, ...versionProvides(s.versions), ...withoutNames(facts.provides) };
    if (facts.vpnStep) {
      const before = s.vpn ?? VPN_STATE_INITIAL;
      s.vpn = stateAfter(facts.vpnStep);
      // A committed step arms the deadman (not retire); a scripted van fails its probes afterwards.
      s.vpnRevertTo = behaviour?.vpn?.revertStep === facts.vpnStep && facts.vpnStep !== 'retire' ? before : undefined;
    }
  }
  s.lastUpdateStatus = 'success';
}

function withoutNames(provides: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(provides)) if (k !== 'artifact_name' && k !== 'artifact_group') out[k] = v;
  return out;
}
