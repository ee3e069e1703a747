// The demo's composition: simulator → packaging → virtual fleet (+ a real mender-client van) → bridge →
// stages, release, rollout on the accelerated bridge clock → live progress → reports. Everything it
// starts is torn down in reverse order on every path out (done, duration, Ctrl-C, SIGTERM, a failure).
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as z from 'zod';
import { startBridge, type RunningBridge } from '../../bridge/server.js';
import { BridgeConfig } from '../../core/config/bridge-config.js';
import { parseConfig } from '../../core/config/load.js';
import { VanError, oneLine } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { CLIENT_BINARY, ClientFlavours, type ClientFlavour } from '../../core/schemas/client.js';
import { startVirtualFleet, type VirtualDeviceInfo, type VirtualFleet } from '../../mender-sim/fleet/index.js';
import { CLIENT_MODELS } from '../../mender-sim/fleet/machine.js';
import { startMenderSim, type MenderSim } from '../../mender-sim/index.js';
import type { CommandSpec, Io, RunContext } from '../../core/command.js';
import { runCommand } from '../command.js';
import type { DemoOptions } from './command.js';
import {
  type ClientCounts,
  type Reporter,
  type Snapshot,
  clientPart,
  plainReporter,
  renderLine,
  ttyReporter,
} from './progress.js';
import { type RealVan, realVanUnavailable, startRealVan } from './real-van.js';
import { DAY_MS, DEMO_CLIENT_MIX, DEMO_DEVICE_TYPE, DEMO_ROLLOUT, RELEASE, demoScript, plannedDays } from './script.js';

export interface DemoCommands {
  artifactCommand: CommandSpec;
  reportCommand: CommandSpec;
}

/** Exit codes after a signal (128 + signal number), as a shell reports them. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

const RolloutView = z.object({
  id: z.string(),
  status: z.string(),
  pause_reason: z.string().nullable(),
  vans: z.object({ eligible: z.number(), done: z.number(), failed: z.number(), excluded: z.number() }),
  waves: z.array(
    z.object({
      wave: z.number(),
      label: z.string(),
      stage: z.string(),
      vans: z.number(),
      closed_at: z.string().nullable(),
      deployments: z.array(z.object({ component: z.string(), status: z.string() })),
    }),
  ),
  next: z.array(z.object({ kind: z.string(), reason: z.string().optional() })),
});
type RolloutView = z.infer<typeof RolloutView>;

/** Output of a packaging command, kept for its summary line (and printed in full when it fails). */
function capture(env: NodeJS.ProcessEnv): { io: Io; stdout: () => string; stderr: () => string } {
  const text = { stdout: '', stderr: '' };
  const sink = (k: keyof typeof text) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        text[k] += chunk.toString();
        cb();
      },
    });
  return {
    io: { stdout: sink('stdout'), stderr: sink('stderr'), env, isTTY: false },
    stdout: () => text.stdout,
    stderr: () => text.stderr,
  };
}

