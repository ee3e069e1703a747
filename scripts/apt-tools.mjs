// Shared by the test preflight and the demo preflight: find system tools, and as root install the
// missing ones from Debian (progress on stderr); otherwise fail with one line naming the packages.
import { spawnSync } from 'node:child_process';

export const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function sayer(prefix) {
  return (line) => process.stderr.write(`${prefix}: ${line}\n`);
}

/** Runs a command with its output shown; exits 1 with one line when it fails. */
export function run(say, cmd, args) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) {
    say(`FAILED: '${cmd} ${args.join(' ')}' exited ${r.status ?? r.signal}`);
    process.exit(1);
  }
}

/**
 * `tools`: `{cmd, pkg, why}`. Every missing one is installed (as root) or named with the apt-get line
 * that installs it (otherwise, then exit 1).
 */
export function ensureTools(say, tools) {
  const missing = tools.filter((t) => !has(t.cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (process.getuid?.() !== 0) {
    say(`missing tools: ${missing.map((t) => `${t.cmd} (${t.pkg}: ${t.why})`).join('; ')}`);
    say(`install them as root: apt-get install --no-install-recommends ${pkgs.join(' ')}`);
    process.exit(1);
  }
  say(`installing ${pkgs.join(', ')} from Debian (missing: ${missing.map((t) => t.cmd).join(', ')})`);
  run(say, 'apt-get', ['update', '-q']);
  run(say, 'apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs]);
  const still = tools.filter((t) => !has(t.cmd));
  if (still.length > 0) {
    say(`still missing after install: ${still.map((t) => t.cmd).join(', ')}`);
    process.exit(1);
  }
}
