// The command table of `vancore-ota` (the composition root): every product folder's commands, each
// declared with core/command.ts's defineCommand, under one root. Kept apart from main.ts, which runs
// on import, so tests can walk the tree (test/unit/cli/command-tree.test.ts).
import { type CommandSpec, defineCommand } from '../core/command.js';
import { artifactCommand } from '../mender-artifacts/cli.js';
import { bridgeCommand, reportCommand, rolloutCommand } from '../bridge/cli.js';
import { vpnMigrationCommand } from '../bridge/vpn/cli.js';
import { configCommand } from './config-command.js';
import { demoCommand } from './demo/command.js';
import { deviceCommand, healthCommand, soakCommand } from '../agent-hooks/cli.js';
import { gateCommand, sensordCommand } from '../state-scripts/cli.js';
import { menderSimCommand } from '../mender-sim/cli.js';

export function rootCommand(): CommandSpec {
  return defineCommand({
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
      soakCommand,
      deviceCommand,
      rolloutCommand,
      vpnMigrationCommand,
      reportCommand,
      demoCommand,
      configCommand,
    ],
  });
}
