// vancore-ota sensord: samples motion, signal and power and keeps <state_dir>/readings.json (the
// format in core/schemas/readings.ts) atomically up to date for the gates. Every source is optional
// and may break at any time: its part of the readings becomes unknown (logged once per change), and
// unknown never lets an update through. When a download was deferred ("not now") and the current
// readings would open the gate, it asks the Mender client to check again at once.
//
// Cadences: IMU at sensors.imu.sample_hz (10 Hz), readings every sensors.sample_interval_seconds
// (5 s), modem and Wi-Fi every SIGNAL_EVERY_MS, link probes every PROBE_EVERY_MS (a few TCP connects:
// vans pay for LTE data). One cycle at a time: the loop awaits each cycle before sleeping.
import type { Clock } from '../core/clock.js';
import { readGateJournal } from '../core/gate-journal.js';
import { CLIENT_FILE, readInstalledClient } from '../core/schemas/client.js';
import { MotionReading, PowerReading, SignalReading, type Readings } from '../core/schemas/readings.js';
import type { MotionSources } from '../core/schemas/readings.js';
import type { DeviceSetup } from './env.js';
import type { CommandRunner } from './health.js';
import { wallClock, windowZone } from './local-time.js';
import { ChangeLog, type Log } from './log.js';
import { readMenderServer } from '../core/mender-conf.js';
import { decideDownload } from './policy/download.js';
import { readReadings, readingsPath, writeReadings } from './readings-file.js';
import { GpsdClient, tpvMotion } from './sense/gpsd.js';
import { entityBool, entityNumber, entitySpeedMps, HomeAssistant } from './sense/home-assistant.js';
import { IioImu, imuMoving } from './sense/iio.js';
import { mmcliModem, type ModemReading } from './sense/modem.js';
import { readMotionFile } from './sense/motion-file.js';
import { readPowerSupply } from './sense/power.js';
import { probeLink, type ProbeResult } from './sense/probe.js';
import { StationaryTracker, type MotionView } from './sense/stationary.js';
import { readWifi } from './sense/wifi.js';
import { signalScore } from './signal-score.js';
import { latestDownload, shouldWake, wakeClient } from './wake.js';

export const SIGNAL_EVERY_MS = 15_000;
export const PROBE_EVERY_MS = 60_000;
/** A broken IMU is reopened this often; a failing modem backs off up to MODEM_MAX_BACKOFF_MS. */
export const IMU_REOPEN_MS = 30_000;
export const MODEM_MAX_BACKOFF_MS = 300_000;
/** GNSS motion is unknown when no TPV arrived for this long (gpsd reports about once a second). */
export const GNSS_STALE_MS = 5_000;
/** --once: how long to collect IMU / GNSS samples before the single write. */
export const ONCE_SETTLE_MS = 1_500;

type MotionSource = (typeof MotionSources)[number];

export interface SensordDeps {
  setup: DeviceSetup;
  clock: Clock;
  log: Log;
  runner: CommandRunner;
  /** /proc, for finding the Mender daemon (under the host root). */
  procDir: string;
  kill?: (pid: number, signal: NodeJS.Signals) => void;
}

