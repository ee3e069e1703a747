// `vancore-ota mender-sim`: run the Mender server simulator until SIGINT/SIGTERM.
import { defineCommand, opt } from '../core/command.js';
import { VanError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { DEFAULT_PASSWORD, DEFAULT_USER } from './defaults.js';

export const menderSimCommand = defineCommand({
  name: 'mender-sim',
  summary: 'Run the Mender server simulator (and a virtual fleet)',
  description:
    'Run a simulator of the open-source Mender server APIs (useradm, deviceauth, inventory, deployments)\n' +
    'as Mender 4.1 (default) or 3.7 answers them, for tests, the demo and local development. State lives\n' +
    'in memory unless --state is\n' +
    'given. Prints "mender-sim listening on <url> (user <e-mail>)" once ready; stops on SIGINT/SIGTERM.',
  options: {
    mender: {
      type: 'string',
      value: '4.1|3.7',
      description: 'the Mender server line to answer as (docs/simulator.md)',
      default: '4.1',
    },
    host: { type: 'string', value: 'HOST', description: 'address to listen on', default: '127.0.0.1' },
    port: { type: 'string', value: 'N', description: 'port to listen on; 0 picks a free one', default: '0' },
    user: { type: 'string', value: 'EMAIL', description: 'management login e-mail', default: DEFAULT_USER },
    password: {
      type: 'string',
      value: 'PASSWORD',
      description: 'management login password',
      default: DEFAULT_PASSWORD,
    },
    'auto-accept': { type: 'boolean', description: 'accept devices on their first auth request' },
    state: { type: 'string', value: 'FILE', description: 'persist the state to this JSON file (artifacts in FILE.d/)' },
    'error-shape': {
      type: 'string',
      value: 'service|gateway',
      description: 'error bodies of the services, or of the 3.x reference Traefik gateway (3.7 only)',
      default: 'service',
    },
    'public-url': { type: 'string', value: 'URL', description: 'base URL for artifact download links' },
    'virtual-devices': {
      type: 'string',
      value: 'N',
      description: 'also run N virtual devices (docs/virtual-fleet.md)',
      default: '0',
    },
    seed: {
      type: 'string',
      value: 'S',
      description: 'seed of the virtual fleet (identities, health, behaviours)',
      default: '1',
    },
  },
  examples: [
    'vancore-ota mender-sim --port 8080 --auto-accept',
    'vancore-ota mender-sim --mender 3.7 --state /tmp/sim.json --error-shape gateway',
  ],
  async run({ values, io, signal }) {
    const profile = opt.string(values, 'mender') ?? '4.1';
    if (profile !== '4.1' && profile !== '3.7') {
      throw new VanError('USAGE', `--mender must be 4.1 or 3.7, got '${profile}'`);
    }
    const port = opt.int(values, 'port', 0, 65535) ?? 0;
    const shape = opt.string(values, 'error-shape') ?? 'service';
    if (shape !== 'service' && shape !== 'gateway') {
      throw new VanError('USAGE', `--error-shape must be service or gateway, got '${shape}'`);
    }
    if (shape === 'gateway' && profile === '4.1') {
      throw new VanError('USAGE', '--error-shape gateway is the 3.x gateway; use it with --mender 3.7');
    }
    const virtual = opt.int(values, 'virtual-devices', 0, 100_000) ?? 0;
    const seed = opt.string(values, 'seed') ?? '1';
    const publicUrl = opt.string(values, 'public-url');
    if (publicUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(publicUrl)) {
      throw new VanError('USAGE', `--public-url must be an http(s) URL, got '${publicUrl}'`);
    }
    const state = opt.string(values, 'state');
    // Loaded only when the simulator runs: other commands must not pay for fastify at start-up.
    const { startMenderSim } = await import('./index.js');
    const sim = await startMenderSim({
      profile,
      host: opt.string(values, 'host') ?? '127.0.0.1',
      port,
      user: opt.string(values, 'user') ?? DEFAULT_USER,
      password: opt.string(values, 'password') ?? DEFAULT_PASSWORD,
      autoAccept: opt.bool(values, 'auto-accept'),
      errorShape: shape,
      ...(state ? { stateFile: state } : {}),
      ...(publicUrl ? { publicUrl } : {}),
      logger: createLogger({ name: 'mender-sim', level: io.env.LOG_LEVEL ?? 'info' }),
    }).catch((e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new VanError('USAGE', `cannot listen on ${opt.string(values, 'host') ?? '127.0.0.1'}:${port} (${code})`);
      }
      throw e;
    });
    // The first line's format is parsed by callers (tests, the demo): unchanged; the profile goes to the log.
    io.stdout.write(`mender-sim listening on ${sim.url} (user ${sim.user})\n`);
    let fleet: { stop(): Promise<void> } | undefined;
    if (virtual > 0) {
      const { startVirtualFleet } = await import('./fleet/index.js');
      fleet = await startVirtualFleet({ serverUrl: sim.url, count: virtual, seed });
      io.stdout.write(
        `virtual fleet: ${virtual} devices (seed ${seed})${opt.bool(values, 'auto-accept') ? '' : ' — pending until accepted (or use --auto-accept)'}\n`,
      );
    }
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await fleet?.stop();
    await sim.close();
    return 0;
  },
});
