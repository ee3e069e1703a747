// The virtual van whose install gate's energy budget refuses the update (issue #20 item 3): the same
// sequence the real 3.4 daemon gave in test/system/gates-energy-budget.test.ts when the battery stayed
// short past the wait budget — `installing`, then `failure` with the log, nothing installed — and an
// inventory that says why (`wait_budget_exhausted,energy_budget`, off shore power).
import { describe, expect, it } from 'vitest';
import { inventoryAttributes, makeProfile } from '../../../mender-sim/fleet/inventory.js';
import {
  advance,
  initialState,
  type Action,
  type ArtifactFacts,
  type DeviceState,
  type StepInput,
  type Timing,
} from '../../../mender-sim/fleet/machine.js';
import { assignBehaviours, type Behaviour } from '../../../mender-sim/fleet/scenario.js';

const T: Timing = {
  pollIntervalMs: 1_000,
  inventoryIntervalMs: 60_000,
  retryIntervalMs: 500,
  stepDelayMs: 0,
  reauthBeforeCommit: true,
  statusAttempts: 3,
};
const BASE = { artifactName: 'vancore-factory-0.9.0', versions: { platform: '0.9.0', app: '1.3.0' } };
const FACTS: ArtifactFacts = {
  name: 'vancore-app-1.4.0',
  versions: { app: '1.4.0' },
  provides: { artifact_name: 'vancore-app-1.4.0', 'vancore.app.version': '1.4.0' },
};

const label = (a: Action) =>
  a.kind === 'status' ? `status:${a.status}` : a.kind === 'inventory' ? `inventory:${a.method}` : a.kind;

/** An OSS server offering one deployment from the second update check until a final status. */
function server() {
  let delivered = false;
  let checks = 0;
  return (a: Action): StepInput => {
    const reply = (status: number, extra = {}): StepInput => ({ kind: 'reply', status, ...extra });
    switch (a.kind) {
      case 'auth':
      case 'inventory':
        return reply(200);
      case 'next-v2':
        return reply(404);
      case 'next-v1':
        checks += 1;
        return !delivered && checks > 1
          ? reply(200, { deployment: { id: 'dep-1', artifactName: FACTS.name, uri: 'http://s/a.mender' } })
          : reply(204);
      case 'status':
        if (['success', 'failure', 'already-installed'].includes(a.status)) delivered = true;
        return reply(204);
      case 'download':
        return reply(200, { artifact: FACTS });
      case 'log':
        return reply(204);
      case 'wait':
      case 'stop':
        return { kind: 'wake' };
    }
  };
}

function drive(behaviour: Behaviour, requests: number) {
  let s: DeviceState = initialState(behaviour, BASE, 0);
  let now = 0;
  const log: string[] = [];
  const events: string[] = [];
  const answer = server();
  for (let n = 0; n < 1_000 && log.length < requests; n++) {
    const input = s.action.kind === 'wait' ? ({ kind: 'wake' } as const) : answer(s.action);
    if (input.kind === 'reply') log.push(`${label(s.action)}=${input.status}`);
    const step = advance(s, behaviour, input, now, T);
    if (step.event) events.push(step.event);
    s = step.state;
    now = Number.isFinite(step.at) ? Math.max(now, step.at) : now;
  }
  return { log, state: s, events };
}

describe('virtual van: energy budget refused', () => {
  it('installing → failure + log, nothing installed; the gate is blocked at ArtifactInstall_Enter with both codes', () => {
    const r = drive({ outcome: 'energy_refused' }, 12);
    expect(r.log).toEqual([
      'auth=200',
      'inventory:PUT=200',
      'next-v2=404',
      'next-v1=204',
      'next-v2=404',
      'next-v1=200',
      'status:downloading=204',
      'download=200',
      'status:installing=204',
      'status:failure=204',
      'log=204',
      'inventory:PUT=200',
    ]);
    expect(r.events).toEqual(['failure']);
    expect(r.state.artifactName).toBe('vancore-factory-0.9.0');
    expect(r.state.versions).toEqual(BASE.versions);
    expect(r.state.gate).toMatchObject({
      state: 'blocked',
      phase: 'ArtifactInstall_Enter',
      codes: ['wait_budget_exhausted', 'energy_budget'],
    });
    expect(r.state.gate.reason).toMatch(/^wait_budget_exhausted, energy_budget: /);

    const profile = makeProfile({
      seed: 1,
      index: 0,
      count: 1,
      vanIdPrefix: 'van-',
      deviceType: 'vanpc',
      stage: undefined,
    });
    const attrs = Object.fromEntries(inventoryAttributes(profile, r.state).map((a) => [a.name, a.value]));
    expect(attrs).toMatchObject({
      'vancore.gate.state': 'blocked',
      'vancore.gate.phase': 'ArtifactInstall_Enter',
      'vancore.gate.codes': 'wait_budget_exhausted,energy_budget',
      'vancore.health.shore_power': 'false',
      'vancore.health.battery_soc': '22',
    });
  });

  it('scenario `energyRefused` takes its share last, leaving the other slices as they were', () => {
    const scenario = { failure: 0.25, deferral: 0.25 };
    const before = assignBehaviours(8, 7, scenario);
    const after = assignBehaviours(8, 7, { ...scenario, energyRefused: 0.25 });
    expect(after.filter((b) => b.outcome === 'energy_refused')).toHaveLength(2);
    after.forEach((b, i) => {
      if (b.outcome !== 'energy_refused') expect(b).toEqual(before[i]);
      else expect(before[i]).toEqual({ outcome: 'success' });
    });
    expect(assignBehaviours(2, 1, { overrides: { '1': { outcome: 'energy_refused' } } })[1]).toEqual({
      outcome: 'energy_refused',
    });
  });
});