export interface SensordOptions {
  once: boolean;
  signal: AbortSignal;
  /** Called after each write (tests, bench). */
  onWrite?: (r: Readings) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface SignalState {
  at: Date;
  modem: ModemReading | null;
  wifi_rssi_dbm: number | null;
  probe: ProbeResult | null;
}

const inRange = (v: number | null, lo: number, hi: number): v is number => v !== null && v >= lo && v <= hi;

/**
 * Pure: the readings' signal section from the sampled metrics. Values outside the readings schema's
 * ranges (a modem's nonsense) are dropped before scoring, so they neither count nor break the file.
 */
export function signalSection(s: SignalState): SignalReading | null {
  const m = s.modem;
  const ok = (v: number | null, lo: number, hi: number) => (inRange(v, lo, hi) ? v : null);
  const rsrp = ok(m?.rsrp_dbm ?? null, -160, -20);
  const rsrq = ok(m?.rsrq_db ?? null, -40, 10);
  const sinr = ok(m?.sinr_db ?? null, -30, 60);
  const wifi = ok(s.wifi_rssi_dbm, -120, 0);
  const score = signalScore({
    lte: m ? { rsrp_dbm: rsrp, rsrq_db: rsrq, sinr_db: sinr, quality_pct: ok(m.quality_pct, 0, 100) } : null,
    wifi_rssi_dbm: wifi,
    probe: s.probe,
  });
  if (score.quality === null) return null;
  return {
    quality: score.quality,
    ...(rsrp !== null && rsrq !== null
      ? { lte: { rsrp_dbm: rsrp, rsrq_db: rsrq, ...(sinr !== null ? { sinr_db: sinr } : {}) } }
      : {}),
    ...(wifi !== null ? { wifi: { rssi_dbm: wifi } } : {}),
    ...(s.probe ? { ping: { rtt_ms_p50: s.probe.rtt_ms_p50, loss_pct: s.probe.loss_pct } } : {}),
    at: s.at.toISOString(),
  };
}

export async function runSensord(deps: SensordDeps, opts: SensordOptions): Promise<void> {
  const { setup, clock, log } = deps;
  const cfg = setup.config.sensors;
  const status = new ChangeLog(log);
  const file = readingsPath(setup.stateDir);
  const sources = [...new Set(cfg.motion_sources)];
  const ha = cfg.home_assistant ? new HomeAssistant(cfg.home_assistant) : null;

  // A restart continues a still period from a fresh readings file instead of starting it again.
  const previous = readReadings(file);
  const seedFor = (source: MotionSource, staleAfterMs: number) => {
    if (previous.status !== 'ok' || !previous.readings.motion || previous.readings.motion.source !== source)
      return undefined;
    const m = previous.readings.motion;
    if (clock.now().getTime() - Date.parse(m.at) > staleAfterMs) return undefined;
    return { stationary_since: m.stationary_since === null ? null : new Date(m.stationary_since), at: new Date(m.at) };
  };

  const trackers = new Map<MotionSource, StationaryTracker>();
  const stops: (() => void)[] = [];

  if (sources.includes('imu')) {
    const periodMs = 1000 / cfg.imu.sample_hz;
    const staleMs = Math.max(2000, 5 * periodMs);
    const tracker = new StationaryTracker(staleMs, seedFor('imu', staleMs));
    trackers.set('imu', tracker);
    const dir = setup.paths.resolve(cfg.imu.device);
    let imu: IioImu | null = null;
    let nextOpen = 0;
    const tick = () => {
      const now = clock.now();
      if (!imu) {
        if (now.getTime() < nextOpen) return;
        try {
          imu = IioImu.open(dir);
          status.report('imu', null);
        } catch (e) {
          nextOpen = now.getTime() + IMU_REOPEN_MS;
          const problem = (e as Error).message;
          tracker.fault(problem);
          status.report('imu', problem);
          return;
        }
      }
      try {
        tracker.observe(now, imuMoving(imu.read(), cfg.imu));
      } catch (e) {
        const problem = `${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        tracker.fault(problem);
        status.report('imu', problem);
        imu.close();
        imu = null;
        nextOpen = now.getTime() + IMU_REOPEN_MS;
      }
    };
    tick();
    const timer = setInterval(tick, periodMs);
    stops.push(() => {
      clearInterval(timer);
      imu?.close();
    });
  }

  let gnssSeen = false;
  if (sources.includes('gnss')) {
    const tracker = new StationaryTracker(GNSS_STALE_MS, seedFor('gnss', GNSS_STALE_MS));
    trackers.set('gnss', tracker);
    const gps = new GpsdClient({
      host: cfg.gnss.host,
      port: cfg.gnss.port,
      onTpv: (t) => {
        gnssSeen = true;
        const m = tpvMotion(t, cfg.gnss.moving_speed_mps);
        if ('moving' in m) {
          tracker.observe(clock.now(), m.moving);
          status.report('gnss', null);
        } else {
          tracker.fault(m.unknown);
          status.report('gnss', m.unknown);
        }
      },
      onProblem: (p) => {
        tracker.fault(p);
        status.report('gnss', p);
      },
    });
    gps.start();
    stops.push(() => gps.stop());
  }

  const haStaleMs = Math.max(3 * cfg.sample_interval_seconds * 1000, 15_000);
  if (sources.includes('home_assistant'))
    trackers.set('home_assistant', new StationaryTracker(haStaleMs, seedFor('home_assistant', haStaleMs)));

  const pollHaMotion = async (now: Date) => {
    const tracker = trackers.get('home_assistant');
    if (!tracker) return;
    const ent = cfg.home_assistant?.entities;
    if (!ha || !(ent?.moving || ent?.speed)) {
      tracker.fault('home_assistant: no moving or speed entity configured');
      status.report('home_assistant', 'no moving or speed entity configured');
      return;
    }
    const r = await ha.state((ent.moving ?? ent.speed) as string);
    if (!r.ok) {
      tracker.fault(r.problem);
      status.report('home_assistant', r.problem);
      return;
    }
    if (ent.moving) {
      const moving = entityBool(r.entity);
      const since = r.entity.last_changed ? Date.parse(r.entity.last_changed) : Number.NaN;
      if (moving === null || (moving === false && Number.isNaN(since))) {
        tracker.fault(`${r.entity.entity_id} is ${r.entity.state}`);
        status.report('home_assistant', `${r.entity.entity_id} is ${r.entity.state}`);
        return;
      }
      // "off" since last_changed: Home Assistant knows how long the van has been still.
      tracker.report(now, moving ? null : new Date(since));
    } else {
      const speed = entitySpeedMps(r.entity);
      if (speed === null) {
        tracker.fault(`${r.entity.entity_id} is ${r.entity.state}`);
        status.report('home_assistant', `${r.entity.entity_id} is ${r.entity.state}`);
        return;
      }
      tracker.observe(now, speed > cfg.gnss.moving_speed_mps);
    }
    status.report('home_assistant', null);
  };

  const motionNow = (now: Date): { view: Extract<MotionView, { known: true }>; source: MotionSource } | null => {
    for (const s of sources) {
      const view = s === 'file' ? readMotionFile(setup.stateDir) : trackers.get(s)?.view(now);
      if (s === 'file' && view) status.report('file', view.known ? null : view.problem);
      if (view?.known) return { view, source: s };
    }
    return null;
  };

  // Signal: modem (with backoff), Wi-Fi, probes.
  const modem = mmcliModem({ mmcli: cfg.modem.mmcli, index: cfg.modem.modem_index, runner: deps.runner });
  let modemNext = 0;
  let modemDelay = SIGNAL_EVERY_MS;
  let modemSetup = false;
  let probeNext = 0;
  let lastProbe: ProbeResult | null = null;
  let signal: SignalState | null = null;
  let signalNext = 0;
  const server = readMenderServer(setup.paths);
  const probeUrl = cfg.probe.url ?? setup.config.mender.server_url ?? server.url;
  if (!probeUrl)
    status.report('probe', 'no server to probe (sensors.probe.url, mender.server_url or mender.conf ServerURL)');

  const sampleSignal = async (now: Date, force: boolean) => {
    if (!force && now.getTime() < signalNext) return;
    signalNext = now.getTime() + SIGNAL_EVERY_MS;
    let m: ModemReading | null = null;
    if (force || now.getTime() >= modemNext) {
      if (!modemSetup) {
        modemSetup = true;
        await modem.setup();
      }
      const r = await modem.read();
      if ('problem' in r) {
        status.report('modem', r.problem);
        modemNext = now.getTime() + modemDelay;
        modemDelay = Math.min(modemDelay * 2, MODEM_MAX_BACKOFF_MS);
      } else {
        status.report('modem', null);
        modemDelay = SIGNAL_EVERY_MS;
        m = r;
      }
    }
    const w = readWifi(setup.paths.procNetWireless, cfg.wifi.interface);
    status.report('wifi', 'problem' in w ? w.problem : null);
    if (probeUrl && (force || now.getTime() >= probeNext)) {
      probeNext = now.getTime() + PROBE_EVERY_MS;
      lastProbe = await probeLink(probeUrl, { count: cfg.probe.count, timeoutMs: cfg.probe.timeout_ms });
      status.report('probe', lastProbe.loss_pct === 100 ? `${probeUrl}: every probe failed` : null);
    }
    signal = { at: clock.now(), modem: m, wifi_rssi_dbm: 'problem' in w ? null : w.rssi_dbm, probe: lastProbe };
  };

  const samplePower = async (now: Date): Promise<PowerReading | null> => {
    const p = readPowerSupply(setup.paths.sysPowerSupply, cfg.power_supply);
    let soc = p.battery_soc_pct;
    let shore = p.shore_power;
    const ent = cfg.home_assistant?.entities;
    if (ha && ent?.battery_soc) {
      const r = await ha.state(ent.battery_soc);
      const v = r.ok ? entityNumber(r.entity) : null;
      status.report(
        'home_assistant.battery_soc',
        r.ok ? (v === null ? `${ent.battery_soc} has no value` : null) : r.problem,
      );
      if (v !== null && v >= 0 && v <= 100) soc = v;
    }
    if (ha && ent?.shore_power) {
      const r = await ha.state(ent.shore_power);
      const v = r.ok ? entityBool(r.entity) : null;
      status.report(
        'home_assistant.shore_power',
        r.ok ? (v === null ? `${ent.shore_power} has no value` : null) : r.problem,
      );
      if (v !== null) shore = v;
    }
    status.report('power', soc === null && shore === null ? p.problems.join('; ') : null);
    if (soc === null && shore === null) return null;
    return { battery_soc_pct: soc, shore_power: shore, at: now.toISOString() };
  };

  let wokeFor: string | null = null;
  let wokeAt: Date | null = null;
  const maybeWake = async (now: Date, readings: Readings) => {
    const mode = setup.config.mender.check_update;
    if (mode === 'off') return;
    const last = latestDownload(readGateJournal(setup.stateDir).journal?.phases);
    const policy = setup.config.download;
    const w = policy.maintenance_window;
    const verdictNow = decideDownload({
      now,
      policy,
      staleness: setup.config.staleness,
      readings: { status: 'ok', readings },
      wall_clock: w ? wallClock(now, windowZone(w.timezone, setup.config.timezone)) : null,
    });
    if (!shouldWake({ now, lastDownload: last, verdictNow, wokeFor, wokeAt })) return;
    wokeFor = last?.at ?? null;
    wokeAt = now;
    const client = readInstalledClient(setup.paths.resolve(CLIENT_FILE)).client;
    const r = await wakeClient(mode, {
      procDir: deps.procDir,
      runner: deps.runner,
      ...(client ? { client: client.flavour } : {}),
      ...(deps.kill ? { kill: deps.kill } : {}),
    });
    if (r.ok) log.info({ how: r.how, deferred_at: wokeFor }, 'download gate would open now: asked the client to check');
    else log.warn({ how: r.how }, 'could not ask the client to check for the deferred update');
  };

  const cycle = async (force: boolean) => {
    const now = clock.now();
    await pollHaMotion(now);
    await sampleSignal(now, force);
    const power = await samplePower(now);
    const motion = motionNow(clock.now());
    const sig = signal ? signalSection(signal) : null;
    const readings: Readings = {};
    const candidates = {
      motion: motion
        ? {
            stationary_since: motion.view.stationary_since?.toISOString() ?? null,
            source: motion.source,
            at: motion.view.at.toISOString(),
          }
        : null,
      signal: sig,
      power,
    };
    // Never write a file the gates would refuse: each section is checked against its schema.
    if (candidates.motion) {
      const r = MotionReading.safeParse(candidates.motion);
      if (r.success) readings.motion = r.data;
    }
    if (candidates.signal) {
      const r = SignalReading.safeParse(candidates.signal);
      if (r.success) readings.signal = r.data;
    }
    if (candidates.power) {
      const r = PowerReading.safeParse(candidates.power);
      if (r.success) readings.power = r.data;
    }
    status.report('motion', motion ? null : 'no motion source has a fresh answer');
    try {
      writeReadings(file, readings);
      status.report('readings', null);
    } catch (e) {
      status.report('readings', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    opts.onWrite?.(readings);
    await maybeWake(now, readings);
  };

  log.info(
    {
      state_dir: setup.stateDir,
      motion_sources: sources,
      sample_interval_s: cfg.sample_interval_seconds,
      once: opts.once,
    },
    'sensord started',
  );
  try {
    if (opts.once) {
      if (sources.includes('imu') || sources.includes('gnss')) {
        const until = Date.now() + ONCE_SETTLE_MS;
        while (
          Date.now() < until &&
          !opts.signal.aborted &&
          !(sources.includes('gnss') && gnssSeen && !sources.includes('imu'))
        ) {
          await sleep(50, opts.signal);
        }
      }
      await cycle(true);
      return;
    }
    while (!opts.signal.aborted) {
      await cycle(false);
      await sleep(cfg.sample_interval_seconds * 1000, opts.signal);
    }
  } finally {
    for (const stop of stops) stop();
    log.info({}, 'sensord stopped');
  }
}
