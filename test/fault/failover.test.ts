// Fault suite: failover of replicated bridges. Three `vancore-ota bridge` processes share one fresh
// PostgreSQL database (bridge/lib/leader.ts elects one leader through a session advisory lock); during a
// rollout against the simulator the leader is killed with SIGKILL five times at seeded random moments (one
// aimed at the window between a deployment's intent and its Mender id), then stopped with SIGTERM. Each
// time another replica must take over (the time it took is printed; `npm run bench replicas` records it),
// Mender must never get a deployment twice, and the end state must equal a clean run's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/chaos-proxy.js';
import { type Interruption, runFailover } from './failover-kit.js';
import { releaseArtifacts, vanId } from './kit.js';

const SEED = Number(process.env.VC_FAULT_SEED ?? 1919);

let dir: string;
let artifacts: Buffer[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fault-failover-'));
  artifacts = await releaseArtifacts(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

describe('fault: the leader of three bridge replicas dies during a rollout', () => {
  it(`another replica takes over every time, no deployment twice, the clean run's records (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    // Four timed kills 0.3–5 s after the previous takeover, one aimed at an intent, then a SIGTERM.
    const interruptions: Interruption[] = Array.from({ length: 4 }, () => ({
      kind: 'kill' as const,
      afterMs: Math.round(300 + rnd() * 4700),
    }));
    interruptions.splice(2, 0, { kind: 'kill-on-intent' });
    interruptions.push({ kind: 'sigterm' });
    const log = (l: string) => console.log(l);
    const [clean, failed] = await Promise.all([
      runFailover({ name: 'clean', dir, artifacts, replicas: 3, interruptions: [], cleanup, log }),
      runFailover({ name: 'failover', dir, artifacts, replicas: 3, interruptions, cleanup, log }),
    ]);
    console.log(
      `failover: seed ${SEED}; clean ${clean.ms} ms, with failovers ${failed.ms} ms; takeovers ms ` +
        failed.takeovers.map((t) => `${t.how}=${t.ms}`).join(' '),
    );

    // Five kill -9 and one SIGTERM, each followed by a takeover.
    expect(failed.takeovers.map((t) => t.how)).toEqual(['kill', 'kill', 'kill-on-intent', 'kill', 'kill', 'sigterm']);
    // The aimed kill left an intent behind; the new leader found its deployment in Mender by name.
    expect(failed.takeovers.find((t) => t.how === 'kill-on-intent')?.at).toMatch(/ [1-9]\d* intents/);
    expect(clean.normalized.status).toBe('completed');
    expect(failed.normalized).toEqual(clean.normalized);
    for (const run of [clean, failed]) {
      expect(run.twoLeaders).toBe(0);
      expect(run.duplicates).toBe(0);
      const { inMender, ours } = run.ledger;
      expect(inMender).toHaveLength(ours.length);
      expect(new Set(ours.map((d) => d.mender_id))).toEqual(new Set(inMender.map((d) => d.id)));
      expect(run.eventTimes).toEqual([...run.eventTimes].sort());
      expect(run.backwards).toEqual([]);
    }
    expect(clean.normalized.vans[vanId(9)]).toMatch(/^fleet excluded \| .*=failure .*=failure$/);
  }, 300_000);
});
