// Download_Enter: sense (config, readings, local time) → decideDownload → journal → exit code.
import { decideDownload } from '../policy/download.js';
import { loadSetup } from '../env.js';
import { wallClock, windowZone } from '../local-time.js';
import { readReadings, readingsPath } from '../readings-file.js';
import { sensePresence } from '../ha/van-screen.js';
import { showDecision } from '../ha/gate-hooks.js';
import { finish, type GateOptions, type GateOutcome } from './common.js';

export async function runDownloadGate(o: GateOptions): Promise<GateOutcome> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  const now = o.clock.now();
  const policy = setup.config.download;
  const w = policy.maintenance_window;
  const presence = await sensePresence(setup.config.sensors.home_assistant, setup.stateDir, now);
  const verdict = decideDownload({
    ...(presence ? { presence: presence.facts } : {}),
    now,
    policy,
    staleness: setup.config.staleness,
    readings: readReadings(o.readingsFile ?? readingsPath(setup.stateDir)),
    wall_clock: w ? wallClock(now, windowZone(w.timezone, setup.config.timezone)) : null,
  });
  const out = finish('Download_Enter', verdict, now, setup.stateDir, o);
  if (o.record) {
    presence?.save();
    await showDecision(setup, out, o.log);
  }
  return out;
}
