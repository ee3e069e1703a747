// Health probes shared by the compose module's health wait and the `vancore-ota health` runner:
// containers running/healthy (pure evaluation of the engine's answer), an HTTP endpoint, a script's
// exit code. A probe says ok, waiting (not yet: keep polling) or failed (will not recover: stop now).
import type { HttpProbe } from '../../core/schemas/payload.js';
import type { ContainerState, ServiceInfo } from '../compose/engine.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';

export type ProbeState = 'ok' | 'waiting' | 'failed';
export interface Probe {
  state: ProbeState;
  detail: string;
}

/** The services `up -d` starts: no profile, not the migration service. */
export function expectedServices(services: readonly ServiceInfo[], ignore: readonly string[] = []): ServiceInfo[] {
  return services.filter((s) => s.profiles.length === 0 && !ignore.includes(s.name));
}

function serviceState(service: ServiceInfo, containers: readonly ContainerState[]): Probe {
  const mine = containers.filter((c) => !c.oneoff && c.service === service.name);
  if (mine.length === 0) return { state: 'waiting', detail: `${service.name}: no container` };
  const states = mine.map((c): Probe => {
    if (c.status === 'dead') return { state: 'failed', detail: `${service.name}: dead` };
    if (c.status === 'exited') {
      return c.exitCode === 0
        ? { state: 'ok', detail: `${service.name}: completed` }
        : { state: 'failed', detail: `${service.name}: exited ${c.exitCode}` };
    }
    // Docker only says unhealthy after `retries` consecutive failures: waiting longer will not help.
    if (c.health === 'unhealthy') return { state: 'failed', detail: `${service.name}: unhealthy` };
    if (c.status !== 'running') return { state: 'waiting', detail: `${service.name}: ${c.status}` };
    if (c.health === 'starting') return { state: 'waiting', detail: `${service.name}: health starting` };
    return { state: 'ok', detail: `${service.name}: ${c.health ?? 'running'}` };
  });
  return states.find((s) => s.state === 'failed') ?? states.find((s) => s.state === 'waiting') ?? states[0]!;
}

/** Pure: every expected service has its containers running (and healthy where a healthcheck exists). */
export function evaluateContainers(
  services: readonly ServiceInfo[],
  containers: readonly ContainerState[],
  ignore: readonly string[] = [],
): Probe {
  const expected = expectedServices(services, ignore);
  if (expected.length === 0) return { state: 'ok', detail: 'no services to run' };
  const each = expected.map((s) => serviceState(s, containers));
  const bad = each.filter((p) => p.state !== 'ok');
  const state: ProbeState = bad.some((p) => p.state === 'failed') ? 'failed' : bad.length > 0 ? 'waiting' : 'ok';
  const okCount = each.length - bad.length;
  const detail =
    state === 'ok'
      ? `${okCount}/${each.length} services up (${each.map((p) => p.detail.replace(': ', ' ')).join(', ')})`
      : `${okCount}/${each.length} services up; ${bad.map((p) => p.detail).join('; ')}`;
  return { state, detail };
}

/** An HTTP endpoint answering the expected status in time. Not being there yet is `waiting`. */
export async function probeHttp(p: HttpProbe): Promise<Probe> {
  try {
    const res = await fetch(p.url, { signal: AbortSignal.timeout(p.timeout_seconds * 1000), redirect: 'manual' });
    await res.body?.cancel();
    return res.status === p.expect_status
      ? { state: 'ok', detail: `${p.url}: HTTP ${res.status}` }
      : { state: 'waiting', detail: `${p.url}: HTTP ${res.status}, expected ${p.expect_status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.message);
    return { state: 'waiting', detail: `${p.url}: ${why}` };
  }
}

/** A script or command: exit 0 within the timeout. */
export async function probeCommand(
  runner: CommandRunner,
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutSeconds: number; label: string },
): Promise<Probe> {
  const r = await runner.run(cmd, args, {
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    timeoutMs: opts.timeoutSeconds * 1000,
  });
  return r.code === 0
    ? { state: 'ok', detail: `${opts.label}: exit 0` }
    : { state: 'waiting', detail: describeResult(opts.label, r) };
}
