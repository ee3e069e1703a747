// startVirtualFleet: N in-process devices that talk to a Mender server (the simulator or a real one)
// over the documented device API only. See docs/virtual-fleet.md.
//
// Scheduling: every device is a slot in one DueQueue (a heap keyed by the time of its next action);
// one pump takes due devices while fewer than `concurrency` requests are in flight and arms a single
// timer for the earliest future one. A device has at most one action in flight, and its state is a
// plain object replaced by the pure `advance` (machine.ts) after each reply; nothing per request
// outlives the request.
import { generateKeyPairSync, sign } from 'node:crypto';
import type { VpnPosition } from '../../core/vpn-steps.js';
import type { ClientFlavour } from '../../core/schemas/client.js';
import type { Clock } from '../../core/clock.js';
import { ArtifactDownloader } from './artifact.js';
import { DueQueue } from './due-queue.js';
import { HttpPool, type Reply } from './http-pool.js';
import { RawHttp } from './raw-http.js';
import { inventoryBody, makeProfile, vanIdFor, type DeviceProfile } from './inventory.js';
import {
  CLIENT_MODELS,
  EXPECTED_STATUSES,
  advance,
  initialState,
  type Action,
  type ActionKind,
  type Activity,
  type DeviceState,
  type FleetEvent,
  type OfferedDeployment,
  type StepInput,
  type Timing,
} from './machine.js';
import {
  assignBehaviours,
  assignClients,
  assignStages,
  prng,
  seed32,
  type Behaviour,
  type ScenarioInput,
} from './scenario.js';

export interface VirtualFleetOptions {
  /** The Mender server, e.g. http://127.0.0.1:8080 (the simulator's `url`). */
  serverUrl: string;
  count: number;
  /** Seeds identities, health values, behaviours and stages; default 1. */
  seed?: number | string;
  /** Default `vanpc`. */
  deviceType?: string;
  /** The artifact every device runs at start; default `vancore-factory-0.9.0`. */
  artifactName?: string;
  /** Installed component versions at start; default `{ platform: '0.9.0', app: '1.3.0' }`. */
  versions?: Record<string, string>;
  /**
   * Other provides every device has at start (e.g. `{ 'vancore.hw': 'gen2' }`): artifacts whose type-info
   * depends name them install only where they match, as the client checks (RECIPE §8).
   */
  provides?: Record<string, string>;
  /**
   * vpn.json of every device at start (e.g. `{ state: 'tailscale', step: 'none' }` before a migration);
   * default: none, so inventory shows the profile's drawn state at step `none`.
   */
  vpn?: VpnPosition;
  /** Requests in flight at most (across the fleet); default 64. */
  concurrency?: number;
  /** UpdatePollIntervalSeconds in ms; default 5,000. */
  pollIntervalMs?: number;
  /** InventoryPollIntervalSeconds in ms; default 60,000. */
  inventoryIntervalMs?: number;
  /** RetryPollIntervalSeconds in ms (pending auth, failed requests); default 2,000. */
  retryIntervalMs?: number;
  /** Time an install and a reboot each take; default 0. */
  stepDelayMs?: number;
  /** Re-authenticate before the commit as mender-client 3.4 does; default true. */
  reauthBeforeCommit?: boolean;
  /** Spread the devices' first requests over this window (seeded); default 0 (all due at once). */
  startSpreadMs?: number;
  /** Per request; default 30,000. */
  requestTimeoutMs?: number;
  /** Time source; default the system clock with real timers. A ManualClock makes waits move only when advanced. */
  clock?: Clock;
  /** The seeded scenario (docs/virtual-fleet.md): shares of failure / rollback / deferral / offline, overrides. */
  script?: ScenarioInput;
  /** Van ids are `<prefix><index, zero-padded to 5>`; default `van-`. */
  vanIdPrefix?: string;
  /** Rollout rings: `{ dev: 0.01, pilot: 0.05 }`; see `applyStages`. */
  stages?: Record<string, number>;
  /**
   * Report the post-commit soak (`vancore.soak.state/artifact/reason`, issue #20 item 2) after each commit:
   * `passed`, or `regressed` on the scenario's `soakRegression` devices. Default false (no soak keys).
   */
  reportSoak?: boolean;
  /**
   * Refuse downgrades as the update modules do (agent-hooks/lib/downgrade.ts): an artifact older than the
   * installed component version fails at `installing` unless its `vancore.revert_of` names exactly that
   * version. Default false (the fleet's older tests deploy older VPN steps again).
   */
  refuseDowngrades?: boolean;
  /** Keep the last N requests of each device (kind, status) for tests; default 0 (off). */
  trace?: number;
  /**
   * Which Mender client the vans run (machine.ts CLIENT_MODELS): the share of `mender-update-5` vans
   * (0–1, seeded, exact count round(share × count)), or one flavour for all. Default 0.5: half 3.4, half 5.x.
   */
  clients?: number | ClientFlavour;
}

