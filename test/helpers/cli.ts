// Runs the built CLI (dist/cli.js, built by `npm test` before vitest) as a real process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { captureOutput } from './output-capture.js';

export const repoRoot = join(import.meta.dirname, '../..');
export const cliPath = join(repoRoot, 'dist/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): CliResult {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' (npm test does)`);
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    cwd: opts.cwd ?? repoRoot,
    timeout: 30_000,
  });
  captureOutput(`vancore-ota ${args.join(' ')}`, r.stdout, r.stderr);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
