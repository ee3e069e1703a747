// vancore-ota: one binary for every role (ARCHITECTURE.md "CLI").
import pkg from '../package.json' with { type: 'json' };
import { type CommandSpec, type Io, runCommand } from './command.js';
import { artifactCommand } from '../mender-artifacts/cli.js';
import { bridgeCommand, reportCommand, rolloutCommand } from '../bridge/cli.js';
import { vpnMigrationCommand } from '../bridge/vpn/cli.js';
import { configCommand } from './config-command.js';
import { demoCommand } from './demo/command.js';
import { deviceCommand, healthCommand } from '../agent-hooks/cli.js';
import { gateCommand, sensordCommand } from '../state-scripts/cli.js';
import { menderSimCommand } from '../mender-sim/cli.js';

export function rootCommand(): CommandSpec {
  return {
    name: 'vancore-ota',
    summary: 'VanCore OTA: gates, agent hooks, artifact packaging and the fleet bridge around self-hosted Mender.',
    description:
      'VanCore OTA: the glue between a self-hosted Mender server and the VanCore camper-van fleet.\n' +
      'Devices run the gates and hooks; CI packages artifacts; ops and support use the bridge.',
    subcommands: [
      menderSimCommand,
      bridgeCommand,
      artifactCommand,
      gateCommand,
      sensordCommand,
      healthCommand,
      deviceCommand,
      rolloutCommand,
      vpnMigrationCommand,
      reportCommand,
      demoCommand,
      configCommand,
    ],
  };
}

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
