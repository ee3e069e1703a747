// The fleet bridge as it runs (bridge/server.ts `startBridge`: config → SQLite → Mender client → sync
// runner → rollout controller → HTTP on a port of its own) against a test's simulator, and the
// `vancore-ota` CLI (dist/cli.js) as a real process. The CLI runs asynchronously: the simulator lives in
// the test's own process and must keep answering while the CLI talks to it.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type BridgeConfigInput, BridgeConfig } from '../../../core/config/bridge-config.js';
import { createLogger } from '../../../core/logger.js';
import { type RunningBridge, startBridge } from '../../../bridge/server.js';
import { cliPath, repoRoot } from '../../helpers/cli.js';
import { captureOutput, registerSecret } from '../../helpers/output-capture.js';
import type { Sim } from './bed.js';
import type { ProcessGroup } from '../../../mender-sim/real-client/processes.js';

export const OPS_TOKEN = registerSecret('e2e ops token', 'ops-token-e2e-0123456789');
export const SUPPORT_TOKEN = registerSecret('e2e support token', 'support-token-e2e-0123456789');

export interface TestBridge {
  readonly url: string;
  readonly running: RunningBridge;
  /** One API call with a bearer token (ops by default); the body parsed as JSON when there is one. */
  call<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/**
 * Starts the bridge on 127.0.0.1:<free port> with a SQLite file in `dir`, logged in to the simulator
 * as its management user, with an ops and a support token. The scheduled sync and rollout ticks run
 * every `sync.interval_seconds` (5 s, the minimum the config allows) unless `over` says otherwise.
 */
export async function startTestBridge(sim: Sim, dir: string, over: BridgeConfigInput = {}): Promise<TestBridge> {
  const config = BridgeConfig.parse({
    mender: { url: sim.url, user: sim.user, password: sim.password, timeout_ms: 5000, retries: 1 },
    database: { url: `sqlite:${join(dir, 'bridge.db')}` },
    http: { host: '127.0.0.1', port: 0, rate_limit_per_minute: 0 },
    sync: { interval_seconds: 5 },
    auth: {
      tokens: [
        { name: 'ops-e2e', role: 'ops', token: OPS_TOKEN },
        { name: 'support-e2e', role: 'support', token: SUPPORT_TOKEN },
      ],
    },
    log_level: 'silent',
    ...over,
  });
  const logger = createLogger({
    name: 'bridge',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const running = await startBridge(config, { logger, env: {} });
  return {
    url: running.url,
    running,
    call: async <T>(method: string, path: string, body?: unknown, token = OPS_TOKEN) => {
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      captureOutput(`${method} ${path} → ${res.status}`, text);
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    stop: () => running.stop(),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `vancore-ota <args>` (the built dist/cli.js) as a real process in the test's process group. */
export async function runVancoreCli(
  processes: ProcessGroup,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' (npm test does)`);
  const proc = processes.spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, ...opts.env },
    cwd: repoRoot,
  });
  const timer = setTimeout(() => void proc.stop(), opts.timeoutMs ?? 60_000);
  const exit = await proc.exited;
  clearTimeout(timer);
  const out = proc.output();
  captureOutput(`vancore-ota ${args.join(' ')}`, out.stdout, out.stderr);
  return { code: exit.code, ...out };
}

/** Writes `secret` to a 0600 file in `dir` (for `--password-file`). */
export async function secretFile(dir: string, name: string, secret: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return path;
}
