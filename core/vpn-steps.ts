// The VPN migration's step rules (issue #9), one copy for every runtime (issue #15): the vancore-vpn
// update module refuses a step with them, the bridge plans the next step with them, and the
// simulator's virtual vans answer with them. Pure: no I/O, no clock.
//
// Steps go in order none → add → verify → cutover → retire; a step may be repeated (a new artifact
// after a rollback or a deadman revert); nothing after `retired`; `reverted` counts as the step the
// deadman went back to, so the step it undid may be deployed again.
import * as z from 'zod/mini';
import type { VpnStep } from './schemas/payload-index.js';
import { VpnSteps } from './schemas/inventory.js';
import { VpnStateName, VpnStepName } from './vpn-state.js';

/** Where a van stands: vpn.json's `{state, step}` (and what a rollback or the deadman goes back to). */
export const VpnPosition = z.object({ state: VpnStateName, step: VpnStepName });
export type VpnPosition = z.infer<typeof VpnPosition>;

const AFTER: Record<VpnStepName, Exclude<VpnStateName, 'reverted' | 'unknown'>> = {
  none: 'tailscale',
  add: 'dual',
  verify: 'dual',
  cutover: 'headscale',
  retire: 'retired',
};

/** vpn.json `state` once `step` is in place (`none`: before the migration, SaaS only). */
export function expectedState(step: VpnStepName): VpnStateName {
  return AFTER[step];
}

/** What vpn.json says once a step is in place. */
export function stateAfter(step: VpnStep): VpnPosition {
  return { state: AFTER[step], step };
}

/** The step that follows `at`, or undefined after the last one. */
export function nextStep(at: VpnStepName): VpnStep | undefined {
  const next = VpnSteps[VpnSteps.indexOf(at) + 1];
  return next === undefined || next === 'none' ? undefined : next;
}

/** A step name from untrusted text (an inventory attribute), or undefined. */
export function vpnStepOf(text: string | null | undefined): VpnStepName | undefined {
  const r = VpnStepName.safeParse(text);
  return r.success ? r.data : undefined;
}

/**
 * May this step start from where the van is? null when it may, else why not (one line). A step may
 * be repeated, and `reverted` counts as the step it went back to.
 */
export function stepAllowed(step: VpnStep, current: VpnPosition): string | null {
  const at = VpnSteps.indexOf(current.step);
  const want = VpnSteps.indexOf(step);
  if (current.state === 'retired') return 'the migration is finished (SaaS retired)';
  if (want > at + 1)
    return `step ${step} needs step ${VpnSteps[want - 1] ?? 'none'} first (the van is at ${current.step}, ${current.state})`;
  if (want < at && !(want === at - 1 && current.state === 'reverted')) {
    return `step ${step} is behind the van (at ${current.step}, ${current.state})`;
  }
  return null;
}
