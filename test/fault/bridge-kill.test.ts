// Fault suite: `kill -9` of the bridge during a rollout. The bridge runs as a real process
// (`node dist/cli.js bridge --config …`, SQLite file, accelerated clock) against the simulator and a
// virtual fleet in this process. A rollout started through the API is interrupted by SIGKILL at seeded
// random moments (startup, sync, ticks, deployment creation — wherever the moment falls); every restart
// must pick it up, and the end state must equal a clean uninterrupted run of the same seeded fleet.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as R from '../../bridge/rollout/store.js';
import { openFleetDb } from '../../bridge/store/db.js';
import { FleetStore } from '../../bridge/store/fleet-store.js';
import { runSync } from '../../bridge/sync/sync.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { seededRandom } from '../helpers/chaos-proxy.js';
import { cliPath, repoRoot } from '../helpers/cli.js';
import { startVirtualFleet } from '../../mender-sim/fleet/index.js';
import { startMenderSim } from '../../mender-sim/index.js';
import { Mgmt } from '../../mender-sim/testkit.js';
import {
  FAULT_SETTINGS_INPUT,
  type NormalizedRollout,
  RELEASE,
  deploymentLedger,
  fleetVersions,
  normalizeRollout,
  releaseArtifacts,
  startCreateProxy,
  vanId,
} from './kit.js';
import { captureOutput, registerSecret } from '../helpers/output-capture.js';

/** 12 vans: 2 internal, 4 pilot, 6 fleet (fleet waves of one van); van 9 fails every update. */
const COUNT = 12;
const KILL_SCRIPT = { overrides: { '9': { outcome: 'failure' as const } } };
const STAGE_OF: Record<number, 'internal' | 'pilot'> = {
  0: 'internal',
  1: 'internal',
  2: 'pilot',
  3: 'pilot',
  4: 'pilot',
  5: 'pilot',
};
/** A day per minute: an hour of soak or wave interval is 2.5 s of real time. */
const SPEED = 1440;
const TOKEN = registerSecret('bridge-kill ops token', 'fault-suite-ops-token-0123456789');
const KILL_SEED = Number(process.env.VC_FAULT_SEED ?? 4242);

