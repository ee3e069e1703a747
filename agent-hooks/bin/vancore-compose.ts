// /usr/share/mender/modules/v3/vancore-compose — bundled into one CommonJS file (scripts/build.mjs):
// an extension-less file outside any package is loaded as CommonJS by Node 20, so no top-level await.
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { composeHandlers } from '../compose/module.js';
import { dockerEngine } from '../compose/engine.js';
import { loadDeviceContext } from '../lib/device.js';
import { holdFromEnv } from '../lib/hold.js';
import { nodeRunner } from '../lib/runner.js';
import { runUpdateModule } from '../module/protocol.js';

const env = process.env;
void runUpdateModule('vancore-compose', process.argv.slice(2), process, async () => {
  const ctx = await loadDeviceContext(env);
  const log = createLogger({ name: 'vancore-compose', level: ctx.config.log_level });
  const runner = nodeRunner(env);
  const hold = holdFromEnv(env);
  return {
    log,
    handlers: composeHandlers({
      ctx,
      engine: dockerEngine(runner, env),
      runner,
      clock: systemClock,
      log,
      env,
      ...(hold ? { hold } : {}),
    }),
  };
}).then((code) => {
  process.exitCode = code;
});
