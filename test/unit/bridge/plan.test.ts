import { describe, expect, it } from 'vitest';
import {
  type KnownArtifact,
  chooseTarget,
  installOrder,
  knownArtifact,
  type PlanFacts,
  planForVan,
  planForVanRollout,
  planUpdate,
  strictest,
} from '../../../bridge/plan.js';
import { Constraints } from '../../../core/schemas/artifact-meta.js';

const base = Constraints.parse({});
const art = (
  component: string,
  version: string,
  requires: Record<string, string> = {},
  over: Partial<KnownArtifact> = {},
): KnownArtifact => ({
  id: `${component}-${version}`,
  name: `vancore-${component}-${version}`,
  component,
  version,
  payloadType: 'vancore-compose',
  deviceTypes: ['vanpc'],
  requires,
  constraints: base,
  ...over,
});

describe('update plan', () => {
  it('targets the newest version of each component', () => {
    const t = chooseTarget([
      art('platform', '0.9.2'),
      art('platform', '0.10.0'),
      art('platform', '0.9.10'),
      art('app', '1.4.0'),
    ]);
    expect(Object.fromEntries([...t].map(([c, a]) => [c, a.version]))).toEqual({ platform: '0.10.0', app: '1.4.0' });
  });

  it('steps a component back until its requires are met by the rest of the target', () => {
    const t = chooseTarget([
      art('platform', '0.9.2'),
      art('app', '1.5.0', { platform: '>=1.0.0' }),
      art('app', '1.4.0', { platform: '>=0.9.0' }),
    ]);
    expect(t.get('app')?.version).toBe('1.4.0');
    expect(chooseTarget([art('app', '1.5.0', { platform: '>=1.0.0' })]).size).toBe(0);
  });

  it('installs dependencies first', () => {
    const order = installOrder([
      art('app', '1.5.0', { platform: '>=0.9.3' }),
      art('ha_addons', '2.0.0', { app: '>=1.5.0' }),
      art('platform', '0.9.3'),
    ]);
    expect(order.map((a) => a.component)).toEqual(['platform', 'app', 'ha_addons']);
  });

  it.each([
    ['nothing installed: everything', {}, ['platform', 'app'], true],
    ['old platform only', { platform: '0.9.2', app: '1.5.0' }, ['platform'], true],
    ['up to date', { platform: '0.9.3', app: '1.5.0' }, [], false],
    ['newer than the target is left alone', { platform: '1.0.0', app: '1.5.0' }, [], false],
  ])('%s', (_n, components, steps, required) => {
    const p = planForVan({ deviceType: 'vanpc', components }, [
      art('platform', '0.9.3'),
      art('app', '1.5.0', { platform: '>=0.9.3' }),
      art('platform', '0.9.2'),
    ]);
    expect(p.steps.map((s) => s.component)).toEqual(steps);
    expect(p.update_required).toBe(required);
    expect(p.target?.components).toEqual({ app: '1.5.0', platform: '0.9.3' });
  });

  it('ignores artifacts for other device types, and has no target without any', () => {
    const p = planForVan({ deviceType: 'truck', components: {} }, [art('platform', '0.9.3')]);
    expect(p).toMatchObject({ update_required: false, target: null, steps: [] });
  });

  it('combines constraints to the strictest', () => {
    const c = strictest([
      { ...base, stationary_minutes: 2, min_signal_quality: 0.7, min_battery_soc: 20 },
      {
        ...base,
        stationary_minutes: 5,
        min_battery_soc: 40,
        shore_power_overrides_battery: false,
        maintenance_window: { days: ['sat'], start: '01:00', end: '04:00', timezone: 'local' },
      },
    ]);
    expect(c).toEqual({
      must_be_stationary: true,
      stationary_minutes: 5,
      min_signal_quality: 0.7,
      min_battery_soc: 40,
      shore_power_overrides_battery: false,
      maintenance_window: { days: ['sat'], start: '01:00', end: '04:00', timezone: 'local' },
    });
  });
});

describe('update plan under staged rollouts', () => {
  const van = { deviceType: 'vanpc', components: { platform: '0.9.0', app: '1.3.0' } };
  const known = [art('platform', '1.0.0'), art('platform', '1.1.0'), art('app', '1.4.0', { platform: '^1.0.0' })];

  it('before any rollout: the newest compatible set', () => {
    expect(planForVanRollout(van, known, { kind: 'none' }).target?.components).toEqual({
      platform: '1.1.0',
      app: '1.4.0',
    });
  });

  it('a rollout reached the van: exactly its release, named as such', () => {
    const plan = planForVanRollout(van, known, { kind: 'release', name: 'rel-1', artifactIds: ['platform-1.0.0'] });
    expect(plan).toMatchObject({
      update_required: true,
      target: { release: 'rel-1', components: { platform: '1.0.0' } },
    });
    expect(plan.steps.map((a) => a.name)).toEqual(['vancore-platform-1.0.0']);
  });

  it('rollouts exist but none reached the van yet: nothing to do', () => {
    expect(planForVanRollout(van, known, { kind: 'not-reached' })).toMatchObject({
      update_required: false,
      target: null,
      steps: [],
    });
  });
});

