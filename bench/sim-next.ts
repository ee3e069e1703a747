// Issue #3 benchmark: the simulator's request rate on the device hot path, `POST /api/devices/v1/
// deployments/device/deployments/next` with a valid device token — both answers, 204 (no update) and 200
// (the device's pending deployment) — against a bare Fastify route returning the same status and body,
// in the same run. autocannon, 10 connections × 5 s per measurement, in three rounds that alternate
// simulator and bare; each round's simulator figure is divided by the bare figure measured right after it
// and the median of those paired ratios is reported (the machine is shared: pairing cancels most of the
// neighbours' load, which drifts over a minute). Target: simulator ≥ 0.5 × bare for both answers; p99
// latency reported.
//
// Each server runs alone in a child process (this file with `--serve sim|bare`); autocannon runs here.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { spawnChildServer, serveUntilSignalled, type ChildServer } from '../mender-sim/fleet/child-server.js';
import { startMenderSim } from '../mender-sim/index.js';
import { Mgmt, SimDevice, buildArtifact } from '../mender-sim/testkit.js';
import type { Benchmark, BenchResult } from './registry.js';

const NEXT = '/api/devices/v1/deployments/device/deployments/next';
const CONNECTIONS = 10;
const DURATION_S = 5;
const ROUNDS = 3;
const TARGET = 0.5;

