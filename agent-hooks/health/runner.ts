// `vancore-ota health`: one pass over every health check of the van — the ota.yaml
// `validation.health_checks` (command exit code, HTTP endpoint) and, per installed compose bundle,
// its containers (running/healthy) and the probes in its x-vancore. The gates' validation window
// calls this repeatedly; a single pass never waits (that is the window's job).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { HealthCheckResult, HealthReport } from '../../core/schemas/health.js';
import { bundleSettings, readMarker } from '../compose/module.js';
import { parseServices, type Engine } from '../compose/engine.js';
import type { DeviceContext } from '../lib/device.js';
import type { CommandRunner } from '../lib/runner.js';
import { evaluateContainers, probeCommand, probeHttp, type Probe } from './probes.js';

export interface HealthRunDeps {
  ctx: DeviceContext;
  engine: Engine;
  runner: CommandRunner;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  /**
   * Only this compose component's checks (not ota.yaml's): the form an ota.yaml health check uses,
   * `command: [/usr/lib/vancore-ota/bin/vancore-ota-health, --component, platform]`.
   */
  component?: string;
}

async function timed(
  clock: Clock,
  base: Omit<HealthCheckResult, 'ok' | 'detail' | 'duration_ms'>,
  fn: () => Promise<Probe>,
): Promise<HealthCheckResult> {
  const t0 = clock.now().getTime();
  let probe: Probe;
  try {
    probe = await fn();
  } catch (e) {
    probe = { state: 'failed', detail: (e as Error).message.split('\n')[0] ?? 'failed' };
  }
  return {
    ...base,
    ok: probe.state === 'ok',
    detail: probe.detail.slice(0, 512),
    duration_ms: Math.max(0, clock.now().getTime() - t0),
  };
}

async function composeComponents(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(join(stateDir, 'compose'))).sort();
  } catch {
    return [];
  }
}

export async function runHealthChecks(deps: HealthRunDeps): Promise<HealthReport> {
  const { ctx, clock } = deps;
  const checks: HealthCheckResult[] = [];
  const configChecks = deps.component === undefined ? ctx.config.validation.health_checks : [];
  for (const c of configChecks) {
    if ('command' in c) {
      const [cmd, ...args] = c.command as [string, ...string[]];
      checks.push(
        await timed(clock, { name: c.name, kind: 'command' }, () =>
          probeCommand(deps.runner, cmd, args, { timeoutSeconds: c.timeout_seconds, label: c.name, env: deps.env }),
        ),
      );
    } else {
      checks.push(
        await timed(clock, { name: c.name, kind: 'http' }, () =>
          probeHttp({ url: c.url, expect_status: c.expect_status, timeout_seconds: c.timeout_seconds }),
        ),
      );
    }
  }
  const installed = await composeComponents(ctx.stateDir);
  const components = deps.component === undefined ? installed : [deps.component];
  for (const component of components) {
    const dir = join(ctx.stateDir, 'compose', component, 'CURRENT');
    const marker = await readMarker(dir);
    const name = `compose:${component}`;
    if (marker === null) {
      if (deps.component !== undefined) {
        checks.push({
          name,
          kind: 'container',
          ok: false,
          detail: `no ${component} bundle is installed`,
          duration_ms: 0,
        });
      }
      continue;
    }
    if (marker === 'unknown') {
      checks.push({
        name,
        kind: 'container',
        ok: false,
        detail: `${dir} has no readable bundle marker`,
        duration_ms: 0,
      });
      continue;
    }
    const settings = await bundleSettings(dir, marker).catch(() => null);
    checks.push(
      await timed(clock, { name, kind: 'container', component: marker.component }, async () => {
        const services = parseServices(await readFile(join(dir, marker.compose_file), 'utf8'));
        const ignore = settings?.migrate ? [settings.migrate.service] : [];
        return evaluateContainers(services, await deps.engine.containers(marker.project), ignore);
      }),
    );
    for (const p of settings?.health.http ?? []) {
      checks.push(
        await timed(clock, { name: `${component}:${p.url}`, kind: 'http', component: marker.component }, () =>
          probeHttp(p),
        ),
      );
    }
    for (const s of settings?.health.scripts ?? []) {
      checks.push(
        await timed(clock, { name: `${component}:${s.path}`, kind: 'script', component: marker.component }, () =>
          probeCommand(deps.runner, '/bin/sh', [join(dir, s.path)], {
            cwd: dir,
            env: { ...deps.env, COMPOSE_PROJECT_NAME: marker.project },
            timeoutSeconds: s.timeout_seconds,
            label: s.path,
          }),
        ),
      );
    }
  }
  return { ok: checks.every((c) => c.ok), at: clock.now().toISOString(), checks };
}

/** Human-readable report: one line per check, then a verdict. */
export function formatHealthReport(r: HealthReport): string {
  if (r.checks.length === 0) return 'ok: no health checks configured and no compose bundles installed\n';
  const w = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map(
    (c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.kind.padEnd(9)}  ${c.name.padEnd(w)}  ${c.detail} (${c.duration_ms} ms)`,
  );
  const failed = r.checks.filter((c) => !c.ok).length;
  lines.push(
    failed === 0
      ? `healthy: ${r.checks.length} checks passed`
      : `unhealthy: ${failed} of ${r.checks.length} checks failed`,
  );
  return `${lines.join('\n')}\n`;
}
