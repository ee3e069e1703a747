// docs/deploy.md "Backup and restore", done as written: records a running bridge wrote are backed up while
// it runs (pg_dump; SQLite's backup API through the sqlite3 CLI and through better-sqlite3 as in the
// container), restored into a fresh database / file, and a bridge started on the restore serves the same
// records and applies no migration. Real pg_dump / pg_restore / sqlite3, the machine's PostgreSQL.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../../../bridge/server.js';
import { openFleetDb } from '../../../bridge/store/db.js';
import { FleetStore } from '../../../bridge/store/fleet-store.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { createLogger } from '../../../core/logger.js';
import { repoRoot } from '../../helpers/cli.js';
import { PG_URL } from '../../helpers/fleet-db.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { SimDevice } from '../../../mender-sim/testkit.js';

const execFileP = promisify(execFile);
const logger = createLogger({
  name: 'backup-test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

let sim: MenderSim;
let dir: string;
const dbs: string[] = [];
beforeAll(async () => {
  sim = await startMenderSim({ autoAccept: true });
  dir = await mkdtemp(join(tmpdir(), 'vc-backup-'));
  for (const [i, version] of ['1.0.0', '1.1.0'].entries()) {
    const dev = new SimDevice(sim.url, { mac: `02:00:00:00:19:1${i}` });
    await dev.authenticate();
    await dev.putInventory({ 'vancore.van_id': `van-19${i}`, 'vancore.platform.version': version });
  }
}, 60_000);
afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  for (const d of dbs) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
  await admin.end();
});

async function createDb(): Promise<string> {
  const name = `vc_backup_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  dbs.push(name);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

const bridge = (url: string, startSync: boolean) =>
  startBridge(
    BridgeConfig.parse({
      http: { host: '127.0.0.1', port: 0 },
      mender: { url: sim.url, user: sim.user, password: sim.password },
      database: { url },
    }),
    { logger, env: {}, startSync },
  );

/** Records the bridge wrote: the vans synced from Mender, then a stage set through the API. */
async function writeRecords(b: RunningBridge): Promise<void> {
  for (let i = 0; b.sync.metrics.runs.full === 0; i++) {
    if (i > 300) throw new Error('no full sync');
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = await fetch(`${b.url}/api/v1/vans/van-190`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stage: 'pilot' }),
  });
  expect(res.status).toBe(200);
}

const vansOf = async (b: RunningBridge) => {
  const res = await fetch(`${b.url}/api/v1/vans?per_page=100`);
  return ((await res.json()) as { van_id: string; stage: string; versions?: unknown }[])
    .map((v) => ({ van_id: v.van_id, stage: v.stage }))
    .sort((a, b) => a.van_id.localeCompare(b.van_id));
};

async function rows(url: string): Promise<unknown[]> {
  const s = new FleetStore(await openFleetDb(url));
  try {
    return await s.db.selectFrom('vans').selectAll().orderBy('device_id').execute();
  } finally {
    await s.close();
  }
}

describe('backup and restore of the fleet database', () => {
  it('PostgreSQL: pg_dump of a running bridge, pg_restore into a fresh database, a bridge serves it', async () => {
    const src = await createDb();
    const b = await bridge(src, true);
    let dump: string;
    try {
      await writeRecords(b);
      dump = join(dir, 'fleet.dump');
      await execFileP('pg_dump', ['--format=custom', `--file=${dump}`, src]);
    } finally {
      await b.stop();
    }
    const dst = await createDb();
    await execFileP('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${dst}`, dump]);
    const restored = new FleetStore(await openFleetDb(dst));
    expect(await restored.migrate()).toEqual([]);
    await restored.close();
    expect(await rows(dst)).toEqual(await rows(src));
    const again = await bridge(dst, false);
    try {
      expect(await vansOf(again)).toEqual([
        { van_id: 'van-190', stage: 'pilot' },
        { van_id: 'van-191', stage: 'fleet' },
      ]);
    } finally {
      await again.stop();
    }
  }, 120_000);

  it.each([
    ['sqlite3 .backup', (from: string, to: string) => execFileP('sqlite3', [from, `.backup '${to}'`])],
    [
      "better-sqlite3's backup() (the container has no sqlite3)",
      (from: string, to: string) =>
        execFileP(process.execPath, [
          '-e',
          `new (require(${JSON.stringify(join(repoRoot, 'node_modules/better-sqlite3'))}))(${JSON.stringify(from)},{readonly:true}).backup(${JSON.stringify(to)}).then(()=>console.log('ok'))`,
        ]),
    ],
  ])(
    'SQLite: %s while the bridge runs, restored over the file, a bridge serves it',
    async (_how, backup) => {
      const file = join(dir, `fleet-${randomBytes(3).toString('hex')}.db`);
      const b = await bridge(`sqlite:${file}`, true);
      const saved = `${file}.backup`;
      let before: unknown[];
      let served: Awaited<ReturnType<typeof vansOf>>;
      try {
        await writeRecords(b);
        await backup(file, saved);
        before = await rows(`sqlite:${saved}`);
        served = await vansOf(b);
        // Written after the backup: the restore must not have it. (The stage is mirrored to a Mender tag
        // and the simulator is shared by the tests: compare with what this bridge served, not constants.)
        const other = served[1]!.stage === 'internal' ? 'fleet' : 'internal';
        const late = await fetch(`${b.url}/api/v1/vans/van-191`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ stage: other }),
        });
        expect(late.status).toBe(200);
      } finally {
        await b.stop();
      }
      await copyFile(saved, file);
      await rm(`${file}-wal`, { force: true });
      await rm(`${file}-shm`, { force: true });
      expect(await rows(`sqlite:${file}`)).toEqual(before);
      const again = await bridge(`sqlite:${file}`, false);
      try {
        expect(served[0]).toEqual({ van_id: 'van-190', stage: 'pilot' });
        expect(await vansOf(again)).toEqual(served);
      } finally {
        await again.stop();
      }
    },
    120_000,
  );
});
