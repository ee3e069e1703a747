// The VPN step rules every runtime shares (core/vpn-steps.ts): the vancore-vpn module refuses a step
// with `stepAllowed`, the bridge plans the next one with `nextStep` / `expectedState`, the simulator's
// virtual vans answer with both. Tables, no mocks.
import { describe, expect, it } from 'vitest';
import { VpnStates, VpnSteps } from '../../../core/schemas/inventory.js';
import type { VpnStep } from '../../../core/schemas/payload-index.js';
import type { VpnStateName, VpnStepName } from '../../../core/vpn-state.js';
import {
  expectedState,
  nextStep,
  stateAfter,
  stepAllowed,
  type VpnPosition,
  vpnStepOf,
} from '../../../core/vpn-steps.js';

const at = (state: VpnStateName, step: VpnStepName): VpnPosition => ({ state, step });

describe('stepAllowed', () => {
  it.each<[VpnStep, VpnPosition, string | null]>([
    ['add', at('tailscale', 'none'), null],
    ['verify', at('tailscale', 'none'), 'step verify needs step add first (the van is at none, tailscale)'],
    ['retire', at('tailscale', 'none'), 'step retire needs step cutover first (the van is at none, tailscale)'],
    ['verify', at('dual', 'add'), null],
    ['add', at('dual', 'add'), null],
    ['cutover', at('dual', 'add'), 'step cutover needs step verify first (the van is at add, dual)'],
    ['cutover', at('dual', 'verify'), null],
    ['add', at('dual', 'verify'), 'step add is behind the van (at verify, dual)'],
    ['cutover', at('reverted', 'verify'), null],
    ['verify', at('reverted', 'verify'), null],
    ['add', at('reverted', 'verify'), null],
    ['add', at('reverted', 'cutover'), 'step add is behind the van (at cutover, reverted)'],
    ['add', at('reverted', 'none'), null],
    ['add', at('headscale', 'cutover'), 'step add is behind the van (at cutover, headscale)'],
    ['cutover', at('headscale', 'cutover'), null],
    ['retire', at('headscale', 'cutover'), null],
    ['retire', at('retired', 'retire'), 'the migration is finished (SaaS retired)'],
    ['add', at('retired', 'retire'), 'the migration is finished (SaaS retired)'],
  ])('%s from %o', (step, current, refusal) => {
    expect(stepAllowed(step, current)).toBe(refusal);
  });
});

describe('stateAfter / expectedState / nextStep', () => {
  it.each<[VpnStepName, VpnStateName, VpnStep | undefined]>([
    ['none', 'tailscale', 'add'],
    ['add', 'dual', 'verify'],
    ['verify', 'dual', 'cutover'],
    ['cutover', 'headscale', 'retire'],
    ['retire', 'retired', undefined],
  ])('%s leaves %s, then %s', (step, state, next) => {
    expect(expectedState(step)).toBe(state);
    expect(nextStep(step)).toBe(next);
    if (step !== 'none') expect(stateAfter(step)).toEqual({ state, step });
  });

  it('reads a step from untrusted inventory text', () => {
    expect(vpnStepOf('cutover')).toBe('cutover');
    for (const bad of [null, undefined, '', 'CUTOVER', 'cutover ', 'unknown']) expect(vpnStepOf(bad)).toBeUndefined();
  });
});

describe('the rules agree with each other', () => {
  // What the bridge deploys next (nextStep from a verified position) is what a van accepts, and a
  // committed step may be repeated: the two runtimes cannot drift apart.
  it.each(VpnSteps.map((s) => [s] as const))('from a van verified at %s', (step) => {
    const next = nextStep(step);
    const here = at(expectedState(step), step);
    if (next !== undefined) expect(stepAllowed(next, here)).toBeNull();
    if (step !== 'none' && step !== 'retire') expect(stepAllowed(step, here)).toBeNull();
  });

  it('a reverted van accepts its own step again and the step the deadman undid', () => {
    for (const step of VpnSteps) {
      const next = nextStep(step);
      if (step !== 'none') expect(stepAllowed(step, at('reverted', step))).toBeNull();
      if (next !== undefined) expect(stepAllowed(next, at('reverted', step))).toBeNull();
    }
  });

  it('no step is accepted once SaaS is retired, whatever the step says', () => {
    for (const step of VpnSteps)
      for (const s of VpnSteps.filter((x): x is VpnStep => x !== 'none'))
        expect(stepAllowed(s, at('retired', step))).not.toBeNull();
    expect(VpnStates).toContain('retired');
  });
});
