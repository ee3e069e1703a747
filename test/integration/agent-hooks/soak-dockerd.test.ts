// The post-commit soak's restart counting (agent-hooks/soak/runner.ts containerRestarts, issue #20 item 2)
// against a real dockerd: a compose-labelled container that keeps crashing under `restart: on-failure`
// raises Docker's own RestartCount, and a soak round after the commit turns 3 restarts since the commit
// into `regressed` naming the container; a healthy one and a container outside compose are not counted.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { hostPaths } from '../../../core/host-paths.js';
import type { LastUpdate } from '../../../core/versions.js';
import type { Engine } from '../../../agent-hooks/compose/engine.js';
import { nodeRunner } from '../../../agent-hooks/lib/runner.js';
import { containerRestarts, runSoakPass } from '../../../agent-hooks/soak/runner.js';
import { startDockerd, type Dockerd } from './support/dockerd.js';

const IMAGE = 'vancore-soak-busybox:1';
const COMMIT: LastUpdate = {
  status: 'success',
  component: 'app',
  version: '1.5.0',
  artifact_name: 'vancore-app-1.5.0',
  at: '2026-11-22T10:00:00.000Z',
};

let dockerd: Dockerd;
let dir: string;
beforeAll(async () => {
  dockerd = await startDockerd();
  await dockerd.importBusybox(IMAGE);
  dir = await mkdtemp(join(tmpdir(), 'vc-soak-dockerd-'));
}, 120_000);
afterAll(async () => {
  await dockerd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const compose = (service: string) => [
  '--label',
  'com.docker.compose.project=app',
  '--label',
  `com.docker.compose.service=${service}`,
  '--network',
  'none',
];

describe('soak restart counting on a real dockerd', () => {
  it('a crash-looping compose container regresses the soak; healthy and non-compose containers do not count', async () => {
    const runner = nodeRunner({ ...process.env, ...dockerd.env });
    // Healthy, in compose; crash-looping, outside compose (a site's own container): neither may count.
    await dockerd.docker(['run', '-d', '--name', 'app-db-1', ...compose('db'), IMAGE, 'sleep', '3600']);
    await dockerd.docker([
      'run',
      '-d',
      '--name',
      'other',
      '--network',
      'none',
      '--restart',
      'on-failure:50',
      IMAGE,
      'sh',
      '-c',
      'sleep 0.2; exit 1',
    ]);
    expect(await containerRestarts(runner)).toEqual({ 'app-db-1': 0 });

    const ctx = {
      paths: hostPaths('/nonexistent-root'),
      config: DeviceConfig.parse({ soak: { hours: 24, max_container_restarts: 3 } }),
      configPath: '/nonexistent',
      stateDir: dir,
    };
    const clock = new ManualClock(new Date(Date.parse(COMMIT.at) + 60_000));
    const deps = { ctx, engine: {} as Engine, runner, clock, env: {}, cloudOk: () => Promise.resolve(true) };
    await writeFile(join(dir, 'last-update.json'), JSON.stringify(COMMIT));

    // The new release's web service crashes 0.2 s after each start; Docker restarts it (100 ms, 200 ms,
    // 400 ms … backoff) and counts each restart in RestartCount.
    await dockerd.docker([
      'run',
      '-d',
      '--name',
      'app-web-1',
      ...compose('web'),
      '--restart',
      'on-failure:50',
      IMAGE,
      'sh',
      '-c',
      'sleep 0.2; exit 1',
    ]);
    // The commit's first round takes the baseline (restarts before it are not the soak's to count).
    const first = await runSoakPass(deps);
    expect(first).toMatchObject({ state: 'watching', restarts_at_start: { 'app-db-1': 0 } });
    const start = first?.restarts_at_start['app-web-1'] ?? 0;
    const started = Date.now();
    for (;;) {
      const n = (await containerRestarts(runner))?.['app-web-1'] ?? 0;
      if (n >= start + 3) break;
      if (Date.now() - started > 60_000) throw new Error(`no 3 restarts past ${start} within 60 s (at ${n})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    clock.set(new Date(Date.parse(COMMIT.at) + 10 * 60_000));
    const round = await runSoakPass(deps);
    expect(round?.state).toBe('regressed');
    expect(round?.reason).toMatch(
      /^soak_container_restarts: \d+ container restarts since the commit \(app-web-1 \d+\)$/,
    );
    const n = Number(/\(app-web-1 (\d+)\)/.exec(round?.reason ?? '')?.[1]);
    expect(n).toBeGreaterThanOrEqual(3);
    // Docker's own count agrees: the baseline plus what the soak counted (it may have gone on since).
    const inspected = Number((await dockerd.docker(['inspect', '--format', '{{.RestartCount}}', 'app-web-1'])).stdout);
    expect(inspected).toBeGreaterThanOrEqual(start + n);
    expect(
      Number((await dockerd.docker(['inspect', '--format', '{{.RestartCount}}', 'other'])).stdout),
    ).toBeGreaterThan(0);
  }, 120_000);
});