let dir: string;
let artifacts: Buffer[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fault-kill-'));
  artifacts = await releaseArtifacts(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface BridgeProc {
  child: ChildProcess;
  /** Resolves with the API URL once the bridge listens; rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
  output: () => string;
}

function startBridgeProcess(config: string): BridgeProc {
  const child = spawn(process.execPath, [cliPath, 'bridge', '--config', config], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      captureOutput('bridge-kill bridge stdout', b);
      out += b.toString();
      const m = /bridge listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (b: Buffer) => {
      captureOutput('bridge-kill bridge stderr', b);
      out += b.toString();
    });
    void exited.then((code) => reject(new Error(`bridge exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, output: () => out };
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

interface KillRun {
  normalized: NormalizedRollout;
  /** Where the rollout stood at each kill. */
  killedAt: string[];
  restarts: number;
  eventTimes: string[];
  /** Bridge-clock stamps that contradict each other: an outcome finished before its deployment existed. */
  backwards: string[];
  ledger: Awaited<ReturnType<typeof deploymentLedger>>;
  ms: number;
}

/** What the dead bridge left behind, for the log: the rollout's progress at the moment of a kill. */
function where(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const one = (q: string) => (db.prepare(q).get() as { n: number }).n;
    return (
      `${one('SELECT count(*) AS n FROM rollout_waves')} waves, ` +
      `${one("SELECT count(*) AS n FROM tracked_deployments WHERE status = 'open'")} deployments open, ` +
      `${one("SELECT count(*) AS n FROM tracked_deployments WHERE status = 'intent'")} intents without a Mender id, ` +
      `${one('SELECT count(*) AS n FROM tracked_deployments')} deployments`
    );
  } finally {
    db.close();
  }
}

async function runWithKills(name: string, killAfterMs: (number | 'intent')[]): Promise<KillRun> {
  const started = Date.now();
  const sim = await startMenderSim({ autoAccept: true });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const a of artifacts) expect((await mg.upload(a)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: COUNT,
    seed: 'fault-kill',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    script: KILL_SCRIPT,
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === COUNT, { timeoutMs: 60_000 });

  // For the aimed kill, Mender's answer to "create deployment" is held 1.5 s after Mender acted: a kill in
  // that window leaves a deployment that exists in Mender but not in our records.
  const proxy = await startCreateProxy(sim.url, {});
  cleanup.push(() => proxy.close());
  const dbFile = join(dir, `${name}.db`);
  const config = join(dir, `${name}.yaml`);
  await writeFile(
    config,
    stringify({
      http: { host: '127.0.0.1', port: 0 },
      mender: { url: proxy.url, user: sim.user, password: sim.password, timeout_ms: 5000, retries: 2 },
      database: { url: `sqlite:${dbFile}` },
      sync: { interval_seconds: 5 },
      // Waves of one van: the failing van alone must not pause the rollout (it is retried, then excluded).
      rollout: { ...FAULT_SETTINGS_INPUT, max_failure_percent: 100, advance_success_percent: 0 },
      auth: { tokens: [{ name: 'ops-fault', role: 'ops', token: TOKEN }] },
      clock: { speed: SPEED },
      log_level: 'warn',
    }),
  );
  let bridge = startBridgeProcess(config);
  cleanup.push(async () => {
    bridge.child.kill('SIGKILL');
    await bridge.exited;
  });
  let url = await bridge.ready;
  // The first full sync has run when every van is listed.
  for (let i = 0; ; i++) {
    const vans = await api(url, 'GET', '/vans?per_page=100');
    if (vans.status === 200 && (vans.json as unknown as unknown[]).length === COUNT) break;
    if (i > 100) throw new Error(`vans never synced: ${JSON.stringify(vans)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const [i, stage] of Object.entries(STAGE_OF))
    expect((await api(url, 'PATCH', `/vans/${vanId(Number(i))}`, { stage })).status).toBe(200);
  expect((await api(url, 'POST', '/releases', RELEASE)).status).toBe(201);
  const created = await api(url, 'POST', '/rollouts', { release: RELEASE.name, reason: 'fault suite' });
  expect(created.status).toBe(201);
  const rolloutId = created.json.id as string;

  // SIGKILL at the planned moments after each (re)start; the rollout keeps running across them.
  let restarts = 0;
  const killedAt: string[] = [];
  for (const after of killAfterMs) {
    if (after === 'intent') {
      // Aimed: once Mender has made a deployment whose answer the proxy holds — the intent is written,
      // the deployment exists, its id is not recorded.
      const held = proxy.stats.held;
      proxy.setHold(1_500);
      for (let i = 0; proxy.stats.held === held; i++) {
        if (i > 600) throw new Error('no deployment created within 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    } else await new Promise((r) => setTimeout(r, after));
    bridge.child.kill('SIGKILL');
    expect(await bridge.exited).toBe(null);
    proxy.setHold(0);
    killedAt.push(`${after === 'intent' ? 'on an intent' : `${after} ms`}: ${where(dbFile)}`);
    bridge = startBridgeProcess(config);
    restarts++;
  }
  url = await bridge.ready;
  let status = '';
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    const r = await api(url, 'GET', `/rollouts/${rolloutId}`).catch(() => undefined);
    status = (r?.json.status as string | undefined) ?? '';
    if (status && status !== 'active') break;
    await new Promise((res) => setTimeout(res, 250));
  }
  expect(status, bridge.output().slice(-3000)).toBe('completed');
  bridge.child.kill('SIGTERM');
  expect(await bridge.exited).toBe(0);

  // Our records from the file the bridge wrote, after one last sync of inventory (the bridge syncs only
  // every 5 s; the rollout's own records are all the bridge's).
  const mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
  });
  const store = new FleetStore(await openFleetDb(`sqlite:${dbFile}`));
  cleanup.push(() => store.close());
  const ledger = await deploymentLedger(store.db, mender);
  await runSync({ mender, store, now: () => new Date() }, 'full');
  const normalized = await normalizeRollout(store.db, rolloutId, fleetVersions(fleet));
  const eventTimes = (await R.listEvents(store.db, rolloutId)).map((e) => e.at);
  const backwards: string[] = [];
  for (const d of await R.loadDeployments(store.db, rolloutId))
    for (const [id, o] of Object.entries(d.outcomes))
      if (o.finishedAt && o.finishedAt < d.createdAt)
        backwards.push(`${d.name}: ${id} finished ${o.finishedAt} < created ${d.createdAt}`);
  const waves = await R.loadWaves(store.db, rolloutId);
  for (const [i, w] of waves.entries())
    if (i > 0 && w.openedAt < waves[i - 1]!.closedAt!)
      backwards.push(`wave ${w.label} opened ${w.openedAt} < previous closed ${waves[i - 1]!.closedAt}`);
  return { normalized, killedAt, restarts, eventTimes, backwards, ledger, ms: Date.now() - started };
}

describe('fault: kill -9 of the bridge process during a rollout', () => {
  it(`restarts resume the rollout and end where a clean run ends (seed ${KILL_SEED})`, async () => {
    const rnd = seededRandom(KILL_SEED);
    // Five timed kills, each 0.3–6 s after the previous (re)start (the clean run takes ~30 s): some land in
    // start-up and the first full sync, the others at whatever tick, sync or deployment is under way.
    const kills: (number | 'intent')[] = Array.from({ length: 5 }, () => Math.round(300 + rnd() * 5700));
    // …and one aimed at the narrow window between writing a deployment's intent and recording its id.
    kills.splice(2, 0, 'intent');
    // Both runs at once (own simulator, fleet, bridge process and file each): half the wall time.
    const [clean, killed] = await Promise.all([runWithKills('clean', []), runWithKills('killed', kills)]);
    console.log(
      `bridge-kill: seed ${KILL_SEED}; clean ${clean.ms} ms, killed ${killed.ms} ms; killed after\n  ` +
        killed.killedAt.join('\n  '),
    );

    expect(killed.restarts).toBe(kills.length);
    // The aimed kill left a deployment intent behind; the restart found it in Mender by its name.
    expect(killed.killedAt.find((k) => k.startsWith('on an intent'))).toMatch(/: .* [1-9]\d* intents/);
    expect(clean.normalized.status).toBe('completed');
    expect(killed.normalized).toEqual(clean.normalized);
    for (const run of [clean, killed]) {
      const { inMender, ours } = run.ledger;
      expect(new Set(inMender.map((d) => d.name)).size).toBe(inMender.length);
      expect(inMender).toHaveLength(ours.length);
      expect(new Set(ours.map((d) => d.mender_id))).toEqual(new Set(inMender.map((d) => d.id)));
      // The bridge clock never runs backwards across a restart.
      expect(run.eventTimes).toEqual([...run.eventTimes].sort());
      expect(run.backwards).toEqual([]);
    }
    // 2 internal, 4 pilot, 6 fleet vans in waves of one; van 9 fails, is retried once, then excluded.
    expect(clean.normalized.waves.map((w) => w.split(':')[0])).toEqual([
      'internal',
      'pilot',
      ...Array.from({ length: clean.normalized.waves.length - 2 }, (_, i) => `fleet-${i + 1}`),
    ]);
    expect(clean.normalized.vans[vanId(9)]).toMatch(/^fleet excluded \| .*=failure .*=failure$/);
  }, 180_000);
});