describe('planUpdate: the facts the /plan route loads → the plan', () => {
  const facts = (over: Partial<PlanFacts> = {}): PlanFacts => ({
    van: { deviceType: 'vanpc', components: { platform: '0.9.2', app: '1.4.0' } },
    artifacts: [
      art('platform', '0.9.2'),
      art('platform', '0.9.3'),
      art('app', '1.4.0'),
      art('app', '1.5.0', { platform: '>=0.9.3' }),
    ],
    reaching: { kind: 'none' },
    ...over,
  });
  it.each<[string, Partial<PlanFacts>, { release: string | null; steps: string[] }]>([
    [
      'before any rollout: newest compatible set, dependencies first',
      {},
      {
        release: 'app-1.5.0+platform-0.9.3',
        steps: ['vancore-platform-0.9.3', 'vancore-app-1.5.0'],
      },
    ],
    [
      'up to date: a target, no steps',
      { van: { deviceType: 'vanpc', components: { platform: '0.9.3', app: '1.5.0' } } },
      {
        release: 'app-1.5.0+platform-0.9.3',
        steps: [],
      },
    ],
    [
      'newer than the catalogue: nothing goes back',
      { van: { deviceType: 'vanpc', components: { platform: '1.0.0', app: '2.0.0' } } },
      {
        release: 'app-1.5.0+platform-0.9.3',
        steps: [],
      },
    ],
    [
      'a van without a device type: no target',
      { van: { deviceType: null, components: {} } },
      { release: null, steps: [] },
    ],
    ['another device type: no target', { van: { deviceType: 'rpi4', components: {} } }, { release: null, steps: [] }],
    [
      'a component the van lacks is installed',
      { van: { deviceType: 'vanpc', components: { platform: '0.9.3' } } },
      {
        release: 'app-1.5.0+platform-0.9.3',
        steps: ['vancore-app-1.5.0'],
      },
    ],
    [
      'a rollout reached the van: its release only, by name',
      {
        reaching: { kind: 'release', name: 'spring', artifactIds: ['platform-0.9.3'] },
      },
      { release: 'spring', steps: ['vancore-platform-0.9.3'] },
    ],
    [
      'rollouts exist, none reached the van: nothing',
      { reaching: { kind: 'not-reached' } },
      { release: null, steps: [] },
    ],
    ['no artifacts known: nothing', { artifacts: [] }, { release: null, steps: [] }],
  ])('%s', (_name, over, want) => {
    const plan = planUpdate(facts(over));
    expect({ release: plan.target?.release ?? null, steps: plan.steps.map((s) => s.name) }).toEqual(want);
    expect(plan.update_required).toBe(want.steps.length > 0);
  });
});

describe('knownArtifact: an artifacts row the planner can use, or none', () => {
  const row = {
    id: 'a1',
    name: 'vancore-app-1.5.0',
    component: 'app' as string | null,
    version: '1.5.0' as string | null,
    payload_type: 'vancore-compose' as string | null,
    device_types_json: '["vanpc"]',
    requires_json: '{"platform":">=0.9.3"}',
    constraints_json: '{"min_battery_soc":40}' as string | null,
  };
  it.each([
    ['a VanCore artifact', {}, true],
    ['no component (not VanCore)', { component: null }, false],
    ['no version', { version: null }, false],
    ['an unknown payload type', { payload_type: 'rootfs-image' }, false],
    ['device types that are not JSON', { device_types_json: '[' }, false],
    ['constraints that do not fit: the defaults', { constraints_json: '{"min_battery_soc":"x"}' }, true],
  ])('%s', (_name, over, usable) => {
    const a = knownArtifact({ ...row, ...over });
    expect(a !== undefined).toBe(usable);
  });
  it('reads requires and constraints', () => {
    expect(knownArtifact(row)).toMatchObject({
      component: 'app',
      payloadType: 'vancore-compose',
      deviceTypes: ['vanpc'],
      requires: { platform: '>=0.9.3' },
      constraints: { min_battery_soc: 40 },
    });
    expect(knownArtifact({ ...row, constraints_json: null })?.constraints).toEqual(base);
  });
});
