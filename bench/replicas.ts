// Failover of replicated bridges (issue #19): three `vancore-ota bridge` processes on one PostgreSQL
// database, the simulator and a virtual fleet, a rollout under way; the leader is killed with SIGKILL five
// times at seeded moments (one aimed at a deployment's intent) and finally stopped with SIGTERM. Records
// how long until another replica reports `leader` on /readyz (target ≤ 15 s) and how many Mender
// deployments exist twice (target 0). The same run as test/fault/failover.test.ts, without its clean twin.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../test/helpers/chaos-proxy.js';
import { type Interruption, runFailover } from '../test/fault/failover-kit.js';
import { releaseArtifacts } from '../test/fault/kit.js';
import type { Benchmark, BenchResult } from './registry.js';

const SEED = Number(process.env.BENCH_REPLICAS_SEED ?? 1919);
const log = (line: string) => process.stderr.write(`  replicas: ${line}\n`);

export const replicasBench: Benchmark = {
  name: 'replicas',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-replicas-'));
    const cleanup: (() => Promise<void>)[] = [];
    const load = loadavg()[0]!;
    try {
      const rnd = seededRandom(SEED);
      const interruptions: Interruption[] = Array.from({ length: 4 }, () => ({
        kind: 'kill' as const,
        afterMs: Math.round(300 + rnd() * 4700),
      }));
      interruptions.splice(2, 0, { kind: 'kill-on-intent' });
      interruptions.push({ kind: 'sigterm' });
      const run = await runFailover({
        name: 'bench',
        dir,
        artifacts: await releaseArtifacts(dir),
        replicas: 3,
        interruptions,
        cleanup,
        log,
      });
      const kills = run.takeovers.filter((t) => t.how !== 'sigterm').map((t) => t.ms);
      const sigterm = run.takeovers.find((t) => t.how === 'sigterm')?.ms ?? -1;
      const sorted = [...kills].sort((a, b) => a - b);
      const max = sorted.at(-1) ?? -1;
      const met = max >= 0 && max <= 15_000 && run.duplicates === 0 && run.normalized.status === 'completed';
      return {
        summary: `3 replicas, 5 × kill -9 of the leader: takeover max ${(max / 1000).toFixed(2)} s (median ${(
          (sorted[Math.floor(sorted.length / 2)] ?? 0) / 1000
        ).toFixed(2)} s), SIGTERM hand-over ${(sigterm / 1000).toFixed(2)} s; ${run.duplicates} duplicate deployments`,
        target: 'takeover ≤ 15 s after kill -9; 0 duplicate Mender deployments',
        met,
        figures: {
          replicas: 3,
          kills: kills.length,
          takeover_max_ms: max,
          takeover_median_ms: sorted[Math.floor(sorted.length / 2)] ?? -1,
          takeovers_ms: kills.join(' '),
          sigterm_handover_ms: sigterm,
          duplicate_deployments: run.duplicates,
          two_leaders_seen: run.twoLeaders,
          rollout_status: run.normalized.status,
          deployments: run.ledger.inMender.length,
          run_ms: run.ms,
          seed: SEED,
          load_average_1m_at_start: Number(load.toFixed(2)),
        },
      };
    } finally {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
};
