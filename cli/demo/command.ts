// `vancore-ota demo`: the whole story on embedded defaults (docs/demo.md). The spec and flag parsing live
// here; the work (simulator, fleet, packaging, bridge, rollout) loads only when the command runs.
import { defineCommand, opt } from '../../core/command.js';
import { VanError } from '../../core/errors.js';
import { artifactCommand } from '../../mender-artifacts/cli.js';
import { reportCommand } from '../../bridge/cli.js';

export interface DemoOptions {
  durationS: number;
  vans: number;
  seed: string;
  speed: number;
  port: number;
  keep: boolean;
  tty: boolean;
}

/** A day of the rollout clock per 5 s of real time: the whole rollout in about 80 s (docs/demo.md). */
export const DEFAULT_SPEED = 17_280;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'Watch a release reach a virtual fleet safely, on embedded defaults',
  description:
    'Start the Mender simulator with a seeded virtual fleet (and one real mender-client van when possible),\n' +
    'build, sign and upload a two-component release, start the bridge and run a staged rollout on an\n' +
    'accelerated clock with live progress; end with the fleet and attention reports and the API URLs.\n' +
    'Ctrl-C stops everything and removes the temp files (exit 130; SIGTERM 143); a second Ctrl-C forces exit.',
  options: {
    duration: {
      type: 'string',
      value: 'SECONDS',
      description: 'stop after this long even if the rollout is not done',
      default: '120',
    },
    'no-tty': { type: 'boolean', description: 'plain timestamped progress lines instead of a redrawn block' },
    vans: {
      type: 'string',
      value: 'N',
      description: 'virtual vans, 30–5000 (5/60 internal, 10/60 pilot)',
      default: '60',
    },
    seed: { type: 'string', value: 'S', description: 'seed of the fleet script', default: 'vancore-demo' },
    speed: {
      type: 'string',
      value: 'X',
      description: 'rollout clock speed (17280 = a simulated day per 5 s)',
      default: String(DEFAULT_SPEED),
    },
    port: { type: 'string', value: 'N', description: "the bridge API's port (0 = pick a free one)", default: '0' },
    keep: { type: 'boolean', description: 'leave the simulator and bridge running at the end, until Ctrl-C' },
  },
  examples: ['npm run demo', 'vancore-ota demo --duration 120 --no-tty', 'vancore-ota demo --vans 200 --keep'],
  async run(ctx) {
    const seed = opt.string(ctx.values, 'seed') ?? 'vancore-demo';
    if (!/^[\w.-]{1,64}$/.test(seed)) throw new VanError('USAGE', `--seed must be letters, digits, . _ - (max 64)`);
    const speedText = opt.string(ctx.values, 'speed') ?? String(DEFAULT_SPEED);
    const speed = Number(speedText);
    if (!/^\d+(\.\d+)?$/.test(speedText) || speed < 1 || speed > 1_000_000)
      throw new VanError('USAGE', `--speed must be a number from 1 to 1000000, got '${speedText}'`);
    const options: DemoOptions = {
      durationS: opt.int(ctx.values, 'duration', 5, 86_400) ?? 120,
      vans: opt.int(ctx.values, 'vans', 30, 5_000) ?? 60,
      seed,
      speed,
      port: opt.int(ctx.values, 'port', 0, 65_535) ?? 0,
      keep: opt.bool(ctx.values, 'keep'),
      tty: ctx.io.isTTY && !opt.bool(ctx.values, 'no-tty'),
    };
    const { runDemo } = await import('./run.js');
    // The packaging and report commands are handed over rather than imported by the lazily loaded part:
    // they stay in the CLI's entry chunk, where the artifact command finds the bundled gate scripts.
    return runDemo(ctx, options, { artifactCommand, reportCommand });
  },
});
