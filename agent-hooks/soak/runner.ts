// One round of the post-commit soak (`vancore-ota soak`, run by vancore-ota-soak.timer every 5 minutes):
// read the last commit and the soak record, and while a soak is watching, observe — the health runner's
// checks (ota.yaml checks, compose containers and probes), the containers' restart counts, contact with
// the Mender server — and write the next record (soak.ts evaluateSoak) to <state_dir>/soak.json. Nothing
// to watch (no commit, or its soak is over): no checks run.
import type { Clock } from '../../core/clock.js';
import { readNamedStateJson, stateFilePath, writeStateJson } from '../../core/state-dir.js';
import { httpFetch } from '../../core/http-request.js';
import { cloudTarget, readMenderServer } from '../../core/mender-conf.js';
import { readLastUpdate } from '../../core/versions.js';
import type { Engine } from '../compose/engine.js';
import type { DeviceContext } from '../lib/device.js';
import type { CommandRunner } from '../lib/runner.js';
import { runHealthChecks } from '../health/runner.js';
import { type SoakObservation, SoakRecord, evaluateSoak } from './soak.js';

export interface SoakPassDeps {
  ctx: DeviceContext;
  engine: Engine;
  runner: CommandRunner;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  /** Default: a HEAD to validation.cloud_url, mender.server_url or mender.conf's server (any answer is contact). */
  cloudOk?: () => Promise<boolean>;
  warn?: (line: string) => void;
}

/**
 * Restart counts of every compose container (`docker inspect` RestartCount, by container name); null
 * when docker does not answer (no restart is counted, and no baseline taken, from an unknown).
 */
export async function containerRestarts(runner: CommandRunner): Promise<Record<string, number> | null> {
  const ids = await runner.run('docker', ['ps', '-aq', '--filter', 'label=com.docker.compose.project'], {
    timeoutMs: 15_000,
  });
  if (ids.code !== 0) return null;
  const list = ids.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]{6,64}$/.test(l));
  if (list.length === 0) return {};
  const r = await runner.run('docker', ['inspect', '--format', '{{.Name}} {{.RestartCount}}', ...list], {
    timeoutMs: 15_000,
  });
  return r.code === 0 ? parseRestartCounts(r.stdout) : null;
}

/** `docker inspect --format '{{.Name}} {{.RestartCount}}'` lines → `{name: count}`. */
export function parseRestartCounts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\/?([A-Za-z0-9][A-Za-z0-9_.-]{0,254}) (\d{1,9})$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * Contact with the Mender server: any HTTP answer to a HEAD, trusted as the client trusts its server
 * (core/mender-conf.ts cloudTarget, as the commit gate's check: mender.conf's ServerCertificate and
 * SkipVerify, its ServerURL when ota.yaml names none). No target known: nothing to lose.
 */
async function cloudContact(ctx: DeviceContext): Promise<boolean> {
  const t = cloudTarget(ctx.config.validation.cloud_url ?? ctx.config.mender.server_url, readMenderServer(ctx.paths));
  if (!t) return true;
  const r = await httpFetch(t.url, {
    method: 'HEAD',
    timeoutMs: 10_000,
    maxBodyBytes: 0,
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.skipVerify ? { rejectUnauthorized: false } : {}),
  });
  return r.ok;
}

export async function runSoakPass(deps: SoakPassDeps): Promise<SoakRecord | null> {
  const { ctx } = deps;
  const warn = deps.warn ?? (() => undefined);
  const last = await readLastUpdate(ctx.stateDir);
  for (const p of last.problems) warn(p);
  const read = readNamedStateJson(ctx.stateDir, 'soak', { schema: SoakRecord });
  if (read.status === 'invalid') warn(`${read.problem}; starting over`);
  const prev = read.status === 'ok' ? read.value : null;
  const u = last.value;
  const newCommit = u?.status === 'success' && (prev?.artifact_name !== u.artifact_name || prev.committed_at !== u.at);
  if (!newCommit && (prev === null || prev.state !== 'watching')) return prev;

  const limits = ctx.config.soak;
  let failingChecks: string[] = [];
  let restarts: Record<string, number> | null = {};
  let cloudOk = true;
  if (limits.hours > 0) {
    const report = await runHealthChecks({
      ctx,
      engine: deps.engine,
      runner: deps.runner,
      clock: deps.clock,
      env: deps.env,
    });
    failingChecks = report.checks.filter((c) => !c.ok).map((c) => c.name);
    restarts = await containerRestarts(deps.runner);
    cloudOk = deps.cloudOk ? await deps.cloudOk() : await cloudContact(ctx);
  }
  const obs: SoakObservation = { at: deps.clock.now(), lastUpdate: u, failingChecks, restarts, cloudOk };
  const next = evaluateSoak(prev, obs, limits);
  if (next) writeStateJson(stateFilePath(ctx.stateDir, 'soak'), next);
  return next;
}
