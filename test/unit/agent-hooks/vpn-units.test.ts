// The systemd units shipped for the VPN migration must agree with the module's own defaults: a
// mismatch (another socket, state dir or interface) would start a third tailscaled, or a deadman that
// runs nothing, and neither would show until a van is stranded.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUT, desiredFiles } from '../../../agent-hooks/installer/plan.js';
import { VpnSettings } from '../../../agent-hooks/vpn/settings.js';

const unitDir = join(import.meta.dirname, '../../../deploy/device/systemd');
const unit = async (name: string) => readFile(join(unitDir, name), 'utf8');

/** `Key=value` lines of one `[Section]` of a unit file (the last one wins, like systemd for scalars). */
function section(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) current = head[1]!;
    else if (current === name) {
      const eq = line.indexOf('=');
      expect(eq, `a [${name}] line without "=": ${line}`).toBeGreaterThan(0);
      out[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return out;
}

const flag = (argv: string, name: string) => new RegExp(`--${name}=(\\S+)`).exec(argv)?.[1];

describe('shipped VPN migration units', () => {
  const defaults = VpnSettings.parse({});

  it('tailscaled-headscale.service runs the instance vpn.yaml expects by default', async () => {
    const text = await unit('tailscaled-headscale.service');
    const exec = section(text, 'Service').ExecStart!;
    expect(flag(exec, 'socket')).toBe(defaults.headscale.socket);
    expect(flag(exec, 'state')).toBe(`${defaults.headscale.state_dir}/tailscaled.state`);
    expect(flag(exec, 'tun')).toBe(defaults.headscale.interface);
    // Not the SaaS instance's port (41641), so both can run at once.
    expect(flag(exec, 'port')).not.toBe('41641');
    expect(defaults.headscale.start).toEqual(['systemctl', 'enable', '--now', 'tailscaled-headscale.service']);
    expect(section(text, 'Install').WantedBy).toBe('multi-user.target');
  });

  it('the deadman timer starts a one-shot round of the installed module', async () => {
    const service = section(await unit('vancore-vpn-deadman.service'), 'Service');
    expect(service.Type).toBe('oneshot');
    expect(service.ExecStart).toBe(`${LAYOUT.modules!.dest}/vancore-vpn deadman`);
    const timer = section(await unit('vancore-vpn-deadman.timer'), 'Timer');
    expect(timer.OnUnitActiveSec).toBe('1min');
    expect(timer.OnBootSec).toBeDefined();
  });

  it('the installer puts every unit of the kit in /etc/systemd/system', () => {
    const kit = ['tailscaled-headscale.service', 'vancore-vpn-deadman.service', 'vancore-vpn-deadman.timer'].map(
      (u) => ({ rel: `systemd/${u}`, content: Buffer.from('[Unit]\n') }),
    );
    expect(desiredFiles(kit, null).map((f) => [f.dest, f.mode.toString(8)])).toEqual(
      expect.arrayContaining([
        ['/etc/systemd/system/tailscaled-headscale.service', '644'],
        ['/etc/systemd/system/vancore-vpn-deadman.service', '644'],
        ['/etc/systemd/system/vancore-vpn-deadman.timer', '644'],
      ]),
    );
  });
});