async function api<T>(base: string, method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) throw new VanError('TOOL_FAILED', `bridge ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return schema.parse(text ? JSON.parse(text) : {});
}

/** `3.4` / `5.1`: the client's major.minor as the model runs it. */
export function clientLabel(flavour: ClientFlavour): string {
  return CLIENT_MODELS[flavour].version.split('.').slice(0, 2).join('.');
}

/**
 * Per client: vans, vans on the whole release, deferrals, failed updates, and failed updates on vans whose
 * script has no install failure (a deferral that turned into a failure: must be 0 on every client).
 */
export function clientCounts(devices: readonly VirtualDeviceInfo[]): ClientCounts[] {
  const release: Record<string, string> = RELEASE.components;
  return ClientFlavours.map((flavour) => {
    const mine = devices.filter((d) => d.client === flavour);
    const failures = (d: VirtualDeviceInfo) =>
      d.outcomes.filter((o) => o === 'failure' || o === 'rolled_back' || o === 'aborted').length;
    return {
      label: clientLabel(flavour),
      vans: mine.length,
      updated: mine.filter((d) => Object.entries(release).every(([c, v]) => d.versions[c] === v)).length,
      deferrals: mine.reduce((n, d) => n + d.deferrals, 0),
      failed: mine.reduce((n, d) => n + failures(d), 0),
      byDeferral: mine
        .filter((d) => d.behaviour.outcome === 'success' && d.behaviour.deferral)
        .reduce((n, d) => n + failures(d), 0),
    };
  });
}

function snapshotOf(
  view: RolloutView | undefined,
  fleet: VirtualFleet,
  totalVans: number,
  t: { startedAt: number; rolloutAt: number | undefined; speed: number },
  realVan: string | undefined,
): Snapshot {
  const deferredNow: Record<string, number> = {};
  const deferrals: Record<string, number> = {};
  const devices = fleet.devices();
  for (const d of devices) {
    const reason = d.behaviour.deferral?.reason;
    if (!reason) continue;
    if (d.activity === 'deferred') deferredNow[reason] = (deferredNow[reason] ?? 0) + 1;
    if (d.deferrals > 0) deferrals[reason] = (deferrals[reason] ?? 0) + d.deferrals;
  }
  const stats = fleet.stats();
  const open = view?.waves.find((w) => w.closed_at === null) ?? view?.waves.at(-1);
  const deploying = open?.deployments
    .filter((d) => d.status === 'open' || d.status === 'intent')
    .map((d) => d.component);
  const now = Date.now();
  return {
    elapsedS: (now - t.startedAt) / 1000,
    day: t.rolloutAt === undefined ? 0 : ((now - t.rolloutAt) * t.speed) / DAY_MS,
    rollout: view ? { status: view.status, pauseReason: view.pause_reason } : undefined,
    wave: open
      ? {
          label: open.label,
          stage: open.stage,
          vans: open.vans,
          index: open.wave,
          deploying: open.closed_at === null && deploying?.length ? deploying.join(', ') : null,
        }
      : undefined,
    waves: view?.waves.length ?? 0,
    next: describeStep(view?.next[0]),
    vans: {
      total: totalVans,
      updated: view?.vans.done ?? 0,
      failed: view?.vans.failed ?? 0,
      excluded: view?.vans.excluded ?? 0,
    },
    fleet: {
      deferredNow,
      deferrals,
      updating: stats.activity.updating,
      rolledBack: stats.events.rolled_back,
      failures: stats.events.failure,
      offline: stats.activity.offline,
    },
    clients: clientCounts(devices),
    realVan,
  };
}

/** The planner's next step in words: a wait is its reason, any other step its kind and reason. */
function describeStep(step: { kind: string; reason?: string | undefined } | undefined): string | undefined {
  if (!step) return undefined;
  if (step.kind === 'wait') return step.reason ?? 'wait';
  return `${step.kind.replace(/_/g, ' ')}${step.reason ? `: ${step.reason}` : ''}`;
}

/** Resolves when `signal` aborts or `ms` pass; true when aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function runDemo(ctx: RunContext, o: DemoOptions, commands: DemoCommands): Promise<number> {
  const { io } = ctx;
  const startedAt = Date.now();
  const out: Reporter = o.tty ? ttyReporter(io.stdout) : plainReporter(io.stdout);
  const say = (text: string) => out.note(text);

  const tool = spawnSync('mender-artifact', ['--version'], { encoding: 'utf8' });
  if (tool.error) {
    io.stderr.write(
      'vancore-ota demo: mender-artifact is not installed: apt-get install --no-install-recommends mender-artifact (as root, `node scripts/test-preflight.mjs` installs every tool)\n',
    );
    return 1;
  }

  // Which signal stopped us decides the exit code; a second one forces the exit (cleanup skipped).
  let stoppedBy: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy !== undefined) {
      io.stderr.write(`vancore-ota demo: ${sig} again: exiting now without cleaning up\n`);
      process.exit(SIGNAL_EXIT[sig] ?? 1);
    }
    stoppedBy = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const tmp = await mkdtemp(join(tmpdir(), 'vancore-demo-'));
  const teardown: { what: string; run: () => Promise<void> }[] = [];
  const script = demoScript(o.vans, o.seed);
  let code = 0;
  try {
    // 1. Mender.
    const sim: MenderSim = await startMenderSim({ autoAccept: true, dataDir: join(tmp, 'mender-sim') });
    teardown.push({ what: 'mender-sim', run: () => sim.close() });
    say(`Mender simulator on ${sim.url} (user ${sim.user}), temp files in ${tmp}`);

    // 2. The release, built, signed and uploaded with the packaging commands.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = join(tmp, 'demo-signing.pem');
    const pubFile = join(tmp, 'demo-signing.pub');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const pwFile = join(tmp, 'mender-password');
    await writeFile(pwFile, `${sim.password}\n`, { mode: 0o600 });
    const outDir = join(tmp, 'artifacts');
    const artifactCli = async (args: string[]): Promise<string> => {
      const c = capture(io.env);
      const rc = await runCommand(commands.artifactCommand, args, c.io, ctx.signal);
      if (rc !== 0)
        throw new VanError(
          'TOOL_FAILED',
          `vancore-ota artifact ${args[0]} failed: ${c.stderr().trim().split('\n').at(-1)}`,
        );
      return c.stdout();
    };
    const { platform, app } = RELEASE.components;
    for (const [component, version, requires] of [
      ['platform', platform, []],
      ['app', app, ['--requires', `platform=^${platform}`]],
    ] as const) {
      const bundle = join(tmp, 'release', component);
      await mkdir(bundle, { recursive: true });
      await writeFile(
        join(bundle, 'docker-compose.yml'),
        `services:\n  ${component}:\n    image: registry.vancore.example/${component}:${version}\n    restart: unless-stopped\n`,
      );
      await writeFile(join(bundle, 'VERSION'), `${version}\n`);
      const built = await artifactCli([
        'build',
        '--type',
        'compose',
        '--component',
        component,
        '--version',
        version,
        '--device-type',
        DEMO_DEVICE_TYPE,
        '--bundle',
        bundle,
        ...requires,
        // A short validation window: the real van commits within the demo's waves.
        '--validation-window',
        '3',
        '--no-require-cloud',
        '--sign-key',
        keyFile,
        '--out',
        outDir,
      ]);
      const file = join(outDir, `vancore-${component}-${version}.mender`);
      const uploaded = await artifactCli([
        'upload',
        file,
        '--server',
        sim.url,
        '--user',
        sim.user,
        '--password-file',
        pwFile,
      ]);
      const signed = /signed\s+(\S+)/.exec(built)?.[1] ?? 'unsigned';
      say(
        `built vancore-${component}-${version}.mender (${/\((\d+) bytes\)/.exec(built)?.[1] ?? '?'} bytes, signed ${signed}${requires.length ? `, requires platform ^${platform}` : ''}) and ${uploaded.startsWith('uploaded') ? 'uploaded it' : 'found it uploaded'}`,
      );
    }

    // 3. The fleet: seeded virtual vans, plus the real client when it can run here.
    const fleet = await startVirtualFleet({
      serverUrl: sim.url,
      count: o.vans,
      seed: o.seed,
      // Polls twice a second: a wave's two deployments settle well inside its (accelerated) day.
      pollIntervalMs: 500,
      retryIntervalMs: 500,
      inventoryIntervalMs: 5_000,
      startSpreadMs: 1_000,
      script: script.scenario,
      // Half the vans run Debian's Go client 3.4, half the C++ mender-update 5.x (docs/demo.md "Two clients").
      clients: DEMO_CLIENT_MIX,
    });
    teardown.push({ what: 'virtual fleet', run: () => fleet.stop() });
    const c = script.counts;
    say(
      `virtual fleet: ${o.vans} vans (${c.internal} internal, ${c.pilot} pilot, ${c.fleet} fleet); when the release comes ` +
        `${c.driving} are driving, ${c.weakLte} on weak LTE, ${c.lowBattery} on a low battery, the rest parked; ` +
        `van-${String(script.failingVan).padStart(5, '0')} (pilot) has a failing app; ` +
        `clients: ${ClientFlavours.map((f) => `${fleet.stats().clients[f]} on ${CLIENT_BINARY[f]} ${CLIENT_MODELS[f].version}`).join(', ')}`,
    );
    let realVan: RealVan | undefined;
    const why = realVanUnavailable(io.env);
    if (why) say(`real mender-client van skipped: ${why}`);
    else {
      try {
        realVan = await startRealVan({ parent: tmp, serverUrl: sim.url, verifyKeyFile: pubFile });
        const rv = realVan;
        teardown.push({ what: 'real mender-client', run: () => rv.stop() });
        say(`real mender-client van ${realVan.vanId} (internal ring): ${realVan.status()}`);
      } catch (e) {
        say(`real mender-client van skipped: ${oneLine(e)}`);
      }
    }
    await fleet.until((s) => s.booted === o.vans, { timeoutMs: 60_000 });
    if (ctx.signal.aborted) return SIGNAL_EXIT[stoppedBy ?? 'SIGINT'] ?? 130;

    // 4. The bridge on a SQLite file, its rollout clock accelerated.
    const config = parseConfig(
      BridgeConfig,
      {
        http: { port: o.port },
        mender: { url: sim.url, user: sim.user, password: sim.password },
        database: { url: `sqlite:${join(tmp, 'bridge.db')}` },
        sync: { interval_seconds: 5 },
        clock: { speed: o.speed },
        rollout: DEMO_ROLLOUT,
        log_level: 'error',
      },
      '(demo)',
    );
    const logger = createLogger({ name: 'bridge', level: config.log_level });
    const bridge: RunningBridge = await startBridge(config, { logger, env: io.env });
    teardown.push({ what: 'bridge', run: () => bridge.stop() });
    const base = bridge.url;
    // The virtual vans must all be there; the real one is waited for a little, never required.
    let totalVans = o.vans;
    for (let i = 0; ; i++) {
      await bridge.sync.syncNow('full');
      const res = await fetch(`${base}/api/v1/vans?per_page=1`, { signal: AbortSignal.timeout(15_000) });
      z.array(z.unknown()).parse(await res.json());
      const n = Number(res.headers.get('x-total-count') ?? 0);
      const wantReal = realVan !== undefined && !realVan.failed();
      if (n >= o.vans + (wantReal ? 1 : 0) || (n >= o.vans && i >= 10)) {
        totalVans = n;
        break;
      }
      if (i >= 20 || (await sleep(1_000, ctx.signal))) {
        if (ctx.signal.aborted) return SIGNAL_EXIT[stoppedBy ?? 'SIGINT'] ?? 130;
        throw new VanError('TOOL_FAILED', `the bridge synced ${n} of ${o.vans} virtual vans`);
      }
    }
    say(`bridge on ${base} (SQLite ${join(tmp, 'bridge.db')}): ${totalVans} vans synced`);

    // 5. Rings, release and rollout, through the ops API.
    const reason = 'demo rings';
    for (const v of script.vans.filter((x) => x.stage !== 'fleet'))
      await api(base, 'PATCH', `/api/v1/vans/van-${String(v.index).padStart(5, '0')}`, z.unknown(), {
        stage: v.stage,
        reason,
      });
    if (realVan) {
      try {
        await api(base, 'PATCH', `/api/v1/vans/${realVan.vanId}`, z.unknown(), { stage: 'internal', reason });
      } catch (e) {
        say(
          `real mender-client van ${realVan.vanId} is not in the bridge's records (${oneLine(e)}); ${realVan.status()}`,
        );
      }
    }
    await api(base, 'POST', '/api/v1/releases', z.unknown(), { name: RELEASE.name, components: RELEASE.components });
    const { id } = await api(base, 'POST', '/api/v1/rollouts', z.object({ id: z.string() }), {
      release: RELEASE.name,
      reason: 'the demo release',
    });
    const rolloutAt = Date.now();
    const plan = plannedDays(c.fleet);
    say(
      `release ${RELEASE.name} (platform ${platform}, app ${app}); rollout ${id}: internal, soak ${DEMO_ROLLOUT.soak_hours.internal} h, ` +
        `pilot, soak ${DEMO_ROLLOUT.soak_hours.pilot} h, then ${plan.waves} fleet waves of ${DEMO_ROLLOUT.wave_percent} % a day ` +
        `(at least ${plan.days.toFixed(0)} simulated days; the clock runs ${o.speed}× real time, a day per ${(DAY_MS / o.speed / 1000).toFixed(1)} s)`,
    );

    // 6. Live progress until the rollout ends or the duration is up.
    const deadline = startedAt + o.durationS * 1000;
    let view: RolloutView | undefined;
    let ended: 'done' | 'duration' | 'signal' = 'duration';
    for (;;) {
      try {
        view = await api(base, 'GET', `/api/v1/rollouts/${id}`, RolloutView);
      } catch (e) {
        say(`progress: ${oneLine(e)}`);
      }
      out.show(snapshotOf(view, fleet, totalVans, { startedAt, rolloutAt, speed: o.speed }, realVan?.status()));
      if (view && view.status !== 'active') {
        ended = 'done';
        break;
      }
      if (Date.now() >= deadline) break;
      if (await sleep(o.tty ? 500 : 1_000, ctx.signal)) {
        ended = 'signal';
        break;
      }
    }
    out.end();
    if (ended === 'signal') {
      io.stdout.write(`stopping (${stoppedBy ?? 'signal'}) …\n`);
      return SIGNAL_EXIT[stoppedBy ?? 'SIGINT'] ?? 130;
    }

    // 7. The end: where the rollout got to, the reports, the URLs.
    await bridge.sync.syncNow('incremental').catch(() => undefined);
    const final = snapshotOf(view, fleet, totalVans, { startedAt, rolloutAt, speed: o.speed }, realVan?.status());
    const wall = ((Date.now() - startedAt) / 1000).toFixed(1);
    io.stdout.write(
      `\n${
        ended === 'done'
          ? `Rollout ${view?.status ?? '?'} after ${final.day.toFixed(1)} simulated days (${wall} s real)`
          : `Duration of ${o.durationS} s reached: rollout still ${view?.status ?? '?'} on simulated day ${final.day.toFixed(1)}`
      }${view?.pause_reason ? `: ${view.pause_reason}` : ''}\n${renderLine(final)}\n`,
    );
    // Per client: a deferral must never have become a failure, on either client (issue #13).
    for (const c of final.clients) io.stdout.write(`clients: ${clientPart(c)}\n`);
    if (realVan) {
      const v = await realVan.versions();
      io.stdout.write(
        `real mender-client van ${realVan.vanId}: ${realVan.status()}; installed ${Object.entries(v)
          .map(([k, x]) => `${k} ${x}`)
          .join(', ')}\n`,
      );
    }
    for (const [title, name] of [
      ['Fleet report', 'fleet'],
      ['Attention report', 'attention'],
    ] as const) {
      io.stdout.write(`\n== ${title} (vancore-ota report ${name} --bridge ${base}) ==\n`);
      const rc = await runCommand(commands.reportCommand, [name, '--bridge', base], io, ctx.signal);
      if (rc !== 0) code = 1;
    }
    io.stdout.write(
      `\nAPI docs     ${base}/docs\n` +
        `fleet        ${base}/api/v1/reports/fleet\n` +
        `attention    ${base}/api/v1/reports/attention?format=csv\n` +
        `rollout      ${base}/api/v1/rollouts/${id}\n` +
        `Mender       ${sim.url} (user ${sim.user}, the simulator's default password: docs/simulator.md)\n`,
    );
    if (o.keep) {
      io.stdout.write('--keep: the simulator, the fleet and the bridge keep running; Ctrl-C stops them.\n');
      await sleep(2 ** 31 - 1, ctx.signal);
      // With --keep, Ctrl-C is how the demo ends: a normal exit.
      return 0;
    }
    io.stdout.write('Stopping the servers now (run with --keep to leave them running until Ctrl-C).\n');
    return code;
  } catch (e) {
    if (ctx.signal.aborted) return SIGNAL_EXIT[stoppedBy ?? 'SIGINT'] ?? 130;
    throw e;
  } finally {
    for (const t of teardown.reverse()) {
      await Promise.race([t.run(), new Promise((r) => setTimeout(r, 10_000).unref())]).catch((e: unknown) =>
        io.stderr.write(`vancore-ota demo: stopping the ${t.what} failed: ${oneLine(e)}\n`),
      );
    }
    await rm(tmp, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
