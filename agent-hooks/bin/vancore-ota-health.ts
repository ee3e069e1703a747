// /usr/lib/vancore-ota/bin/vancore-ota-health — `vancore-ota health` as one bundled file for the van
// (the full CLI is not installed there). Same options, same output, same exit codes.
import { parseArgs } from 'node:util';
import { isVanError, oneLine } from '../../core/errors.js';
import { healthCommand } from '../health/command.js';

async function main(): Promise<number> {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        component: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(
        `Usage: vancore-ota-health [--config FILE] [--json] [--component NAME]\n\n${healthCommand.description ?? ''}\n`,
      );
      return 0;
    }
    const code = await healthCommand.run?.({
      values,
      io: { stdout: process.stdout, stderr: process.stderr, env: process.env },
    });
    return code ?? 0;
  } catch (e) {
    process.stderr.write(`vancore-ota-health: ${oneLine(e)}\n`);
    return isVanError(e) ? e.exitCode : 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
