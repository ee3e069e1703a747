// `vancore-ota config check`: validate ota.yaml / bridge.yaml and show the effective values.
import { stringify } from 'yaml';
import { defineCommand, opt } from '../core/command.js';
import { BridgeConfig } from '../core/config/bridge-config.js';
import { DeviceConfig } from '../core/config/device-config.js';
import { loadConfigFile } from '../core/config/load.js';
import { VanError } from '../core/errors.js';
import { redactConfig } from '../core/redact.js';

export const configCommand = defineCommand({
  name: 'config',
  summary: 'Validate configuration files (ota.yaml, bridge.yaml)',
  subcommands: [
    defineCommand({
      name: 'check',
      summary: 'Validate a config file and print the effective configuration',
      description:
        'Validate a device (ota.yaml) or bridge (bridge.yaml) config with the same schema the runtime uses.\n' +
        'Prints the effective configuration, every default filled in, with --print (passwords, tokens and\n' +
        'credentials inside URLs shown as [redacted]).',
      positionals: [{ name: 'file', description: 'the YAML (or JSON) file to check' }],
      options: {
        kind: {
          type: 'string',
          value: 'device|bridge',
          description: 'which schema to check against',
          default: 'device',
        },
        print: { type: 'boolean', description: 'print the effective configuration as YAML' },
      },
      examples: [
        'vancore-ota config check /etc/vancore/ota.yaml --print',
        'vancore-ota config check bridge.yaml --kind bridge',
      ],
      async run({ values, positionals, io }) {
        const kind = opt.string(values, 'kind') ?? 'device';
        if (kind !== 'device' && kind !== 'bridge')
          throw new VanError('USAGE', `--kind must be device or bridge, got '${kind}'`);
        const file = positionals[0] as string;
        const config =
          kind === 'device'
            ? await loadConfigFile(DeviceConfig, file, { missingMeansDefaults: false })
            : await loadConfigFile(BridgeConfig, file, { missingMeansDefaults: false });
        // Secrets never reach a terminal or a support ticket: printed configs are redacted (#16).
        if (opt.bool(values, 'print')) io.stdout.write(stringify(redactConfig(config)));
        else io.stdout.write(`ok: ${file} is a valid ${kind} config\n`);
      },
    }),
  ],
});
