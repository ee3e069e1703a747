// Bundled as dist/device/vancore-sensord.js: the sampler daemon without the CLI around it (smaller,
// no pino). Same options and environment as `vancore-ota sensord`.
import { parseArgs } from 'node:util';
import { systemClock } from '../../core/clock.js';
import { oneLine } from '../../core/errors.js';
import { loadSetup } from '../env.js';
import { nodeCommandRunner } from '../health.js';
import { lineLog } from '../log.js';
import { runSensord } from '../sensord.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, once: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('Usage: vancore-sensord [--config FILE] [--once]\n');
    return 0;
  }
  // The parsed-config cache keeps the YAML parser out of a long-lived process's memory (bench/gates.ts).
  const setup = await loadSetup(process.env, values.config ? { configPath: values.config } : {});
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await runSensord(
    {
      setup,
      clock: systemClock,
      log: lineLog('vancore-sensord', setup.config.log_level),
      runner: nodeCommandRunner,
      procDir: setup.paths.resolve('/proc'),
    },
    { once: values.once === true, signal: controller.signal },
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`vancore-sensord: ${oneLine(e)}\n`);
    process.exitCode = 1;
  },
);
