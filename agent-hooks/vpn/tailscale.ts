// The tailscale CLI behind the CommandRunner: `--socket` picks the instance. Output parsing is pure.
// `status --json` (ipnstate.Status): BackendState and Self.Online are what the probes read;
// `debug prefs` (ipn.Prefs) carries ControlURL. Unknown fields are ignored: the CLI adds fields often.
import * as z from 'zod/mini';
import { VanError } from '../../core/errors.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';
import type { VpnInstance } from './settings.js';

export const TailscaleStatus = z.object({
  BackendState: z.string(),
  Self: z.optional(
    z.nullable(
      z.object({
        HostName: z.optional(z.string()),
        Online: z.optional(z.boolean()),
        TailscaleIPs: z.optional(z.nullable(z.array(z.string()))),
      }),
    ),
  ),
  Health: z.optional(z.nullable(z.array(z.string()))),
});
export type TailscaleStatus = z.infer<typeof TailscaleStatus>;

export const TailscalePrefs = z.object({
  ControlURL: z.string(),
  WantRunning: z.optional(z.boolean()),
  LoggedOut: z.optional(z.boolean()),
});
export type TailscalePrefs = z.infer<typeof TailscalePrefs>;

/** What the probes need of one instance; `running: false` = the daemon does not answer. */
export type InstanceView =
  | { running: false; why: string }
  | { running: true; backend: string; online: boolean; hostName?: string; controlUrl?: string };

function parseJson<T>(text: string, schema: z.ZodMiniType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new VanError('TOOL_FAILED', `${what}: output is not JSON`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new VanError('TOOL_FAILED', `${what}: unexpected output`);
  return r.data;
}

export function parseStatus(text: string): TailscaleStatus {
  return parseJson(text, TailscaleStatus, 'tailscale status --json');
}

export function parsePrefs(text: string): TailscalePrefs {
  return parseJson(text, TailscalePrefs, 'tailscale debug prefs');
}

/** Pure: the instance is joined and reachable from its control server. */
export function isOnline(v: InstanceView): boolean {
  return v.running && v.backend === 'Running' && v.online;
}

/** Control URLs compare without a trailing slash (the CLI keeps what it was given). */
export const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export interface Tailscale {
  view(i: VpnInstance): Promise<InstanceView>;
  /** `up` with the key read by tailscale from a file (`--auth-key=file:PATH`): never in argv or logs. */
  up(
    i: VpnInstance,
    o: { loginServer: string; authKeyFile?: string; hostname: string; acceptDns: boolean },
  ): Promise<void>;
  set(i: VpnInstance, o: { acceptDns: boolean }): Promise<void>;
  logout(i: VpnInstance): Promise<void>;
}

export function tailscaleCli(bin: string, runner: CommandRunner, timeoutMs: number): Tailscale {
  const run = (i: VpnInstance, args: string[]) => runner.run(bin, [`--socket=${i.socket}`, ...args], { timeoutMs });
  const must = async (i: VpnInstance, args: string[], what: string) => {
    const r = await run(i, args);
    if (r.code !== 0) throw new VanError('TOOL_FAILED', describeResult(what, r));
  };
  return {
    async view(i) {
      const s = await run(i, ['status', '--json']);
      if (s.code !== 0) return { running: false, why: describeResult('tailscale status', s) };
      const status = parseStatus(s.stdout);
      const p = await run(i, ['debug', 'prefs']);
      const prefs = p.code === 0 ? parsePrefs(p.stdout) : undefined;
      return {
        running: true,
        backend: status.BackendState,
        online: status.Self?.Online === true,
        ...(status.Self?.HostName ? { hostName: status.Self.HostName } : {}),
        ...(prefs ? { controlUrl: prefs.ControlURL } : {}),
      };
    },
    async up(i, o) {
      const args = [
        'up',
        `--login-server=${o.loginServer}`,
        `--hostname=${o.hostname}`,
        `--accept-dns=${String(o.acceptDns)}`,
      ];
      // A node that is already logged in to another control server needs --force-reauth (kb/1241).
      if (o.authKeyFile) args.push(`--auth-key=file:${o.authKeyFile}`, '--force-reauth');
      await must(i, args, 'tailscale up');
    },
    async set(i, o) {
      await must(i, ['set', `--accept-dns=${String(o.acceptDns)}`], 'tailscale set');
    },
    async logout(i) {
      await must(i, ['logout'], 'tailscale logout');
    },
  };
}