export interface TraceEntry {
  /** Milliseconds since the fleet started (on its clock). */
  t: number;
  /** `auth`, `inventory`, `next-v2`, `next-v1` (`next-v1:GET` on 5.x), `status:<status>`, `download`, `log`. */
  request: string;
  status: number;
}

export interface VirtualDeviceInfo {
  index: number;
  vanId: string;
  identity: { mac: string; van_id: string };
  /** The Mender client it runs. */
  client: ClientFlavour;
  /** The Mender device ID (from the device token's `sub`) once authenticated. */
  deviceId: string | undefined;
  stage: string | undefined;
  behaviour: Behaviour;
  activity: Activity;
  artifactName: string;
  versions: Record<string, string>;
  /** Artifact names committed since the fleet started, in order. */
  committed: string[];
  lastUpdateStatus: string;
  gate: { state: string; reason: string };
  /** What inventory says: `vancore.vpn.state` / `vancore.vpn.step`. */
  vpn: { state: string; step: string };
  polls: number;
  /** Deployments turned down by the gate so far. */
  deferrals: number;
  /** Final outcomes of deployments, in order (`success`, `failure`, `rolled_back`, `aborted`, `already-installed`). */
  outcomes: FleetEvent[];
  /** Artifact bytes this device received over all its downloads (retries and partial reads included). */
  bytesDownloaded: number;
  trace?: TraceEntry[];
}

export interface FleetStats {
  size: number;
  /** Devices per activity. */
  activity: Record<Activity, number>;
  /** Devices that finished their first inventory and update check. */
  booted: number;
  /** Devices per Mender client. */
  clients: Record<ClientFlavour, number>;
  /** Inventory cycles a 5.x van did not send because nothing changed (RECIPE-current §3.3); not requests. */
  inventoryUnchanged: number;
  /** Final outcomes over all devices and deployments, plus `deferred` (gate "not now") and `offline`. */
  events: Record<FleetEvent, number>;
  requests: { total: number; inFlight: number; byKind: Record<string, number> };
  errors: {
    /** No HTTP answer. */
    network: number;
    /** An answer outside the protocol for that request (5xx, an unexpected 4xx). */
    http: number;
    /** 401s that made a device re-authenticate. */
    reauth: number;
    /** Exceptions inside the fleet itself (a device stays parked); always 0 unless there is a bug. */
    internal: number;
  };
  bytesDownloaded: number;
  /** Devices with a next action scheduled (offline devices have none). */
  scheduled: number;
  elapsedMs: number;
}

