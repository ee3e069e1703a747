// Failover of replicated bridges on real processes, shared by the fault suite (failover.test.ts) and
// `npm run bench replicas`: N `vancore-ota bridge` processes on one fresh PostgreSQL database against the
// simulator and a virtual fleet, a rollout started through the leader, and the leader killed (SIGKILL at
// seeded moments, or SIGTERM) while it runs. Each time the kit measures how long until another replica
// reports `role: leader` on /readyz, then starts a replacement so N replicas stay up.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import * as R from '../../bridge/rollout/store.js';
import { openFleetDb } from '../../bridge/store/db.js';
import { FleetStore } from '../../bridge/store/fleet-store.js';
import { runSync } from '../../bridge/sync/sync.js';
import { MenderManagementClient } from '../../core/mender/management.js';
import { cliPath, repoRoot } from '../helpers/cli.js';
import { PG_URL } from '../helpers/fleet-db.js';
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
  startCreateProxy,
  vanId,
} from './kit.js';
import { captureOutput, registerSecret } from '../helpers/output-capture.js';

/** 12 vans: 2 internal, 4 pilot, 6 fleet (fleet waves of one van); van 9 fails every update (as bridge-kill). */
export const COUNT = 12;
const SCRIPT = { overrides: { '9': { outcome: 'failure' as const } } };
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
const TOKEN = registerSecret('failover ops token', 'failover-suite-ops-token-0123456789');

export type Interruption = { kind: 'kill'; afterMs: number } | { kind: 'kill-on-intent' } | { kind: 'sigterm' };

export interface Takeover {
  how: 'kill' | 'kill-on-intent' | 'sigterm';
  /** From the signal to another replica's /readyz saying `leader`. */
  ms: number;
  /** The rollout's progress when the leader went (kill-on-intent: read just before the kill). */
  at: string;
}

export interface FailoverRun {
  normalized: NormalizedRollout;
  takeovers: Takeover[];
  ledger: Awaited<ReturnType<typeof deploymentLedger>>;
  /** Mender deployments whose name appears more than once. */
  duplicates: number;
  eventTimes: string[];
  backwards: string[];
  /** Samples of /readyz across live replicas in which more than one said `leader`. */
  twoLeaders: number;
  ms: number;
}

interface Replica {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<number | null>;
  output: () => string;
}

