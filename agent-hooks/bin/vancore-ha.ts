// /usr/share/mender/modules/v3/vancore-ha — bundled into one CommonJS file (scripts/build.mjs).
// Home Assistant add-on updates through the Supervisor (docs/home-assistant.md).
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { probeUrl, supervisorFor } from '../ha/access.js';
import { haHandlers } from '../ha/module.js';
import { loadDeviceContext } from '../lib/device.js';
import { holdFromEnv } from '../lib/hold.js';
import { runUpdateModule } from '../module/protocol.js';

const env = process.env;
void runUpdateModule('vancore-ha', process.argv.slice(2), process, async () => {
  const ctx = await loadDeviceContext(env);
  const log = createLogger({ name: 'vancore-ha', level: ctx.config.log_level });
  const hold = holdFromEnv(env);
  const supervisor = await supervisorFor(ctx, env);
  return {
    log,
    handlers: haHandlers({ ctx, supervisor, clock: systemClock, log, probe: probeUrl, ...(hold ? { hold } : {}) }),
  };
}).then((code) => {
  process.exitCode = code;
});
