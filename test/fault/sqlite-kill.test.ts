// Fault suite: SQLite killed during writes. A child process writes to a fleet store with the real code
// (sync batches through `FleetStore.applyInventory`, one transaction each, plus audit events) and is
// SIGKILLed at seeded random moments, again and again on the same file. After every kill the database
// must pass `PRAGMA integrity_check`, the migrations must still apply, and exactly the committed batches
// must be there: whole, in order, never fewer than before.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFleetDb } from '../../bridge/store/db.js';
import { FleetStore } from '../../bridge/store/fleet-store.js';
import { seededRandom } from '../helpers/chaos-proxy.js';
import { repoRoot } from '../helpers/cli.js';

const WRITER = join(import.meta.dirname, 'fixtures/store-writer.ts');
const BATCH = 250;
const KILLS = 6;
const SEED = Number(process.env.VC_FAULT_SEED ?? 777);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fault-sqlite-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startWriter(file: string, first: number) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(first), String(BATCH)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let lastCommitted = first - 1;
  // 'close', not 'exit': every line the writer printed has been read by then.
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_c, sig) => resolve(sig)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      for (const m of out.matchAll(/committed (\d+)/g)) lastCommitted = Math.max(lastCommitted, Number(m[1]));
      if (out.includes('ready\n')) resolve();
    });
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    void exited.then(() => reject(new Error(`writer exited before it was ready: ${err.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, lastCommitted: () => lastCommitted, stderr: () => err };
}

interface Inspection {
  integrity: string;
  foreignKeys: number;
  migrated: string[];
  /** Vans per batch number. */
  batches: Map<number, number>;
  components: number;
  events: number;
}

/** Open the file after a kill: first raw (integrity), then through the product's store (migrations). */
async function inspect(file: string): Promise<Inspection> {
  const raw = new Database(file);
  const integrity = (raw.pragma('integrity_check') as { integrity_check: string }[])
    .map((r) => r.integrity_check)
    .join('; ');
  const foreignKeys = (raw.pragma('foreign_key_check') as unknown[]).length;
  raw.close();
  const store = new FleetStore(await openFleetDb(`sqlite:${file}`));
  try {
    const migrated = await store.migrate();
    const vans = await store.db.selectFrom('vans').select('van_id').execute();
    const batches = new Map<number, number>();
    for (const v of vans) {
      const b = Number(/^van-b(\d+)-\d+$/.exec(v.van_id)?.[1] ?? -1);
      batches.set(b, (batches.get(b) ?? 0) + 1);
    }
    const components = (await store.db.selectFrom('van_components').select('device_id').execute()).length;
    const events = (await store.db.selectFrom('owner_events').select('id').execute()).length;
    return { integrity, foreignKeys, migrated, batches, components, events };
  } finally {
    await store.close();
  }
}

describe('fault: SQLite killed during writes', () => {
  it(`every kill leaves an intact database holding exactly the committed batches (seed ${SEED})`, async () => {
    const file = join(dir, 'fleet.db');
    const rnd = seededRandom(SEED);
    let batchesBefore = 0;
    let eventsBefore = 0;
    const log: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const w = startWriter(file, batchesBefore);
      await w.ready;
      // Anywhere from before the first commit to a dozen batches in (a batch takes ~30–100 ms here).
      const after = Math.round(rnd() * 1200);
      await new Promise((r) => setTimeout(r, after));
      w.child.kill('SIGKILL');
      expect(await w.exited).toBe('SIGKILL');

      const seen = await inspect(file);
      log.push(`kill ${k + 1} after ${after} ms: ${seen.batches.size} batches, last reported ${w.lastCommitted()}`);
      expect(seen.integrity).toBe('ok');
      expect(seen.foreignKeys).toBe(0);
      expect(seen.migrated).toEqual([]);
      // Whole batches only, numbered 0…n-1 without a gap: a batch is one transaction.
      const n = seen.batches.size;
      expect([...seen.batches.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect([...seen.batches.values()].every((c) => c === BATCH)).toBe(true);
      expect(seen.components).toBe(n * BATCH * 2);
      // Everything reported as committed is there; at most the batch whose report the kill cut off is more.
      expect(n).toBeGreaterThanOrEqual(w.lastCommitted() + 1);
      expect(n).toBeLessThanOrEqual(w.lastCommitted() + 2);
      expect(n).toBeGreaterThanOrEqual(batchesBefore);
      expect(seen.events).toBeGreaterThanOrEqual(eventsBefore);
      expect(seen.events).toBeLessThanOrEqual(n);
      batchesBefore = n;
      eventsBefore = seen.events;
    }
    console.log(`sqlite-kill (seed ${SEED}):\n  ${log.join('\n  ')}`);
    // The kills did land among the writes, not only before or after them.
    expect(batchesBefore).toBeGreaterThan(KILLS);
  }, 90_000);
});
