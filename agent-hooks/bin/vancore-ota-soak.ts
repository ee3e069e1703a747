// /usr/lib/vancore-ota/bin/vancore-ota-soak — `vancore-ota soak` as one bundled file for the van (vancore-ota-soak.timer)
// (the full CLI is not installed there). Same options, same output, same exit codes.
import { parseArgs } from 'node:util';
import { isVanError, oneLine } from '../../core/errors.js';
import { soakCommand } from '../soak/command.js';

async function main(): Promise<number> {
  try {
    // The options are soakCommand's own (core/command.ts): one list for the CLI and this file.
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
      help: { type: 'boolean', short: 'h' },
    };
    for (const [name, o] of Object.entries(soakCommand.options ?? {})) options[name] = { type: o.type };
    const { values } = parseArgs({ args: process.argv.slice(2), options, strict: true });
    if (values.help) {
      process.stdout.write(`Usage: vancore-ota-soak [--config FILE] [--json]\n\n${soakCommand.description ?? ''}\n`);
      return 0;
    }
    const code = await soakCommand.run?.({
      path: 'vancore-ota-soak',
      values,
      positionals: [],
      io: { stdout: process.stdout, stderr: process.stderr, env: process.env, isTTY: process.stdout.isTTY === true },
      signal: new AbortController().signal,
    });
    return code ?? 0;
  } catch (e) {
    process.stderr.write(`vancore-ota-soak: ${oneLine(e)}\n`);
    return isVanError(e) ? e.exitCode : 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
