// `vancore-ota soak` (and the bundled /usr/lib/vancore-ota/bin/vancore-ota-soak, run by
// vancore-ota-soak.timer): one round of the post-commit soak (runner.ts), then the record as one line or JSON.
import { systemClock } from '../../core/clock.js';
import { defineCommand, opt } from '../../core/command.js';
import { dockerEngine } from '../compose/engine.js';
import { loadDeviceContext } from '../lib/device.js';
import { nodeRunner } from '../lib/runner.js';
import { runSoakPass } from './runner.js';
import type { SoakRecord } from './soak.js';

export function formatSoak(r: SoakRecord | null): string {
  if (!r) return 'soak: nothing to watch (no committed VanCore update yet)\n';
  const head = `soak ${r.state}: ${r.artifact_name} committed ${r.committed_at}`;
  if (r.state === 'watching') return `${head}, watching until ${r.until}\n`;
  if (r.state === 'regressed') return `${head}: ${r.reason ?? 'regressed'}\n`;
  return `${head}\n`;
}

export const soakCommand = defineCommand({
  name: 'soak',
  summary: 'Run one round of the post-commit soak watch',
  description:
    'After each commit the van keeps watching its health for soak.hours (ota.yaml, default 24): the health\n' +
    'checks, container restarts and contact with the Mender server. One round: observe, judge, and record\n' +
    'the verdict in <state_dir>/soak.json, which inventory reports as vancore.soak.*. Exit 0, or 1 when\n' +
    'the soak regressed.',
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      description: 'ota.yaml (default $VANCORE_OTA_CONFIG or /etc/vancore/ota.yaml)',
    },
    json: { type: 'boolean', description: 'print the soak record as JSON' },
  },
  examples: ['vancore-ota soak', 'vancore-ota soak --json'],
  async run({ values, io }) {
    const ctx = await loadDeviceContext(io.env, opt.string(values, 'config'));
    const runner = nodeRunner(io.env);
    const r = await runSoakPass({
      ctx,
      engine: dockerEngine(runner, io.env),
      runner,
      clock: systemClock,
      env: io.env,
      warn: (line) => io.stderr.write(`vancore-ota soak: ${line}\n`),
    });
    io.stdout.write(opt.bool(values, 'json') ? `${JSON.stringify(r, null, 2)}\n` : formatSoak(r));
    return r?.state === 'regressed' ? 1 : 0;
  },
});
