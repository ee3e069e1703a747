// Download_Enter: sense (config, readings, local time) → decideDownload → journal → exit code.
import { decideDownload } from '../policy/download.js';
import { loadSetup } from '../env.js';
import { wallClock, windowZone } from '../local-time.js';
import { readReadings, readingsPath } from '../readings-file.js';
import { finish, type GateOptions, type GateOutcome } from './common.js';

export async function runDownloadGate(o: GateOptions): Promise<GateOutcome> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  const now = o.clock.now();
  const policy = setup.config.download;
  const w = policy.maintenance_window;
  const verdict = decideDownload({
    now,
    policy,
    staleness: setup.config.staleness,
    readings: readReadings(o.readingsFile ?? readingsPath(setup.stateDir)),
    wall_clock: w ? wallClock(now, windowZone(w.timezone, setup.config.timezone)) : null,
  });
  return finish('Download_Enter', verdict, now, setup.stateDir, o);
}
