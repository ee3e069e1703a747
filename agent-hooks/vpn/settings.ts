// vpn.yaml: how this van runs its two tailscaled instances and what the migration probes. One schema,
// every default here; a missing file means these defaults. Read once by the vancore-vpn main from
// `$VANCORE_VPN_CONFIG` (a host path) or `/etc/vancore/vpn.yaml` under the root.
import * as z from 'zod/mini';
import { loadConfigFile } from '../../core/config/load.js';
import type { DeviceContext } from '../lib/device.js';

export const DEFAULT_VPN_CONFIG_PATH = '/etc/vancore/vpn.yaml';

const Seconds = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const Argv = z.array(z.string().check(z.minLength(1))).check(z.minLength(1));

/**
 * One tailscaled instance. Paths are device paths (resolved under the root); `start`/`stop` are the
 * commands that start and stop its daemon (systemd units on a van; the stand-in in tests).
 */
const Instance = (d: { socket: string; state_dir: string; iface: string; unit: string }) =>
  z.prefault(
    z.strictObject({
      socket: z._default(z.string(), d.socket),
      state_dir: z._default(z.string(), d.state_dir),
      interface: z._default(z.string(), d.iface),
      // enable/disable with --now, so what a step leaves running is also what runs after a reboot
      // (a cut-over van boots onto Headscale, not back onto the SaaS instance it stopped).
      start: z._default(Argv, ['systemctl', 'enable', '--now', d.unit]),
      stop: z._default(Argv, ['systemctl', 'disable', '--now', d.unit]),
    }),
    {},
  );

export const VpnSettings = z.strictObject({
  /** The tailscale CLI (a host path: it runs on the van, not under the root). */
  tailscale: z._default(z.string(), '/usr/bin/tailscale'),
  /** The Tailscale SaaS instance that runs today (Debian's tailscaled.service defaults). */
  saas: Instance({
    socket: '/run/tailscale/tailscaled.sock',
    state_dir: '/var/lib/tailscale',
    iface: 'tailscale0',
    unit: 'tailscaled.service',
  }),
  /** The second instance that joins Headscale (deploy: tailscaled-headscale.service, docs/vpn-migration.md). */
  headscale: Instance({
    socket: '/run/tailscale-headscale/tailscaled.sock',
    state_dir: '/var/lib/tailscale-headscale',
    iface: 'tailscale-hs',
    unit: 'tailscaled-headscale.service',
  }),
  /** `--hostname` for the Headscale node; default: the van id. */
  hostname: z._default(z.nullable(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/))), null),
  /** PEM CA bundle trusted for the Headscale control URL (besides the system CAs). A device path. */
  ca_file: z._default(z.nullable(z.string()), null),
  /** Support access over Headscale: a command that exits 0 when support can reach the van. Required from `verify` on. */
  support_probe: z._default(
    z.nullable(z.strictObject({ command: Argv, timeout_seconds: z._default(Seconds(1, 300), 15) })),
    null,
  ),
  /** After a step's effect, how long the probes may take to pass a first time (a node needs a moment to come online). */
  settle_seconds: z._default(Seconds(0, 3600), 120),
  /** Probes must hold through this window after a step before it may commit. */
  validation_window_seconds: z._default(Seconds(0, 3600), 60),
  probe_interval_seconds: z._default(Seconds(1, 600), 10),
  /** Seconds a command or HTTPS probe may take. */
  probe_timeout_seconds: z._default(Seconds(1, 300), 15),
  /** How long after a commit the deadman keeps checking, and how many failed rounds in a row revert. */
  deadman: z.prefault(
    z.strictObject({
      watch_seconds: z._default(Seconds(0, 30 * 86_400), 86_400),
      failures_to_revert: z._default(Seconds(1, 100), 3),
    }),
    {},
  ),
});
export type VpnSettings = z.infer<typeof VpnSettings>;
export type VpnInstance = VpnSettings['saas'];

export async function loadVpnSettings(ctx: DeviceContext, env: { VANCORE_VPN_CONFIG?: string }): Promise<VpnSettings> {
  const path = env.VANCORE_VPN_CONFIG || ctx.paths.resolve(DEFAULT_VPN_CONFIG_PATH);
  return loadConfigFile(VpnSettings, path, { missingMeansDefaults: true });
}

/** The instances' socket and state dir as host paths (vpn.yaml has device paths; tests use a temp root). */
export function resolveInstances(s: VpnSettings, resolve: (devicePath: string) => string): VpnSettings {
  const r = (i: VpnInstance): VpnInstance => ({ ...i, socket: resolve(i.socket), state_dir: resolve(i.state_dir) });
  return { ...s, saas: r(s.saas), headscale: r(s.headscale) };
}
