// A full sync in a process that holds nothing but the bridge's sync path (the management client, the sync,
// the SQLite store): `tsx bench/sync-process.ts <mender url>` prints one JSON line with the phase-by-phase
// RSS (bench/memory.ts). bench/bridge-sync.ts runs it next to its in-process figure, whose process also
// holds Fastify, autocannon, the PostgreSQL driver and the garbage of its earlier phases, so the two
// together say how much of the bridge's RSS is the sync and how much is the process around it (issue #19).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFleetDb } from '../bridge/store/db.js';
import { FleetStore } from '../bridge/store/fleet-store.js';
import { runSync } from '../bridge/sync/sync.js';
import { MenderManagementClient } from '../core/mender/management.js';
import { MemoryPhases } from './memory.js';

export interface SyncProcessResult {
  devices_seen: number;
  vans_applied: number;
  full_sync_ms: number;
  bridge_peak_rss_mb: number;
  figures: Record<string, number>;
  describe: string;
}

async function main(url: string): Promise<void> {
  const memory = new MemoryPhases();
  memory.baseline('idle');
  const dir = await mkdtemp(join(tmpdir(), 'vc-bench-syncproc-'));
  try {
    const store = new FleetStore(await openFleetDb(`sqlite:${join(dir, 'fleet.db')}`));
    await store.migrate();
    const mender = MenderManagementClient.create({
      baseUrl: url,
      auth: { kind: 'login', user: 'admin@vancore.local', password: 'vancore-sim' },
      pageSize: 500,
      timeoutMs: 60_000,
    });
    memory.baseline('store_open');
    const t0 = performance.now();
    const r = await memory.phase('full_sync', () => runSync({ mender, store, now: () => new Date() }, 'full'));
    const ms = performance.now() - t0;
    await store.close();
    const out: SyncProcessResult = {
      devices_seen: r.devices_seen,
      vans_applied: r.vans_applied,
      full_sync_ms: Math.round(ms),
      bridge_peak_rss_mb: Math.round(memory.peakMb),
      figures: memory.figures,
      describe: memory.describe(),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await main(process.argv[2]!);