/** The child: the simulator, or a bare Fastify app answering the same status and body on the same path. */
async function serve(kind: string, bodyB64: string | undefined): Promise<void> {
  if (kind === 'sim') {
    const sim = await startMenderSim({ autoAccept: true, requestLogSize: 1_000 });
    serveUntilSignalled(sim.url, () => sim.close());
    return;
  }
  const body = bodyB64 ? Buffer.from(bodyB64, 'base64').toString('utf8') : '';
  const app = Fastify({ logger: false });
  app.post(NEXT, async (_req, reply) =>
    body ? reply.code(200).type('application/json; charset=utf-8').send(body) : reply.code(204).send(),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  serveUntilSignalled(`http://127.0.0.1:${port}`, () => app.close());
}

interface Measured {
  rps: number;
  p99_ms: number;
  p50_ms: number;
  non2xx: number;
  errors: number;
}

async function measure(url: string, token: string, body: string): Promise<Measured> {
  const r = await autocannon({
    url: `${url}${NEXT}`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body,
  });
  return {
    rps: Math.round(r.requests.average),
    p99_ms: r.latency.p99,
    p50_ms: r.latency.p50,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
/** The run with the median requests/s (its p99 goes with it). */
const medianRun = (runs: Measured[]): Measured =>
  [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as Measured;

export const simNextBench: Benchmark = {
  name: 'sim-next',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-next-'));
    const children: ChildServer[] = [];
    const child = async (...args: string[]) => {
      const c = await spawnChildServer(import.meta.filename, ['--serve', ...args]);
      children.push(c);
      return c;
    };
    try {
      const sim = await child('sim');
      // Device A has nothing to do (204); device B has a pending deployment (200 with the same body every poll).
      const idle = new SimDevice(sim.url, { mac: '02:00:00:00:0a:01', artifactName: 'vancore-factory-0.9.0' });
      const busy = new SimDevice(sim.url, { mac: '02:00:00:00:0b:01', artifactName: 'vancore-factory-0.9.0' });
      for (const d of [idle, busy]) {
        if ((await d.authenticate()).status !== 200) throw new Error('device auth failed');
        await d.putInventory({});
      }
      const login = await fetch(`${sim.url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}` },
      });
      const mg = new Mgmt(sim.url, await login.text());
      const file = await buildArtifact(dir, {
        name: 'vancore-app-1.4.0',
        provides: { 'vancore.app.version': '1.4.0' },
      });
      if ((await mg.upload(await readFile(file))).status !== 201) throw new Error('artifact upload failed');
      const busyId = (
        (await mg.get('/v2/devauth/devices?per_page=10')).json as { id: string; identity_data: { mac: string } }[]
      ).find((d) => d.identity_data.mac === '02:00:00:00:0b:01')?.id;
      const dep = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'bench next',
        artifact_name: 'vancore-app-1.4.0',
        devices: [busyId],
      });
      if (dep.status !== 201) throw new Error(`create deployment: HTTP ${dep.status}`);
      const first = await busy.next('post');
      if (first.status !== 200) throw new Error(`next for the busy device: HTTP ${first.status}`);
      if ((await idle.next('post')).status !== 204) throw new Error('next for the idle device is not 204');

      const body = JSON.stringify({ artifact_name: 'vancore-factory-0.9.0', device_type: 'vanpc' });
      const bare204 = await child('bare');
      const bare200 = await child('bare', Buffer.from(first.text).toString('base64'));

      const runs = {
        sim204: [] as Measured[],
        bare204: [] as Measured[],
        sim200: [] as Measured[],
        bare200: [] as Measured[],
      };
      for (let round = 0; round < ROUNDS; round++) {
        runs.sim204.push(await measure(sim.url, idle.token ?? '', body));
        runs.bare204.push(await measure(bare204.url, 'x', body));
        runs.sim200.push(await measure(sim.url, busy.token ?? '', body));
        runs.bare200.push(await measure(bare200.url, 'x', body));
      }
      const s204 = medianRun(runs.sim204);
      const b204 = medianRun(runs.bare204);
      const s200 = medianRun(runs.sim200);
      const b200 = medianRun(runs.bare200);
      const sims = [...runs.sim204, ...runs.sim200];
      const bad = sims.some((m) => m.errors > 0 || m.non2xx > 0);
      const r204 = median(runs.sim204.map((m, i) => m.rps / (runs.bare204[i]?.rps ?? Infinity)));
      const r200 = median(runs.sim200.map((m, i) => m.rps / (runs.bare200[i]?.rps ?? Infinity)));
      const ratio = Math.min(r204, r200);
      const met = ratio >= TARGET && !bad;
      const round2 = (n: number) => Number(n.toFixed(2));
      return {
        summary: `deployments/next: sim ${s204.rps} req/s (204) and ${s200.rps} req/s (200) vs bare Fastify ${b204.rps} / ${b200.rps} → ratio ${round2(r204)} / ${round2(r200)}, p99 ${s204.p99_ms} / ${s200.p99_ms} ms (target ≥ ${TARGET}: ${met ? 'met' : 'MISSED'})`,
        target: `simulator ≥ ${TARGET} × a bare Fastify route on POST v1 deployments/next (204 and 200)`,
        met,
        figures: {
          sim_204_rps: s204.rps,
          sim_204_p99_ms: s204.p99_ms,
          sim_204_p50_ms: s204.p50_ms,
          sim_200_rps: s200.rps,
          sim_200_p99_ms: s200.p99_ms,
          sim_200_p50_ms: s200.p50_ms,
          ratio_204: round2(r204),
          ratio_200: round2(r200),
          sim_non2xx: sims.reduce((n, m) => n + m.non2xx, 0),
          sim_errors: sims.reduce((n, m) => n + m.errors, 0),
          load_average_1m: round2(loadavg()[0] ?? 0),
          connections: CONNECTIONS,
          duration_s: DURATION_S,
          rounds: ROUNDS,
          all_rounds_rps: JSON.stringify({
            sim204: runs.sim204.map((m) => m.rps),
            bare204: runs.bare204.map((m) => m.rps),
            sim200: runs.sim200.map((m) => m.rps),
            bare200: runs.bare200.map((m) => m.rps),
          }),
        },
        baseline: {
          bare_204_rps: b204.rps,
          bare_204_p99_ms: b204.p99_ms,
          bare_200_rps: b200.rps,
          bare_200_p99_ms: b200.p99_ms,
        },
        ratio: round2(ratio),
      };
    } finally {
      for (const c of children) await c.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

if (process.argv[2] === '--serve' && process.argv[1] === import.meta.filename)
  await serve(process.argv[3] ?? 'bare', process.argv[4]);
