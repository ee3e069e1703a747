// /usr/share/mender/modules/v3/vancore-vpn — bundled into one CommonJS file (scripts/build.mjs).
// Two uses: the update module (`vancore-vpn <State> <tree>`, protocol v3), and the deadman round
// (`vancore-vpn deadman`, run by vancore-vpn-deadman.timer; docs/vpn-migration.md), which exits 0
// unless the round itself could not run.
import { systemClock } from '../../core/clock.js';
import { isVanError, oneLine } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { resolveVanId } from '../identity/identity.js';
import { loadDeviceContext } from '../lib/device.js';
import { holdFromEnv } from '../lib/hold.js';
import { nodeRunner } from '../lib/runner.js';
import { runUpdateModule } from '../module/protocol.js';
import { runDeadman, vpnHandlers, type VpnDeps } from '../vpn/module.js';
import { loadVpnSettings, resolveInstances } from '../vpn/settings.js';

const env = process.env;

async function deps(): Promise<VpnDeps> {
  const ctx = await loadDeviceContext(env);
  const log = createLogger({ name: 'vancore-vpn', level: ctx.config.log_level });
  const settings = resolveInstances(await loadVpnSettings(ctx, env), (p) => ctx.paths.resolve(p));
  const vanId = await resolveVanId(ctx).catch(() => undefined);
  const hold = holdFromEnv(env);
  return {
    ctx,
    settings,
    runner: nodeRunner(env),
    clock: systemClock,
    log,
    ...(vanId ? { vanId } : {}),
    ...(hold ? { hold } : {}),
  };
}

const argv = process.argv.slice(2);
if (argv[0] === 'deadman') {
  deps()
    .then(runDeadman)
    .then(
      (verdict) => {
        process.stdout.write(`${JSON.stringify(verdict)}\n`);
        process.exitCode = 0;
      },
      (e: unknown) => {
        process.stderr.write(
          `vancore-vpn: deadman failed: ${isVanError(e) ? oneLine(e) : `internal error: ${oneLine(e)}`}\n`,
        );
        process.exitCode = 1;
      },
    );
} else {
  void runUpdateModule('vancore-vpn', argv, process, async () => {
    const d = await deps();
    return { log: d.log, handlers: vpnHandlers(d) };
  }).then((code) => {
    process.exitCode = code;
  });
}
