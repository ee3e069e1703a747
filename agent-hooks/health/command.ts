// `vancore-ota health` (and the bundled /usr/lib/vancore-ota/bin/vancore-ota-health): one pass of
// every health check, as text or as the JSON report of core/schemas/health.ts.
import { systemClock } from '../../core/clock.js';
import { defineCommand, opt } from '../../core/command.js';
import { VanError } from '../../core/errors.js';
import { ComponentName } from '../../core/schemas/common.js';
import { dockerEngine } from '../compose/engine.js';
import { loadDeviceContext } from '../lib/device.js';
import { nodeRunner } from '../lib/runner.js';
import { formatHealthReport, runHealthChecks } from './runner.js';

export const healthCommand = defineCommand({
  name: 'health',
  summary: 'Run the device health checks',
  description:
    'Run every health check of the van once: the validation.health_checks of ota.yaml (command exit code,\n' +
    'HTTP status) and, for each installed compose bundle, its containers (running, healthy) and the\n' +
    'probes in its x-vancore settings. Exit 0 when all pass, 1 otherwise. The gates call this during the\n' +
    'validation window; --json prints the report (core/schemas/health.ts).',
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      description: 'ota.yaml (default $VANCORE_OTA_CONFIG or /etc/vancore/ota.yaml)',
    },
    json: { type: 'boolean', description: 'print the report as JSON' },
    component: {
      type: 'string',
      value: 'NAME',
      description: 'only the checks of this compose component (for use as an ota.yaml health check)',
    },
  },
  examples: [
    'vancore-ota health',
    'vancore-ota health --json --config /etc/vancore/ota.yaml',
    'vancore-ota health --component platform',
  ],
  async run({ values, io }) {
    const component = opt.string(values, 'component');
    if (component !== undefined && !ComponentName.safeParse(component).success) {
      throw new VanError('USAGE', `--component must be a component name such as platform, got '${component}'`);
    }
    const ctx = await loadDeviceContext(io.env, opt.string(values, 'config'));
    const runner = nodeRunner(io.env);
    const report = await runHealthChecks({
      ctx,
      engine: dockerEngine(runner, io.env),
      runner,
      clock: systemClock,
      env: io.env,
      ...(component !== undefined ? { component } : {}),
    });
    io.stdout.write(opt.bool(values, 'json') ? `${JSON.stringify(report, null, 2)}\n` : formatHealthReport(report));
    return report.ok ? 0 : 1;
  },
});