export interface VirtualFleet {
  size: number;
  stats(): FleetStats;
  /** Stop every device; resolves when the requests in flight have ended. */
  stop(): Promise<void>;
  devices(): VirtualDeviceInfo[];
  /** Like SIGUSR1 to every idle device: check for an update now. */
  pollNow(): void;
  /** Like SIGUSR2 to every idle device: send inventory now. */
  inventoryNow(): void;
  /** Resolves with the stats once `pred` holds (checked every 20 ms of real time); rejects after `timeoutMs`. */
  until(pred: (s: FleetStats) => boolean, opts?: { timeoutMs?: number }): Promise<FleetStats>;
  /**
   * Put the devices of each stage into the static group of that name through the management API
   * (`PATCH /api/management/v1/inventory/groups/{name}/devices`). Devices must have authenticated.
   */
  applyStages(managementToken: string): Promise<Record<string, number>>;
}

const ACTIVITIES: Activity[] = ['booting', 'pending', 'idle', 'deferred', 'updating', 'offline'];
const EVENTS: FleetEvent[] = [
  'success',
  'failure',
  'rolled_back',
  'aborted',
  'already-installed',
  'deferred',
  'offline',
  'accepted',
];
const OUTCOME_EVENTS = new Set<FleetEvent>(['success', 'failure', 'rolled_back', 'aborted', 'already-installed']);
const PATHS = {
  auth: '/api/devices/v1/authentication/auth_requests',
  inventory: '/api/devices/v1/inventory/device/attributes',
  nextV2: '/api/devices/v2/deployments/device/deployments/next',
  nextV1: '/api/devices/v1/deployments/device/deployments/next',
  deployments: '/api/devices/v1/deployments/device/deployments/',
};
const MAX_OUTCOMES = 32;

