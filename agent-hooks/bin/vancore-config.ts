// /usr/share/mender/modules/v3/vancore-config — bundled into one CommonJS file (scripts/build.mjs).
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { configHandlers } from '../config/module.js';
import { loadDeviceContext } from '../lib/device.js';
import { holdFromEnv } from '../lib/hold.js';
import { nodeRunner } from '../lib/runner.js';
import { runUpdateModule } from '../module/protocol.js';

const env = process.env;
void runUpdateModule('vancore-config', process.argv.slice(2), process, async () => {
  const ctx = await loadDeviceContext(env);
  const log = createLogger({ name: 'vancore-config', level: ctx.config.log_level });
  const hold = holdFromEnv(env);
  return {
    log,
    handlers: configHandlers({ ctx, runner: nodeRunner(env), clock: systemClock, log, ...(hold ? { hold } : {}) }),
  };
}).then((code) => {
  process.exitCode = code;
});
