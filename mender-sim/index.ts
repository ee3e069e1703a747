// startMenderSim(options): a Mender OSS server simulator (4.1 or 3.7 profile) listening on a local port — the programmatic
// entry for tests, the system-test harness, the virtual fleet and the demo. See docs/simulator.md.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { buildSimApp } from './app.js';
import type { ErrorShape } from './errors.js';
import { FaultInjector, RequestLog, type FaultRule, type RequestRecord } from './faults.js';
import { StateSaver, loadState } from './persist.js';
import { DEFAULT_PROFILE, isMenderProfile, type MenderProfile } from './profile.js';
import { SimStore } from './store.js';

import { DEFAULT_PASSWORD, DEFAULT_USER } from './defaults.js';
export { DEFAULT_PASSWORD, DEFAULT_USER };

export type { MenderProfile } from './profile.js';

export interface MenderSimOptions {
  /** The Mender server line to answer as (profile.ts, docs/simulator.md): '4.1' (default) or '3.7'. */
  profile?: MenderProfile;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) = pick a free port. */
  port?: number;
  /** Management login e-mail; default `admin@vancore.local`. */
  user?: string;
  /** Management password; default `vancore-sim`. */
  password?: string;
  /** Accept devices on their first auth request (default false: they stay pending). */
  autoAccept?: boolean;
  /** Persist state as JSON here: loaded at start, saved after changes (debounced, atomic rename). */
  stateFile?: string;
  /** GUIDE §0 error bodies: the services' (default) or the 3.x reference Traefik gateway's (3.7 only). */
  errorShape?: ErrorShape;
  /** Base URL put into artifact download links; default the listen URL. */
  publicUrl?: string;
  clock?: Clock;
  logger?: Logger;
  /** Where uploaded artifacts are stored; default `<stateFile>.d`, else a temp dir removed on close. */
  dataDir?: string;
  /** Verify the devices' X-MEN-Signature (default true). */
  verifySignatures?: boolean;
  /** Largest accepted artifact upload in bytes; default 10 GiB (deployments' default [code]). */
  /** Largest JSON request body; default 1 MiB on 4.1 (its request-size middleware), 16 MiB on 3.7. */
  maxRequestBytes?: number;
  maxArtifactBytes?: number;
  /** How many requests `requests()` keeps; default 20,000. */
  requestLogSize?: number;
}

export interface MenderSim {
  profile: MenderProfile;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  user: string;
  password: string;
  /** Where artifact files are kept. */
  dataDir: string;
  /** Log in through the real endpoint and return a management JWT (convenience for tests). */
  managementToken(): Promise<string>;
  /** Every request seen, for assertions: method, path, status, time. Bounded ring buffer. */
  requests(): readonly RequestRecord[];
  clearRequests(): void;
  /** Fault injection for chaos tests: fail the next N requests matching a path regex with a status. */
  injectFaults(rule: FaultRule): void;
  /** Write the state file now (no-op without `stateFile`). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function startMenderSim(options: MenderSimOptions = {}): Promise<MenderSim> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: 'silent' });
  const user = options.user ?? DEFAULT_USER;
  const password = options.password ?? DEFAULT_PASSWORD;
  const host = options.host ?? '127.0.0.1';
  const profile = options.profile ?? DEFAULT_PROFILE;
  if (!isMenderProfile(profile)) throw new Error(`mender-sim: unknown profile '${String(profile)}' (4.1 or 3.7)`);
  // The 4.x server ships no Traefik errors middleware (mender-server's gateway passes service bodies).
  if (profile === '4.1' && options.errorShape === 'gateway') {
    throw new Error("mender-sim: errorShape 'gateway' is the 3.x Traefik gateway's; the 4.1 profile has none");
  }

  const ownDataDir = !options.dataDir && !options.stateFile;
  const dataDir =
    options.dataDir ??
    (options.stateFile ? `${options.stateFile}.d` : await mkdtemp(join(tmpdir(), 'vancore-mender-sim-')));
  await mkdir(dataDir, { recursive: true });

  const state = options.stateFile ? await loadState(options.stateFile) : undefined;
  let saver: StateSaver | undefined;
  const store = new SimStore(
    {
      now: () => clock.now().getTime(),
      email: user,
      password,
      autoAccept: options.autoAccept === true,
      verifySignatures: options.verifySignatures !== false,
      onChange: () => saver?.schedule(),
    },
    state,
  );
  if (options.stateFile) {
    saver = new StateSaver({
      file: options.stateFile,
      snapshot: () => store.snapshot(),
      onError: (e) => logger.error({ err: e }, 'mender-sim: saving the state file failed'),
    });
  }

  let baseUrl = '';
  const faults = new FaultInjector();
  const requestLog = new RequestLog(options.requestLogSize ?? 20_000);
  const app = buildSimApp({
    store,
    profile,
    dataDir,
    errorShape: options.errorShape ?? 'service',
    publicUrl: () => options.publicUrl?.replace(/\/+$/, '') ?? baseUrl,
    logger,
    maxArtifactBytes: options.maxArtifactBytes ?? 10 * 1024 ** 3,
    bodyLimit: options.maxRequestBytes ?? (profile === '4.1' ? 1024 * 1024 : 16 * 1024 * 1024),
    faults,
    requestLog,
  });

  try {
    await app.listen({ host, port: options.port ?? 0 });
  } catch (e) {
    await app.close();
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  baseUrl = `http://${urlHost}:${port}`;
  logger.info({ url: baseUrl, mender: profile }, 'mender-sim listening');

  let closed: Promise<void> | undefined;
  return {
    profile,
    url: baseUrl,
    port,
    user,
    password,
    dataDir,
    async managementToken() {
      const res = await fetch(`${baseUrl}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      });
      if (res.status !== 200) throw new Error(`mender-sim login failed: HTTP ${res.status}`);
      return res.text();
    },
    requests: () => requestLog.list(),
    clearRequests: () => requestLog.clear(),
    injectFaults: (rule) => faults.add(rule),
    flush: async () => saver?.flush(),
    close() {
      closed ??= (async () => {
        await app.close();
        await saver?.flush();
        if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
