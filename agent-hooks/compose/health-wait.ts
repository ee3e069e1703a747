// The health phase of a compose bundle: containers running and healthy, the bundle's HTTP probes and
// health-check scripts passing. Polled until all pass, one fails for good, or the bundle's timeout.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ComposeBundleSettings } from '../../core/schemas/payload.js';
import { evaluateContainers, probeCommand, probeHttp, type Probe } from '../health/probes.js';
import type { CommandRunner } from '../lib/runner.js';
import { parseServices, type ComposeTarget, type Engine, type ServiceInfo } from './engine.js';

export interface HealthDeps {
  engine: Engine;
  runner: CommandRunner;
  clock: Clock;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

/** Every probe of a bundle, once. */
export async function probeBundle(
  deps: HealthDeps,
  target: ComposeTarget,
  settings: ComposeBundleSettings,
  services: readonly ServiceInfo[],
): Promise<{ containers: Probe; http: Probe[]; scripts: Probe[] }> {
  const ignore = settings.migrate ? [settings.migrate.service] : [];
  const containers = evaluateContainers(services, await deps.engine.containers(target.project), ignore);
  const http = await Promise.all(settings.health.http.map((p) => probeHttp(p)));
  const scripts: Probe[] = [];
  for (const s of settings.health.scripts) {
    scripts.push(
      await probeCommand(deps.runner, '/bin/sh', [join(target.dir, s.path)], {
        cwd: target.dir,
        env: { ...deps.env, COMPOSE_PROJECT_NAME: target.project },
        timeoutSeconds: s.timeout_seconds,
        label: s.path,
      }),
    );
  }
  return { containers, http, scripts };
}

/** Wait until the bundle is healthy; throws TOOL_FAILED with what was seen last. */
export async function waitHealthy(
  deps: HealthDeps,
  target: ComposeTarget,
  settings: ComposeBundleSettings,
): Promise<string> {
  const services = parseServices(await readFile(join(target.dir, target.file), 'utf8'));
  const started = deps.clock.now().getTime();
  const deadline = started + settings.health.timeout_seconds * 1000;
  for (;;) {
    const { containers, http, scripts } = await probeBundle(deps, target, settings, services);
    const all = [containers, ...http, ...scripts];
    const failed = all.find((p) => p.state === 'failed');
    if (failed) throw new VanError('TOOL_FAILED', `not healthy: ${failed.detail}`);
    const waiting = all.filter((p) => p.state !== 'ok');
    if (waiting.length === 0) {
      const secs = ((deps.clock.now().getTime() - started) / 1000).toFixed(1);
      return `healthy after ${secs} s: ${containers.detail}`;
    }
    if (deps.clock.now().getTime() >= deadline) {
      throw new VanError(
        'TOOL_FAILED',
        `not healthy after ${settings.health.timeout_seconds} s: ${waiting.map((p) => p.detail).join('; ')}`,
      );
    }
    deps.log.debug({ waiting: waiting.map((p) => p.detail) }, 'health: waiting');
    await deps.clock.sleep(settings.health.interval_seconds * 1000);
  }
}
