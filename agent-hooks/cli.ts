// The agent-hooks commands of `vancore-ota`: `health` and `device install|uninstall`, registered by
// cli/root.ts, declared with core/command.ts.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/clock.js';
import { defineCommand, opt, type OptionSpec } from '../core/command.js';
import { hostPaths } from '../core/host-paths.js';
import { VanError } from '../core/errors.js';
import { describeAction, INSTALL_STATE_DIR, requestedFlavour } from './installer/plan.js';
import { deviceInstall, deviceUninstall } from './installer/install.js';
import { nodeRunner } from './lib/runner.js';

export { healthCommand } from './health/command.js';
export { soakCommand } from './soak/command.js';

/**
 * The device kit built next to the CLI bundle (dist/cli.js → dist/device). Found from the script that
 * was started (the bundle may split this module into dist/chunks/), then from this module's own place.
 */
function defaultKit(): string {
  const candidates: string[] = [];
  const entry = process.argv[1];
  if (entry) {
    try {
      candidates.push(join(dirname(realpathSync(entry)), 'device'));
    } catch {
      // started without a script file (e.g. a REPL)
    }
  }
  const here = dirname(fileURLToPath(import.meta.url));
  candidates.push(join(here, 'device'), join(here, '..', 'device'));
  return candidates.find((c) => existsSync(c)) ?? candidates[0] ?? join(here, 'device');
}

const rootOption: OptionSpec = {
  type: 'string',
  value: 'DIR',
  description: "the van's root directory (a mounted image, or a temp tree in tests)",
  default: '/',
};

export const deviceCommand = defineCommand({
  name: 'device',
  summary: 'Install or remove the device hooks',
  subcommands: [
    defineCommand({
      name: 'install',
      summary: 'Install state scripts, update modules and inventory hooks',
      description:
        'Lay out the VanCore hooks on a van for its Mender client: the gate scripts in /etc/mender/scripts\n' +
        '(+ version; the download gate at Download_Enter for mender 3.x, at Sync_Leave for mender-update\n' +
        '>= 5.0.1, whose "not now" is silent only there), the update\n' +
        'modules, the identity and inventory scripts, the health runner, the sensord unit, and the keys of\n' +
        'the mender.conf fragment. Needs Node.js >= 20 on the van. Idempotent: a second run changes nothing.\n' +
        `Every replaced file is backed up and recorded in ${INSTALL_STATE_DIR}, so uninstall restores the van.`,
      options: {
        root: rootOption,
        client: {
          type: 'string',
          value: 'auto|3|5',
          description:
            'the Mender client: 3 = mender 3.x, 5 = mender-update >= 5.0.1 (4.0.x-5.0.0 are refused); auto detects it by --version under --root, else on this host',
          default: 'auto',
        },
        from: { type: 'string', value: 'DIR', description: 'the device kit (default: dist/device next to this CLI)' },
        'verify-key': {
          type: 'string',
          value: 'FILE',
          description: 'public key artifacts are signed with (ArtifactVerifyKey)',
        },
        'allow-unsigned': { type: 'boolean', description: 'no ArtifactVerifyKey (test benches only)' },
        'dry-run': { type: 'boolean', description: 'print the actions without doing them' },
      },
      examples: [
        'vancore-ota device install --verify-key /etc/vancore/artifact-signing.pub',
        'vancore-ota device install --client 5 --verify-key /etc/vancore/artifact-signing.pub',
        'vancore-ota device install --root /mnt/van-image --from dist/device --verify-key ci.pub --dry-run',
      ],
      async run({ values, io }) {
        const root = resolve(opt.string(values, 'root') ?? '/');
        const dryRun = opt.bool(values, 'dry-run');
        const key = opt.string(values, 'verify-key');
        const clientText = opt.string(values, 'client') ?? 'auto';
        const client = requestedFlavour(clientText);
        if (!client) throw new VanError('USAGE', `--client must be auto, 3 or 5, got '${clientText}'`);
        const actions = await deviceInstall({
          client,
          env: { MENDER_CONF_DIR: io.env.MENDER_CONF_DIR, MENDER_DATA_DIR: io.env.MENDER_DATA_DIR },
          paths: hostPaths(root),
          from: resolve(opt.string(values, 'from') ?? defaultKit()),
          verifyKey: key === undefined ? null : resolve(key),
          allowUnsigned: opt.bool(values, 'allow-unsigned'),
          dryRun,
          runner: nodeRunner(io.env),
          now: systemClock.now(),
          say: (l) => io.stderr.write(`${l}\n`),
        });
        for (const a of actions) io.stdout.write(`${dryRun ? 'would ' : ''}${describeAction(a)}\n`);
        io.stdout.write(
          actions.length === 0
            ? `up to date: nothing to change under ${root}\n`
            : `${dryRun ? 'planned' : 'done'}: ${actions.length} actions under ${root}\n`,
        );
      },
    }),
    defineCommand({
      name: 'uninstall',
      summary: 'Remove everything device install put in place',
      description: `Undo device install from its manifest (${INSTALL_STATE_DIR}): restore every file it replaced,\nremove the ones it added and the directories it created (when empty).`,
      options: {
        root: rootOption,
        'dry-run': { type: 'boolean', description: 'print the actions without doing them' },
      },
      async run({ values, io }) {
        const root = resolve(opt.string(values, 'root') ?? '/');
        const dryRun = opt.bool(values, 'dry-run');
        const actions = await deviceUninstall({ paths: hostPaths(root), dryRun });
        for (const a of actions) io.stdout.write(`${dryRun ? 'would ' : ''}${describeAction(a)}\n`);
        io.stdout.write(`${dryRun ? 'planned' : 'done'}: ${actions.length} actions under ${root}\n`);
      },
    }),
  ],
});
