// `<state_dir>/vpn.json`: where the VPN migration stands on this van (issue #9). Written by the
// vancore-vpn update module (and its deadman), read by the inventory script, which only needs
// `{state, step}` (agent-hooks/inventory: `VpnFile`, a non-strict object, so the extra fields here
// are ignored there). Replaced atomically; a reader never throws on content.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { IsoDateTime } from './schemas/common.js';
import { VpnStates, VpnSteps } from './schemas/inventory.js';
import { asPromise, readStateJson, STATE_FILES, writeStateJson } from './state-dir.js';

export const VPN_STATE_FILE = STATE_FILES.vpnState.path;

export const VpnStateName = z.enum(VpnStates);
export type VpnStateName = z.infer<typeof VpnStateName>;
export const VpnStepName = z.enum(VpnSteps);
export type VpnStepName = z.infer<typeof VpnStepName>;

export const VpnStateFile = z.object({
  /** tailscale (SaaS only), dual (both), headscale (primary, SaaS stopped), retired (SaaS gone), reverted (the deadman restored the previous step). */
  state: VpnStateName,
  /** The last step whose configuration is in place (`none` before the migration). */
  step: VpnStepName,
  /** The artifact that brought it there, when a module wrote it. */
  artifact_name: z.optional(z.string().check(z.maxLength(256))),
  /** One line for support when `state` is `reverted`. */
  detail: z.optional(z.string().check(z.maxLength(512))),
  updated_at: IsoDateTime,
});
export type VpnStateFile = z.infer<typeof VpnStateFile>;

/** What a van that never ran a migration step is in: SaaS only. */
export const VPN_STATE_INITIAL = { state: 'tailscale', step: 'none' } as const;

/** The file's content, or null when absent or unusable (the inventory then says `unknown`). */
export function readVpnState(stateDir: string): Promise<VpnStateFile | null> {
  return asPromise(() => {
    const read = readStateJson(join(stateDir, VPN_STATE_FILE), {
      schema: VpnStateFile,
      maxBytes: STATE_FILES.vpnState.maxBytes,
    });
    return read.status === 'ok' ? read.value : null;
  });
}

export function writeVpnState(stateDir: string, value: VpnStateFile): Promise<void> {
  return asPromise(() => {
    writeStateJson(join(stateDir, VPN_STATE_FILE), VpnStateFile.parse(value), { pretty: true });
  });
}
