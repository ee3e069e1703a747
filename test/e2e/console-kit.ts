// What the console suites and the console benchmark share: the bridge as a real process
// (`node dist/cli.js bridge --config …`, as test/fault/bridge-kill.test.ts starts it) and Debian's
// Chromium driven by playwright-core with a fresh profile.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { cliPath, repoRoot } from '../helpers/cli.js';

export interface BridgeProc {
  child: ChildProcess;
  /** Resolves with the bridge's URL once it listens; rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
  output: () => string;
  stop(): Promise<void>;
}

export function startBridgeProcess(config: string): BridgeProc {
  const child = spawn(process.execPath, [cliPath, 'bridge', '--config', config], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /bridge listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    void exited.then((code) => reject(new Error(`bridge exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    exited,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The flags the issue names: headless, no sandbox (root in CI), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium with a fresh --user-data-dir (its own cookie jar); close() removes the profile. */
export async function launchChromium(opts: { width?: number; height?: number } = {}): Promise<{
  context: BrowserContext;
  close(): Promise<void>;
}> {
  const profile = await mkdtemp(join(tmpdir(), 'vc-chromium-'));
  // launchPersistentContext passes the directory as --user-data-dir (playwright refuses it in `args`).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
    timezoneId: 'Europe/Berlin',
    locale: 'en-GB',
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A JSON call to the bridge with a bearer token (what the CLI does). */
export async function api(url: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as unknown };
}