interface Ticker {
  now(): number;
  /** Run `fn` after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

function tickerOf(clock: Clock | undefined): Ticker {
  if (!clock) {
    return {
      now: () => Date.now(),
      after: (ms, fn) => {
        const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
        return () => clearTimeout(t);
      },
    };
  }
  return {
    now: () => clock.now().getTime(),
    after: (ms, fn) => {
      let live = true;
      void clock.sleep(ms).then(() => live && fn());
      return () => (live = false);
    },
  };
}

/** Per-device slot: fixed facts, the auth request (signed once: Ed25519 signatures are deterministic). */
interface Slot {
  profile: DeviceProfile;
  behaviour: Behaviour;
  state: DeviceState;
  token: string | undefined;
  authBody: string | undefined;
  authSig: string | undefined;
  deferrals: number;
  outcomes: FleetEvent[];
  trace: TraceEntry[] | undefined;
  bytesDownloaded: number;
}

function parseNext(r: Reply): OfferedDeployment | undefined {
  try {
    const j = JSON.parse(r.body) as {
      id?: unknown;
      artifact?: { artifact_name?: unknown; source?: { uri?: unknown } };
    };
    const id = j.id;
    const name = j.artifact?.artifact_name;
    const uri = j.artifact?.source?.uri;
    // The client's check: "Missing parameters in encoded JSON update response".
    if (typeof id !== 'string' || typeof name !== 'string' || typeof uri !== 'string' || !id || !name || !uri)
      return undefined;
    return { id, artifactName: name, uri };
  } catch {
    return undefined;
  }
}

function tokenSubject(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start the fleet: devices begin at once (or spread over `startSpreadMs`). Rejects on bad options.
 * Asynchronous so that a later version may prepare keys or probe the server before returning.
 */
export function startVirtualFleet(opts: VirtualFleetOptions): Promise<VirtualFleet> {
  try {
    return Promise.resolve(createFleet(opts));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function createFleet(opts: VirtualFleetOptions): VirtualFleet {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a whole number ≥ 0, got ${count}`);
  const base = new URL(opts.serverUrl.replace(/\/+$/, ''));
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new RangeError(`serverUrl must be http(s): ${opts.serverUrl}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const origin = base.origin + basePath;
  const seed = seed32(opts.seed ?? 1);
  const concurrency = Math.max(1, opts.concurrency ?? 64);
  const timing: Timing = {
    pollIntervalMs: opts.pollIntervalMs ?? 5_000,
    inventoryIntervalMs: opts.inventoryIntervalMs ?? 60_000,
    retryIntervalMs: opts.retryIntervalMs ?? 2_000,
    stepDelayMs: opts.stepDelayMs ?? 0,
    reauthBeforeCommit: opts.reauthBeforeCommit ?? true,
    statusAttempts: 3,
  };
  const prefix = opts.vanIdPrefix ?? 'van-';
  const deviceType = opts.deviceType ?? 'vanpc';
  const fleetBase = {
    artifactName: opts.artifactName ?? 'vancore-factory-0.9.0',
    versions: opts.versions ?? { platform: '0.9.0', app: '1.3.0' },
    vpn: opts.vpn,
    soakReporting: opts.reportSoak ?? false,
    refuseDowngrades: opts.refuseDowngrades ?? false,
    provides: opts.provides,
  };
  const traceSize = Math.max(0, opts.trace ?? 0);
  const ticker = tickerOf(opts.clock);
  const startedAt = ticker.now();

  const stages = assignStages(count, seed, opts.stages);
  const behaviours = assignBehaviours(count, seed, opts.script ?? {}, (i) => vanIdFor(prefix, i, count));
  const clients = assignClients(count, seed, opts.clients ?? 0.5);
  const clientCounts: Record<ClientFlavour, number> = { 'mender-3': 0, 'mender-update-5': 0 };
  for (const c of clients) clientCounts[c] += 1;
  const spread = prng(`${seed}/start`);
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    profile: makeProfile({ seed, index: i, count, vanIdPrefix: prefix, deviceType, stage: stages[i] }),
    behaviour: behaviours[i] as Behaviour,
    state: initialState(behaviours[i] as Behaviour, { ...fleetBase, client: clients[i] }, startedAt),
    token: undefined,
    authBody: undefined,
    authSig: undefined,
    deferrals: 0,
    outcomes: [],
    trace: traceSize > 0 ? [] : undefined,
    bytesDownloaded: 0,
  }));

  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  // The API goes through the lean client; downloads (any host, streamed) and applyStages through node:http.
  const api = new RawHttp(base, { maxConnections: concurrency, timeoutMs });
  const pool = new HttpPool({ maxSockets: concurrency, timeoutMs });
  const downloader = new ArtifactDownloader(pool);
  const queue = new DueQueue(count);
  const events = Object.fromEntries(EVENTS.map((e) => [e, 0])) as Record<FleetEvent, number>;
  const byKind: Record<string, number> = {};
  const errors = { network: 0, http: 0, reauth: 0, internal: 0 };
  let total = 0;
  let inFlight = 0;
  let bytesDownloaded = 0;
  let inventoryUnchanged = 0;
  let stopped = false;
  let armedAt = Infinity;
  let cancelTimer: (() => void) | undefined;
  let idleWaiters: (() => void)[] = [];

  // Kept incrementally (stats() is polled while thousands of devices run): every state change goes through setState.
  const activity = Object.fromEntries(ACTIVITIES.map((a) => [a, 0])) as Record<Activity, number>;
  activity.booting = count;
  let booted = 0;
  function setState(slot: Slot, next: DeviceState): void {
    const prev = slot.state;
    if (prev.activity !== next.activity) {
      activity[prev.activity] -= 1;
      activity[next.activity] += 1;
    }
    if (next.booted && !prev.booted) booted += 1;
    slot.state = next;
  }

  const spreadMs = Math.max(0, opts.startSpreadMs ?? 0);
  for (let i = 0; i < count; i++) queue.schedule(i, startedAt + (spreadMs > 0 ? Math.floor(spread() * spreadMs) : 0));

  const paths = {
    auth: basePath + PATHS.auth,
    inventory: basePath + PATHS.inventory,
    nextV2: basePath + PATHS.nextV2,
    nextV1: basePath + PATHS.nextV1,
    deployments: basePath + PATHS.deployments,
  };

  function authRequest(slot: Slot): { body: string; sig: string } {
    if (slot.authBody === undefined || slot.authSig === undefined) {
      // Keys are made on first use: 10,000 Ed25519 keys cost ~1.5 s, spread over the start instead of up front.
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const identity = JSON.stringify({ mac: slot.profile.mac, van_id: slot.profile.vanId });
      const pubkey = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      // 5.1 adds `"tier":"standard"` and has Ed25519 keys of its own (RECIPE-current §0, §3.2); the 3.4 model
      // uses a pre-seeded Ed25519 key, which 3.4 accepts (RECIPE §6.2).
      slot.authBody =
        slot.state.client === 'mender-update-5'
          ? JSON.stringify({ id_data: identity, pubkey, tenant_token: '', tier: 'standard' })
          : `${JSON.stringify({ id_data: identity, pubkey, tenant_token: '' })}\n`;
      slot.authSig = sign(null, Buffer.from(slot.authBody), privateKey).toString('base64');
    }
    return { body: slot.authBody, sig: slot.authSig };
  }

  const json = (slot: Slot): Record<string, string> => ({
    Authorization: `Bearer ${slot.token ?? ''}`,
    'Content-Type': 'application/json',
  });

  function provides(slot: Slot): Record<string, string> {
    return { ...slot.state.provides, artifact_name: slot.state.artifactName, device_type: slot.profile.deviceType };
  }

  async function perform(slot: Slot, action: Action): Promise<StepInput> {
    switch (action.kind) {
      case 'auth': {
        const { body, sig } = authRequest(slot);
        const r = await api.request(
          'POST',
          paths.auth,
          { 'Content-Type': 'application/json', 'X-MEN-Signature': sig, Authorization: 'Bearer ' },
          body,
        );
        if (r.status === 200) slot.token = r.body.trim();
        return { kind: 'reply', status: r.status };
      }
      case 'inventory': {
        const body = inventoryBody(slot.profile, slot.state);
        if (CLIENT_MODELS[slot.state.client].inventorySkipUnchanged && body === slot.state.inventorySent)
          return { kind: 'unchanged' };
        const r = await api.request(action.method, paths.inventory, json(slot), body);
        return { kind: 'reply', status: r.status, sent: body };
      }
      case 'next-v2': {
        // 5.x: `{"device_provides":{"device_type":…,…provides}}`, no update_control_map (deployments.cpp).
        const body =
          slot.state.client === 'mender-update-5'
            ? JSON.stringify({ device_provides: { device_type: slot.profile.deviceType, ...provides(slot) } })
            : JSON.stringify({ device_provides: provides(slot), update_control_map: true });
        const r = await api.request('POST', paths.nextV2, json(slot), body);
        return nextReply(r);
      }
      case 'next-v1': {
        if (action.method === 'GET') {
          const q = new URLSearchParams({
            artifact_name: slot.state.artifactName,
            device_type: slot.profile.deviceType,
          });
          const r = await api.request('GET', `${paths.nextV1}?${q.toString()}`, {
            Authorization: `Bearer ${slot.token ?? ''}`,
            Accept: 'application/json',
          });
          return nextReply(r);
        }
        const r = await api.request('POST', paths.nextV1, json(slot), JSON.stringify(provides(slot)));
        return nextReply(r);
      }
      case 'status': {
        const id = slot.state.update?.id ?? '';
        const path = `${paths.deployments}${encodeURIComponent(id)}/status`;
        // 3.4 ends the body with a newline (RECIPE §6.1); 5.x sends `{"status":"…"}` as is (deployments.cpp PushStatus).
        const body = JSON.stringify({ status: action.status });
        const r = await api.request(
          'PUT',
          path,
          json(slot),
          slot.state.client === 'mender-update-5' ? body : `${body}\n`,
        );
        return { kind: 'reply', status: r.status };
      }
      case 'download': {
        const d = await downloader.download(slot.state.update?.uri ?? '');
        bytesDownloaded += d.bytes;
        slot.bytesDownloaded += d.bytes;
        return {
          kind: 'reply',
          status: d.status,
          ...(d.artifact ? { artifact: d.artifact } : {}),
          ...(d.error ? { error: d.error } : {}),
        };
      }
      case 'log': {
        const u = slot.state.update;
        const id = u?.id ?? '';
        const at = new Date(ticker.now()).toISOString();
        const messages = [
          {
            timestamp: at,
            level: 'info',
            message: `Running Mender client version: ${CLIENT_MODELS[slot.state.client].version} (VanCore virtual device)`,
          },
          { timestamp: at, level: 'info', message: `Installing artifact ${u?.artifactName ?? '?'}` },
          { timestamp: at, level: 'error', message: u?.failReason ?? 'update failed' },
        ];
        const path = `${paths.deployments}${encodeURIComponent(id)}/log`;
        const r = await api.request('PUT', path, json(slot), JSON.stringify({ messages }));
        return { kind: 'reply', status: r.status };
      }
      case 'wait':
      case 'stop':
        return { kind: 'wake' };
    }
  }

  function nextReply(r: Reply): StepInput {
    if (r.status !== 200) return { kind: 'reply', status: r.status };
    const deployment = parseNext(r);
    return deployment
      ? { kind: 'reply', status: 200, deployment }
      : { kind: 'reply', status: 200, error: 'Missing parameters in encoded JSON update response' };
  }

  function account(slot: Slot, action: Action, input: StepInput): void {
    if (input.kind === 'unchanged') inventoryUnchanged += 1;
    if (input.kind !== 'reply') return;
    const kind =
      action.kind === 'status'
        ? `status:${action.status}`
        : action.kind === 'next-v1' && action.method === 'GET'
          ? 'next-v1:GET'
          : action.kind;
    total += 1;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const k = action.kind as Exclude<ActionKind, 'wait' | 'stop'>;
    if (input.status === 0) errors.network += 1;
    else if (input.status === 401 && action.kind !== 'auth') errors.reauth += 1;
    else if (!EXPECTED_STATUSES[k].includes(input.status)) errors.http += 1;
    if (slot.trace) {
      slot.trace.push({ t: ticker.now() - startedAt, request: kind, status: input.status });
      if (slot.trace.length > traceSize) slot.trace.splice(0, slot.trace.length - traceSize);
    }
  }

  async function run(i: number): Promise<void> {
    const slot = slots[i] as Slot;
    const action = slot.state.action;
    let input: StepInput;
    try {
      input = await perform(slot, action);
    } catch (e) {
      input = { kind: 'reply', status: 0, error: e instanceof Error ? e.message : String(e) };
    }
    account(slot, action, input);
    const step = advance(slot.state, slot.behaviour, input, ticker.now(), timing);
    setState(slot, step.state);
    if (step.event) {
      events[step.event] += 1;
      if (step.event === 'deferred') slot.deferrals += 1;
      if (OUTCOME_EVENTS.has(step.event)) {
        slot.outcomes.push(step.event);
        if (slot.outcomes.length > MAX_OUTCOMES) slot.outcomes.shift();
      }
    }
    if (!stopped && Number.isFinite(step.at)) queue.schedule(i, step.at);
  }

  function finished(): void {
    inFlight -= 1;
    if (inFlight === 0 && idleWaiters.length) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
    pump();
  }

  function pump(): void {
    if (stopped) return;
    const now = ticker.now();
    while (inFlight < concurrency) {
      const due = queue.peekDue();
      if (due > now) {
        arm(due, now);
        return;
      }
      const i = queue.pop();
      const slot = slots[i] as Slot;
      if (slot.state.action.kind === 'wait') {
        // A wait ended: decide at once (no request), then it is queued again for its action.
        const step = advance(slot.state, slot.behaviour, { kind: 'wake' }, now, timing);
        setState(slot, step.state);
        if (Number.isFinite(step.at)) queue.schedule(i, step.at);
        continue;
      }
      inFlight += 1;
      run(i)
        .catch(() => {
          // A defect in the machine: the device stays parked; counted so a test or the bench sees it.
          errors.internal += 1;
        })
        .finally(finished);
    }
  }

  function arm(due: number, now: number): void {
    if (!Number.isFinite(due) || due >= armedAt) return;
    cancelTimer?.();
    armedAt = due;
    cancelTimer = ticker.after(Math.max(0, due - now), () => {
      armedAt = Infinity;
      cancelTimer = undefined;
      pump();
    });
  }

  function wakeAll(field: 'nextPollAt' | 'nextInventoryAt'): void {
    const now = ticker.now();
    for (let i = 0; i < count; i++) {
      const slot = slots[i] as Slot;
      if (slot.state.action.kind !== 'wait') continue;
      setState(slot, { ...slot.state, [field]: now });
      queue.schedule(i, now);
    }
    // A timer armed for later stays valid; the pump runs the woken devices now.
    pump();
  }

  function stats(): FleetStats {
    return {
      size: count,
      activity: { ...activity },
      booted,
      clients: { ...clientCounts },
      inventoryUnchanged,
      events: { ...events },
      requests: { total, inFlight, byKind: { ...byKind } },
      errors: { ...errors },
      bytesDownloaded,
      scheduled: queue.size,
      elapsedMs: ticker.now() - startedAt,
    };
  }

  pump();

  return {
    size: count,
    stats,
    devices: () =>
      slots.map((slot) => ({
        index: slot.profile.index,
        vanId: slot.profile.vanId,
        identity: { mac: slot.profile.mac, van_id: slot.profile.vanId },
        client: slot.state.client,
        deviceId: tokenSubject(slot.token),
        stage: slot.profile.stage,
        behaviour: slot.behaviour,
        activity: slot.state.activity,
        artifactName: slot.state.artifactName,
        versions: { ...slot.state.versions },
        committed: [...(slot.state.committed ?? [])],
        lastUpdateStatus: slot.state.lastUpdateStatus,
        gate: { state: slot.state.gate.state, reason: slot.state.gate.reason },
        vpn: {
          state: slot.state.vpn?.state ?? slot.profile.vpnState,
          step: slot.state.vpn?.step ?? 'none',
        },
        polls: slot.state.polls,
        deferrals: slot.deferrals,
        outcomes: [...slot.outcomes],
        bytesDownloaded: slot.bytesDownloaded,
        ...(slot.trace ? { trace: [...slot.trace] } : {}),
      })),
    pollNow: () => wakeAll('nextPollAt'),
    inventoryNow: () => wakeAll('nextInventoryAt'),
    async until(pred, o = {}) {
      const deadline = Date.now() + (o.timeoutMs ?? 30_000);
      for (;;) {
        const s = stats();
        if (pred(s)) return s;
        if (Date.now() > deadline) {
          throw new Error(
            `virtual fleet: condition not met in ${o.timeoutMs ?? 30_000} ms; stats: ${JSON.stringify(s)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async applyStages(managementToken) {
      const groups = new Map<string, string[]>();
      for (const slot of slots) {
        const id = tokenSubject(slot.token);
        if (!slot.profile.stage || !id) continue;
        const list = groups.get(slot.profile.stage) ?? [];
        list.push(id);
        groups.set(slot.profile.stage, list);
      }
      const out: Record<string, number> = {};
      for (const [name, ids] of groups) {
        const r = await pool.request(
          new URL(`${origin}/api/management/v1/inventory/groups/${encodeURIComponent(name)}/devices`),
          'PATCH',
          { Authorization: `Bearer ${managementToken}`, 'Content-Type': 'application/json' },
          JSON.stringify(ids),
        );
        if (r.status !== 200)
          throw new Error(`applyStages: PATCH group ${name} answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        out[name] = ids.length;
      }
      return out;
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        cancelTimer?.();
        cancelTimer = undefined;
      }
      if (inFlight > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
      api.close();
      pool.destroy();
    },
  };
}
