// The gates' CLI commands, registered by cli/root.ts: `vancore-ota gate check <State>` and
// `vancore-ota sensord`, declared with core/command.ts.
import { systemClock } from '../core/clock.js';
import { defineCommand, opt, type OptionSpec } from '../core/command.js';
import { VanError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { GatePhases, type GatePhase } from '../core/schemas/common.js';
import { loadSetup } from './env.js';
import type { GateMain } from './gate/script.js';
import { runCommitGate } from './gate/commit.js';
import { runDownloadGate } from './gate/download.js';
import { runInstallGate } from './gate/install.js';
import { nodeCommandRunner } from './health.js';
import { lineLog } from './log.js';
import { explain } from './policy/explain.js';
import { runSensord } from './sensord.js';

const CONFIG_OPTION: OptionSpec = {
  type: 'string',
  value: 'FILE',
  description: 'ota.yaml to use (default: $VANCORE_OTA_CONFIG, else /etc/vancore/ota.yaml; missing = defaults)',
};

const mains: Record<GatePhase, GateMain> = {
  Download_Enter: runDownloadGate,
  Sync_Leave: (o) => runDownloadGate(o, 'Sync_Leave'),
  ArtifactInstall_Enter: runInstallGate,
  ArtifactCommit_Enter: runCommitGate,
};

export const gateCommand = defineCommand({
  name: 'gate',
  summary: 'Run a gate decision as Mender would',
  subcommands: [
    defineCommand({
      name: 'check',
      summary: 'Decide a state (Download_Enter, …) and explain',
      description:
        'Decide a Mender state the way the bundled state script does, from the same inputs (config, readings,\n' +
        "the in-flight artifact), and explain it. Exits with the script's code: 0 proceed, 1 fail / not now,\n" +
        '21 retry later. It does not write the decision journal. ArtifactCommit_Enter runs the validation\n' +
        'window (progress on stderr). Environment: VANCORE_OTA_CONFIG, VANCORE_OTA_STATE_DIR,\n' +
        'VANCORE_MENDER_DATA_DIR, VANCORE_OTA_ROOT (docs/gates.md).',
      positionals: [{ name: 'State', description: GatePhases.join(' | ') }],
      options: {
        config: CONFIG_OPTION,
        'meta-data': {
          type: 'string',
          value: 'FILE',
          description: 'artifact meta-data JSON (default: the in-flight artifact in the Mender data dir)',
        },
        readings: { type: 'string', value: 'FILE', description: 'readings file (default: <state_dir>/readings.json)' },
        'window-seconds': {
          type: 'string',
          value: 'N',
          description: "ArtifactCommit_Enter: validate for N seconds instead of the artifact's window",
        },
        json: { type: 'boolean', description: 'print the decision record as JSON' },
      },
      examples: [
        'vancore-ota gate check Download_Enter',
        'vancore-ota gate check ArtifactInstall_Enter --meta-data meta.json --readings readings.json --json',
        'vancore-ota gate check ArtifactCommit_Enter --meta-data meta.json --window-seconds 30',
      ],
      async run({ values, positionals, io, signal }) {
        const phase = positionals[0] ?? '';
        if (!(GatePhases as readonly string[]).includes(phase)) {
          throw new VanError('USAGE', `<State> must be one of ${GatePhases.join(', ')}, got '${phase}'`);
        }
        const metaData = opt.string(values, 'meta-data');
        if (metaData && (phase === 'Download_Enter' || phase === 'Sync_Leave')) {
          throw new VanError('USAGE', '--meta-data applies to ArtifactInstall_Enter and ArtifactCommit_Enter');
        }
        const ws = opt.string(values, 'window-seconds');
        if (ws !== undefined && (!/^\d+$/.test(ws) || Number(ws) > 86_400)) {
          throw new VanError('USAGE', `--window-seconds must be a whole number from 0 to 86400, got '${ws}'`);
        }
        const json = opt.bool(values, 'json');
        const config = opt.string(values, 'config');
        const readings = opt.string(values, 'readings');
        const out = await mains[phase as GatePhase]({
          env: io.env,
          clock: systemClock,
          log: lineLog('vancore-ota', 'warn', (l) => io.stderr.write(l)),
          record: false,
          configCache: false,
          ...(config ? { configPath: config } : {}),
          ...(readings ? { readingsFile: readings } : {}),
          ...(metaData ? { metaDataFile: metaData } : {}),
          ...(ws !== undefined ? { windowSeconds: Number(ws) } : {}),
          progress: (line) => io.stderr.write(`${line}\n`),
          signal,
        });
        io.stdout.write(
          json
            ? `${JSON.stringify(out.decision, null, 2)}\n`
            : explain(out.decision, out.verdict.checks, systemClock.now()),
        );
        return out.exitCode;
      },
    }),
  ],
});

export const sensordCommand = defineCommand({
  name: 'sensord',
  summary: 'Sample motion, signal and power into readings.json',
  description:
    'Sample the configured sensors (IMU, gpsd, Home Assistant, a motion file; ModemManager, Wi-Fi and link\n' +
    'probes; power_supply and Home Assistant power) and keep <state_dir>/readings.json up to date for the\n' +
    'gates. Wakes the Mender client when a deferred download may now go ahead (mender.check_update).\n' +
    'Stops cleanly on SIGTERM / SIGINT.',
  options: {
    config: CONFIG_OPTION,
    once: { type: 'boolean', description: 'sample once, write readings.json and exit' },
  },
  examples: ['vancore-ota sensord', 'vancore-ota sensord --once --config ./ota.yaml'],
  async run({ values, io, signal }) {
    const config = opt.string(values, 'config');
    const setup = await loadSetup(io.env, { ...(config ? { configPath: config } : {}), cache: false });
    const log = createLogger({ name: 'vancore-sensord', level: setup.config.log_level });
    await runSensord(
      { setup, clock: systemClock, log, runner: nodeCommandRunner, procDir: setup.paths.resolve('/proc') },
      { once: opt.bool(values, 'once'), signal },
    );
    return 0;
  },
});
