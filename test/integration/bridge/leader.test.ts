// One leader among bridges on one database (bridge/lib/leader.ts): real PostgreSQL (a fresh database per
// test), real bridges (startBridge) against the simulator, and `vancore-ota bridge` processes on SQLite.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../../../bridge/server.js';
import { PgLeaderElection, type ScheduledWork } from '../../../bridge/lib/leader.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { createLogger } from '../../../core/logger.js';
import { cliPath, repoRoot } from '../../helpers/cli.js';
import { PG_URL } from '../../helpers/fleet-db.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';

const lines: string[] = [];
const logger = createLogger({
  name: 'leader-test',
  level: 'info',
  destination: new Writable({
    write: (c: Buffer, _e, cb) => {
      lines.push(c.toString());
      cb();
    },
  }),
});

/** A fresh database on the machine's PostgreSQL (dropped afterwards): no test shares a lock or a table. */
async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `vc_leader_${randomBytes(5).toString('hex')}`;
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

async function until<T>(what: string, f: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let sim: MenderSim;
const cleanup: (() => Promise<void>)[] = [];
beforeAll(async () => {
  sim = await startMenderSim({ autoAccept: true });
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const config = (url: string) =>
  BridgeConfig.parse({
    http: { host: '127.0.0.1', port: 0 },
    mender: { url: sim.url, user: sim.user, password: sim.password },
    database: { url },
    sync: { interval_seconds: 5 },
  });

async function started(url: string): Promise<RunningBridge> {
  const b = await startBridge(config(url), { logger, env: {} });
  const stop = b.stop.bind(b);
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    await stop();
  };
  cleanup.push(once);
  return { ...b, stop: once };
}

const readyz = async (b: RunningBridge) =>
  (await (await fetch(`${b.url}/readyz`)).json()) as { status: string; role?: string; replica?: string };
const roleMetric = async (b: RunningBridge) =>
  /vancore_bridge_role\{role="leader",election="postgres-advisory-lock"\} 1/.test(
    await (await fetch(`${b.url}/metrics`)).text(),
  );

describe('leader election on PostgreSQL', () => {
  it('three bridges on one database: exactly one leads and runs the sync; /readyz and /metrics say which', async () => {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const bridges = [await started(db.url), await started(db.url), await started(db.url)];
    const roles = bridges.map((b) => b.role().role);
    expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
    expect(roles.filter((r) => r === 'follower')).toHaveLength(2);
    const leader = bridges[roles.indexOf('leader')]!;
    const followers = bridges.filter((b) => b !== leader);
    expect(await readyz(leader)).toMatchObject({ status: 'ready', role: 'leader' });
    for (const f of followers) expect(await readyz(f)).toMatchObject({ status: 'ready', role: 'follower' });
    expect(await roleMetric(leader)).toBe(true);
    for (const f of followers) expect(await roleMetric(f)).toBe(false);
    // Only the leader syncs: its first full sync runs, the followers' runners never start.
    await until('the leader syncs', () => leader.sync.metrics.runs.full > 0);
    for (const f of followers) expect(f.sync.metrics.runs).toEqual({ incremental: 0, reconcile: 0, full: 0 });
    expect(lines.some((l) => l.includes('"bridge role: leader (runs the sync and the controllers)"'))).toBe(true);
  }, 60_000);

  it('SIGTERM-style stop hands over at once: a follower leads, and one only', async () => {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const a = await started(db.url);
    const b = await started(db.url);
    const c = await started(db.url);
    const leader = [a, b, c].find((x) => x.role().role === 'leader');
    const rest = [a, b, c].filter((x) => x !== leader);
    expect(rest).toHaveLength(2);
    await leader!.stop();
    // The hand-over NOTIFY wakes the followers: no waiting for their next poll.
    const next = await until('a new leader', () => rest.find((r) => r.role().role === 'leader'));
    expect(rest.filter((r) => r.role().role === 'leader')).toEqual([next]);
    await until('the new leader syncs', () => next.sync.metrics.runs.full > 0);
  }, 60_000);

  it('the lock is scoped to the schema: bridges of two fleets in one database each elect their own leader', async () => {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('CREATE SCHEMA fleet_a; CREATE SCHEMA fleet_b');
    await admin.end();
    const idle: ScheduledWork = { start: () => Promise.resolve(), stop: () => Promise.resolve() };
    const [a1, a2, b1] = ['fleet_a', 'fleet_a', 'fleet_b'].map(
      (schema) => new PgLeaderElection({ url: db.url, schema, work: idle, logger }),
    );
    for (const e of [a1!, a2!, b1!]) {
      cleanup.push(() => e.stop());
      await e.start();
    }
    expect([a1!.info().role, a2!.info().role, b1!.info().role]).toEqual(['leader', 'follower', 'leader']);
  }, 60_000);
});

describe('a leader that loses its database session', () => {
  it('stops its scheduled work at once, then competes again like any follower', async () => {
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const events: string[] = [];
    const work: ScheduledWork = {
      start: () => Promise.resolve(void events.push('start')),
      stop: () => Promise.resolve(void events.push('stop')),
    };
    const replica = `leader-test-${randomBytes(3).toString('hex')}`;
    const election = new PgLeaderElection({ url: db.url, work, logger, replica, pollMs: 200 });
    cleanup.push(() => election.stop());
    await election.start();
    expect(election.info().role).toBe('leader');
    expect(events).toEqual(['start']);

    // A rival session takes the lock the moment the leader's session is killed.
    const rival = new pg.Client({ connectionString: db.url });
    await rival.connect();
    cleanup.push(() => rival.end());
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`,
      [`vancore-bridge-leader ${replica}`],
    );
    await admin.end();
    expect(killed.rows).toEqual([{ ok: true }]);
    await rival.query('SELECT pg_advisory_lock($1, hashtext(current_schema()))', [0x76636c64]);
    await until('the work stopped', () => events.includes('stop'));
    expect(election.info().role).toBe('follower');
    expect(lines.some((l) => l.includes('lost leadership'))).toBe(true);
    // While the rival holds the lock the deposed leader stays a follower…
    await new Promise((r) => setTimeout(r, 600));
    expect(events).toEqual(['start', 'stop']);
    // …and leads again once it is free.
    await rival.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [0x76636c64]);
    await until('leads again', () => election.info().role === 'leader');
    expect(events).toEqual(['start', 'stop', 'start']);
    expect(election.info().terms).toBe(2);
  }, 30_000);
});

describe('SQLite: one bridge per file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-leader-sqlite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function spawnBridge(file: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
    const child = spawn(process.execPath, [cliPath, 'bridge', '--config', file], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanup.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    return { child, out: () => out, exited };
  }

  it('a second bridge on the same file refuses to start with one line; after kill -9 of the first, one starts', async () => {
    const dbFile = join(dir, 'fleet.db');
    const file = join(dir, 'bridge.yaml');
    await writeFile(
      file,
      stringify({
        http: { host: '127.0.0.1', port: 0 },
        mender: { url: sim.url, user: sim.user, password: sim.password },
        database: { url: `sqlite:${dbFile}` },
        log_level: 'warn',
      }),
    );
    const first = spawnBridge(file);
    await until('the first bridge listens', () => first.out().includes('bridge listening on'), 30_000);
    const second = spawnBridge(file);
    expect(await second.exited).not.toBe(0);
    const said = second
      .out()
      .split('\n')
      .filter((l) => l.trim());
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      new RegExp(`another bridge is already running on sqlite:${dbFile} .*run one bridge per SQLite file`),
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const third = spawnBridge(file);
    await until('a bridge starts after the first died', () => third.out().includes('bridge listening on'), 30_000);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 60_000);
});