function startReplica(config: string): Replica {
  const child = spawn(process.execPath, [cliPath, 'bridge', '--config', config], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      captureOutput('failover bridge stdout', b);
      out = (out + b.toString()).slice(-20_000);
      const m = /bridge listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on('data', (b: Buffer) => {
      captureOutput('failover bridge stderr', b);
      out = (out + b.toString()).slice(-20_000);
    });
    void exited.then((code) => reject(new Error(`bridge exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
  url.catch(() => undefined);
  return { child, url, exited, output: () => out };
}

async function role(r: Replica): Promise<string | undefined> {
  try {
    const res = await fetch(`${await r.url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
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

/** A fresh database on the machine's PostgreSQL; `drop` removes it. */
export async function freshDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Where the rollout stood (for the log of each interruption). */
async function progress(store: FleetStore): Promise<string> {
  const count = async (q: Promise<{ n: unknown } | undefined>) => Number((await q)?.n ?? 0);
  const db = store.db;
  const waves = await count(
    db
      .selectFrom('rollout_waves')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst(),
  );
  const open = await count(
    db
      .selectFrom('tracked_deployments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', 'open')
      .executeTakeFirst(),
  );
  const intents = await count(
    db
      .selectFrom('tracked_deployments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', 'intent')
      .executeTakeFirst(),
  );
  return `${waves} waves, ${open} deployments open, ${intents} intents without a Mender id`;
}

/**
 * One run: `replicas` bridges, the given interruptions of the leader in order (each after the previous
 * takeover), then the rollout to its end. `cleanup` receives what the caller must tear down.
 */
export async function runFailover(opts: {
  name: string;
  dir: string;
  artifacts: Buffer[];
  replicas: number;
  interruptions: Interruption[];
  cleanup: (() => Promise<void>)[];
  log?: (line: string) => void;
}): Promise<FailoverRun> {
  const started = Date.now();
  const { cleanup } = opts;
  const sim = await startMenderSim({ autoAccept: true });
  cleanup.push(() => sim.close());
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const a of opts.artifacts) {
    const up = await mg.upload(a);
    if (up.status !== 201) throw new Error(`artifact upload: ${up.status}`);
  }
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    count: COUNT,
    seed: 'fault-failover',
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    script: SCRIPT,
  });
  cleanup.push(() => fleet.stop());
  await fleet.until((s) => s.booted === COUNT, { timeoutMs: 60_000 });
  // The aimed kill holds Mender's answer to "create deployment" after Mender acted (kit.ts).
  const proxy = await startCreateProxy(sim.url, {});
  cleanup.push(() => proxy.close());
  const db = await freshDatabase('vc_failover');
  cleanup.push(db.drop);
  const config = join(opts.dir, `${opts.name}.yaml`);
  await writeFile(
    config,
    stringify({
      http: { host: '127.0.0.1', port: 0 },
      mender: { url: proxy.url, user: sim.user, password: sim.password, timeout_ms: 5000, retries: 2 },
      database: { url: db.url },
      sync: { interval_seconds: 5 },
      rollout: { ...FAULT_SETTINGS_INPUT, max_failure_percent: 100, advance_success_percent: 0 },
      auth: { tokens: [{ name: 'ops-failover', role: 'ops', token: TOKEN }] },
      clock: { speed: SPEED },
      log_level: 'warn',
    }),
  );
  let live: Replica[] = [];
  const all: Replica[] = [];
  const spawnOne = () => {
    const r = startReplica(config);
    live.push(r);
    all.push(r);
    return r;
  };
  cleanup.push(async () => {
    for (const r of all) r.child.kill('SIGKILL');
    await Promise.all(all.map((r) => r.exited));
  });
  // The first replica alone first (it migrates and leads), then the others.
  await spawnOne().url;
  for (let i = 1; i < opts.replicas; i++) spawnOne();
  await Promise.all(live.map((r) => r.url));

  let twoLeaders = 0;
  const leader = async (timeoutMs: number): Promise<Replica> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const roles = await Promise.all(live.map(role));
      if (roles.filter((x) => x === 'leader').length > 1) twoLeaders++;
      const i = roles.indexOf('leader');
      if (i >= 0) return live[i]!;
      if (Date.now() > end) throw new Error(`no leader among ${live.length} replicas within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  let lead = await leader(30_000);
  const url = await lead.url;
  for (let i = 0; ; i++) {
    const vans = await api(url, 'GET', '/vans?per_page=100');
    if (vans.status === 200 && (vans.json as unknown as unknown[]).length === COUNT) break;
    if (i > 300) throw new Error(`vans never synced: ${JSON.stringify(vans)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Everything that stamps the bridge clock goes through the leader (a follower's accelerated clock
  // runs from its own start; it is re-anchored to the records when it becomes leader).
  for (const [i, stage] of Object.entries(STAGE_OF)) {
    const p = await api(url, 'PATCH', `/vans/${vanId(Number(i))}`, { stage });
    if (p.status !== 200) throw new Error(`stage: ${p.status}`);
  }
  if ((await api(url, 'POST', '/releases', RELEASE)).status !== 201) throw new Error('release not created');
  const created = await api(url, 'POST', '/rollouts', { release: RELEASE.name, reason: 'failover suite' });
  if (created.status !== 201) throw new Error(`rollout: ${JSON.stringify(created.json)}`);
  const rolloutId = created.json.id as string;

  const watch = new FleetStore(await openFleetDb(db.url, { poolSize: 2 }));
  cleanup.push(() => watch.close());
  const takeovers: Takeover[] = [];
  for (const it of opts.interruptions) {
    if (it.kind === 'kill') await new Promise((r) => setTimeout(r, it.afterMs));
    if (it.kind === 'kill-on-intent') {
      const held = proxy.stats.held;
      proxy.setHold(1_500);
      for (let i = 0; proxy.stats.held === held; i++) {
        if (i > 1500) throw new Error('no deployment created within 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    lead = await leader(30_000);
    // The aimed kill: read the progress before the signal, while the leader waits on its held
    // deployment request with the intent written. Read after the takeover, the new leader may already
    // have resolved it (that made this check timing-dependent under load).
    const atKill = it.kind === 'kill-on-intent' ? await progress(watch) : undefined;
    const signalled = Date.now();
    lead.child.kill(it.kind === 'sigterm' ? 'SIGTERM' : 'SIGKILL');
    const gone = lead;
    live = live.filter((r) => r !== gone);
    const next = await leader(60_000);
    const ms = Date.now() - signalled;
    proxy.setHold(0);
    const code = await gone.exited;
    if (it.kind === 'sigterm' ? code !== 0 : code !== null)
      throw new Error(`the leader exited ${code} on ${it.kind}:\n${gone.output().slice(-2000)}`);
    const at = atKill ?? (await progress(watch));
    takeovers.push({ how: it.kind, ms, at });
    opts.log?.(
      `${opts.name}: ${it.kind}${it.kind === 'kill' ? ` after ${it.afterMs} ms` : ''} → taken over in ${ms} ms (${at})`,
    );
    void next;
    // Keep the replica count: a replacement starts (the orchestrator's restart).
    await spawnOne().url;
  }

  let status = '';
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const l = await leader(30_000);
    const r = await api(await l.url, 'GET', `/rollouts/${rolloutId}`).catch(() => undefined);
    status = (r?.json.status as string | undefined) ?? '';
    if (status && status !== 'active') break;
    await new Promise((res) => setTimeout(res, 250));
  }
  if (status !== 'completed')
    throw new Error(`rollout ended ${status || 'never'}:\n${live.map((r) => r.output().slice(-1500)).join('\n---\n')}`);
  for (const r of live) r.child.kill('SIGTERM');
  const codes = await Promise.all(live.map((r) => r.exited));
  if (codes.some((c) => c !== 0)) throw new Error(`a replica exited ${codes.join(',')} on SIGTERM`);

  const mender = MenderManagementClient.create({
    baseUrl: sim.url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
  });
  const ledger = await deploymentLedger(watch.db, mender);
  await runSync({ mender, store: watch, now: () => new Date() }, 'full');
  const normalized = await normalizeRollout(watch.db, rolloutId, fleetVersions(fleet));
  const eventTimes = (await R.listEvents(watch.db, rolloutId)).map((e) => e.at);
  const backwards: string[] = [];
  for (const d of await R.loadDeployments(watch.db, rolloutId))
    for (const [id, o] of Object.entries(d.outcomes))
      if (o.finishedAt && o.finishedAt < d.createdAt)
        backwards.push(`${d.name}: ${id} finished ${o.finishedAt} < created ${d.createdAt}`);
  const names = ledger.inMender.map((d) => d.name);
  return {
    normalized,
    takeovers,
    ledger,
    duplicates: names.length - new Set(names).size,
    eventTimes,
    backwards,
    twoLeaders,
    ms: Date.now() - started,
  };
}
