import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const REQUIRED = ['mender-sim', 'bridge', 'artifact', 'gate', 'sensord', 'rollout', 'report', 'demo'];

describe('vancore-ota CLI', () => {
  it('--help lists every subcommand and exits 0', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    const listed = r.stdout
      .split('\n')
      .filter((l) => /^ {2}\S/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    for (const name of REQUIRED) expect(listed).toContain(name);
  });

  it.each([
    [['gate', '--help'], /Usage: vancore-ota gate <command>/],
    [['gate', 'check', '--help'], /Usage: vancore-ota gate check/],
    [['config', 'check', '--help'], /--kind device\|bridge/],
    [['artifact', '-h'], /build .*\n.*verify/],
  ])('%j prints help', (args, pattern) => {
    const r = runCli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(pattern);
  });

  it.each([
    [['nonsense'], "vancore-ota: unknown command 'nonsense' (see 'vancore-ota --help')"],
    [['--frobnicate'], "vancore-ota: unknown option '--frobnicate' (see 'vancore-ota --help')"],
    [
      ['config', 'check', 'x.yaml', '--bogus'],
      "vancore-ota config check: unknown option '--bogus' (see 'vancore-ota config check --help')",
    ],
    [['config', 'check'], "vancore-ota config check: missing argument <file> (see 'vancore-ota config check --help')"],
    [
      ['config', 'check', 'a', 'b'],
      "vancore-ota config check: unexpected argument 'b' (see 'vancore-ota config check --help')",
    ],
    [
      ['config', 'check', 'a', '--kind'],
      "vancore-ota config check: Option '--kind <value>' argument missing (see 'vancore-ota config check --help')",
    ],
  ])('bad usage %j: one line on stderr, exit 2', (args, line) => {
    const r = runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.stdout).toBe('');
  });

  it.each(REQUIRED)('%s: an unknown flag is one line on stderr and exit 2', (cmd) => {
    const r = runCli([cmd, '--some-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vancore-ota [^\n]*--some-flag[^\n]*\n$/);
  });

  it('--version prints the package version', () => {
    expect(runCli(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  describe('config check', () => {
    it('accepts the shipped examples', () => {
      expect(runCli(['config', 'check', 'deploy/device/ota.yaml'])).toMatchObject({
        code: 0,
        stdout: 'ok: deploy/device/ota.yaml is a valid device config\n',
      });
      expect(runCli(['config', 'check', 'deploy/bridge/bridge.yaml', '--kind', 'bridge']).code).toBe(0);
    });

    it('prints the effective config with every default', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'vc-cli-'));
      await writeFile(join(dir, 'ota.yaml'), 'download:\n  min_battery_soc: 45\n');
      const r = runCli(['config', 'check', join(dir, 'ota.yaml'), '--print']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('min_battery_soc: 45');
      expect(r.stdout).toContain('min_signal_quality: 0.6');
      expect(r.stdout).toContain('state_dir: /var/lib/vancore-ota');
    });

    it('rejects a bad file in one line with exit 1', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'vc-cli-'));
      const file = join(dir, 'ota.yaml');
      await writeFile(file, 'download:\n  min_signal_quality: 60\n');
      const r = runCli(['config', 'check', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `vancore-ota config check: invalid config ${file}: download.min_signal_quality: must be ≤ 1\n`,
      );
    });

    it('rejects an unknown --kind as usage', () => {
      const r = runCli(['config', 'check', 'x', '--kind', 'fridge']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("vancore-ota config check: --kind must be device or bridge, got 'fridge'\n");
    });
  });
});
