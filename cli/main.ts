// vancore-ota: one binary for every role (ARCHITECTURE.md "CLI").
import pkg from '../package.json' with { type: 'json' };
import type { Io } from '../core/command.js';
import { runCommand } from './command.js';
import { rootCommand } from './root.js';

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await runCommand(rootCommand(), argv, io, controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

const io: Io = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stdout.isTTY === true,
};
process.exitCode = await main(process.argv.slice(2), io);
