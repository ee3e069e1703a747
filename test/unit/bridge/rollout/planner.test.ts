// The rollout planner, table-tested on plain facts: stages in order, wave sizes and order, components in
// dependency order, the failure, health and success gates, soak, retries and exclusion.
import { describe, expect, it } from 'vitest';
import { RolloutSettings as Schema } from '../../../../core/config/bridge-config.js';
import {
  type DeploymentFacts,
  type RolloutFacts,
  type RolloutStep,
  type VanFacts,
  type WaveFacts,
  deploymentName,
  planRollout,
  waveOrder,
} from '../../../../bridge/rollout/planner.js';
import type { ReleaseComponent } from '../../../../bridge/rollout/release.js';
import type { Stage } from '../../../../bridge/store/fleet-store.js';

const T0 = '2026-11-22T00:00:00.000Z';
const H = 3_600_000;
const at = (hours: number) => new Date(Date.parse(T0) + hours * H);
const iso = (hours: number) => at(hours).toISOString();

const platform: ReleaseComponent = {
  component: 'platform',
  version: '1.0.0',
  artifact_id: 'a1',
  artifact_name: 'vancore-platform-1.0.0',
  requires: {},
  deltas: [],
};
const app: ReleaseComponent = {
  component: 'app',
  version: '1.4.0',
  artifact_id: 'a2',
  artifact_name: 'vancore-app-1.4.0',
  requires: { platform: '^1.0.0' },
  deltas: [],
};

function van(i: number, stage: Stage = 'fleet', over: Partial<VanFacts> = {}): VanFacts {
  return {
    deviceId: `d${String(i).padStart(4, '0')}`,
    vanId: `van-${String(i).padStart(5, '0')}`,
    stage,
    hold: false,
    excluded: false,
    tags: {},
    components: { platform: '0.9.0', app: '1.3.0' },
    healthy: true,
    ...over,
  };
}

function fleet(internal: number, pilot: number, rest: number): VanFacts[] {
  let i = 0;
  return [
    ...Array.from({ length: internal }, () => van(i++, 'internal')),
    ...Array.from({ length: pilot }, () => van(i++, 'pilot')),
    ...Array.from({ length: rest }, () => van(i++, 'fleet')),
  ];
}

function facts(over: Partial<RolloutFacts> = {}): RolloutFacts {
  return {
    now: at(0),
    rolloutId: 'r1',
    release: 'rel-1',
    status: 'active',
    settings: Schema.parse({ soak_hours: { internal: 24, pilot: 72 } }),
    components: [platform, app],
    vans: fleet(2, 4, 100),
    waves: [],
    deployments: [],
    acknowledgedWaves: [],
    ...over,
  };
}

function wave(n: number, stage: Stage, ids: string[], over: Partial<WaveFacts> = {}): WaveFacts {
  return {
    wave: n,
    label: stage === 'fleet' ? `fleet-${n}` : stage,
    stage,
    deviceIds: ids,
    openedAt: T0,
    closedAt: null,
    ...over,
  };
}

function dep(
  w: number,
  component: string,
  outcomes: Record<string, string>,
  over: Partial<DeploymentFacts> = {},
): DeploymentFacts {
  return {
    name: deploymentName('rel-1', 'r1', w, component),
    wave: w,
    component,
    deviceIds: Object.keys(outcomes),
    status: 'open',
    createdAt: T0,
    outcomes: Object.fromEntries(
      Object.entries(outcomes).map(([id, status]) => [id, { status, finishedAt: status === 'success' ? T0 : null }]),
    ),
    ...over,
  };
}

const kinds = (steps: RolloutStep[]) => steps.map((s) => s.kind);
function expectOnly(steps: RolloutStep[], kind: RolloutStep['kind'], reason: RegExp): void {
  expect(kinds(steps)).toEqual([kind]);
  expect((steps[0] as { reason: string }).reason).toMatch(reason);
}
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `d${String(from + i).padStart(4, '0')}`);
const all = (list: string[], status: string) => Object.fromEntries(list.map((id) => [id, status]));

describe('planRollout: opening waves', () => {
  it.each([
    ['no waves yet → internal with every internal van', facts(), 'internal', ids(2)],
    [
      'internal closed → pilot',
      facts({ waves: [wave(1, 'internal', ids(2), { closedAt: iso(30) })], now: at(31) }),
      'pilot',
      ids(4, 2),
    ],
    ['no internal vans → pilot first', facts({ vans: fleet(0, 3, 10) }), 'pilot', ids(3)],
  ])('%s', (_name, f, label, expected) => {
    const steps = planRollout(f);
    expect(steps).toEqual([expect.objectContaining({ kind: 'open_wave', label })]);
    expect([...(steps[0] as { deviceIds: string[] }).deviceIds].sort()).toEqual(expected);
  });

  it('fleet waves take ceil(wave_percent × eligible fleet vans), skipping held and excluded vans', () => {
    const vans = fleet(0, 0, 100);
    vans[0]!.hold = true;
    vans[1]!.excluded = true;
    const [s] = planRollout(facts({ vans }));
    expect(s).toMatchObject({ kind: 'open_wave', label: 'fleet-1', stage: 'fleet' });
    const picked = (s as { deviceIds: string[] }).deviceIds;
    expect(picked).toHaveLength(5); // ceil(5 % of 98)
    expect(picked).not.toContain('d0000');
    expect(picked).not.toContain('d0001');
  });

  it('the hashed order is stable per release and differs between releases', () => {
    const vans = fleet(0, 0, 50);
    const a = waveOrder(vans, 'rel-1').map((v) => v.deviceId);
    expect(waveOrder([...vans].reverse(), 'rel-1').map((v) => v.deviceId)).toEqual(a);
    expect(waveOrder(vans, 'rel-2').map((v) => v.deviceId)).not.toEqual(a);
  });

  it('spreads waves evenly across a tag', () => {
    const vans = fleet(0, 0, 100).map((v, i) => ({ ...v, tags: { region: i < 80 ? 'north' : 'south' } }));
    const first10 = waveOrder(vans, 'rel-1', 'region').slice(0, 10);
    expect(first10.filter((v) => v.tags.region === 'south')).toHaveLength(2);
  });

  it('the next fleet wave waits for the wave interval after the previous one opened', () => {
    const w1 = wave(3, 'fleet', ids(5, 6), { openedAt: T0, closedAt: iso(1) });
    const base = {
      waves: [wave(1, 'internal', ids(2), { closedAt: T0 }), wave(2, 'pilot', ids(4, 2), { closedAt: T0 }), w1],
    };
    expect(kinds(planRollout(facts({ ...base, now: at(23) })))).toEqual(['wait']);
    expect(planRollout(facts({ ...base, now: at(24) }))).toEqual([
      expect.objectContaining({ kind: 'open_wave', label: 'fleet-2' }),
    ]);
  });

  it('completes when no eligible van lacks the release', () => {
    const vans = fleet(0, 0, 3).map((v) => ({ ...v, components: { platform: '1.0.0', app: '1.4.0' } }));
    expect(kinds(planRollout(facts({ vans })))).toEqual(['complete']);
  });

  it('a van already on a newer version counts as done (it would refuse the downgrade)', () => {
    const vans = fleet(0, 0, 3).map((v, i) => ({
      ...v,
      components: i === 0 ? { platform: '1.2.0', app: '2.0.0-rc.1' } : { platform: '1.0.0', app: '1.4.0' },
    }));
    expect(kinds(planRollout(facts({ vans })))).toEqual(['complete']);
    // One van behind on app keeps the rollout going.
    const behind = vans.map((v, i) => (i === 1 ? { ...v, components: { platform: '1.0.0', app: '1.3.9' } } : v));
    expect(kinds(planRollout(facts({ vans: behind })))).not.toEqual(['complete']);
  });

  it.each(['paused', 'completed', 'aborted'] as const)('a %s rollout only waits', (status) => {
    expect(kinds(planRollout(facts({ status })))).toEqual(['wait']);
  });
});

describe('planRollout: inside a wave', () => {
  const w = wave(1, 'internal', ids(2));

  it('deploys the dependency first, to the whole wave, with a deterministic name', () => {
    expect(planRollout(facts({ waves: [w] }))).toEqual([
      {
        kind: 'create_deployment',
        name: 'vancore rel-1 r1 w1 platform',
        wave: 1,
        component: 'platform',
        artifactName: 'vancore-platform-1.0.0',
        deviceIds: ids(2),
      },
    ]);
  });

  it('waits while the dependency is deploying, and never deploys a pending intent twice', () => {
    expect(
      kinds(
        planRollout(
          facts({ waves: [w], deployments: [dep(1, 'platform', { d0000: 'downloading', d0001: 'success' })] }),
        ),
      ),
    ).toEqual(['wait']);
    expect(
      kinds(
        planRollout(
          facts({ waves: [w], deployments: [dep(1, 'platform', {}, { status: 'intent', deviceIds: ids(2) })] }),
        ),
      ),
    ).toEqual(['wait']);
  });

  it('the next component goes only to vans that committed the previous one', () => {
    const f = facts({
      waves: [wave(1, 'fleet', ids(4, 6))],
      vans: fleet(2, 4, 10),
      deployments: [dep(1, 'platform', { d0006: 'success', d0007: 'success', d0008: 'success', d0009: 'failure' })],
      settings: Schema.parse({ max_failure_percent: 50, max_failures_per_wave: 5 }),
    });
    expect(planRollout(f)).toEqual([
      expect.objectContaining({ kind: 'create_deployment', component: 'app', deviceIds: ['d0006', 'd0007', 'd0008'] }),
    ]);
  });

  it('skips a component the vans already run (inventory)', () => {
    const vans = fleet(2, 0, 0).map((v) => ({ ...v, components: { platform: '1.0.0', app: '1.3.0' } }));
    expect(planRollout(facts({ vans, waves: [w] }))).toEqual([
      expect.objectContaining({ kind: 'create_deployment', component: 'app', deviceIds: ids(2) }),
    ]);
  });

  it.each([
    ['exactly at the threshold (10 %) is not over it', 20, 2, 'wait', /deploying/],
    [
      'the rate over the threshold',
      15,
      2,
      'pause',
      /wave fleet-1: 2 of 15 finished updates failed \(13\.3 %\): over 10 %$/,
    ],
    ['the rate over the threshold, too few finished yet (< 10)', 5, 1, 'wait', /deploying/],
    ['under the threshold', 40, 2, 'wait', /deploying/],
    [
      'max_failures_per_wave reached, whatever the rate',
      40,
      3,
      'pause',
      /3 of 40 .*: at least 3 failures in one wave$/,
    ],
  ])('failure gate: %s (%i finished, %i failed)', (_n, finished, failures, expected, reason) => {
    const list = ids(finished, 6);
    const outcomes = all(list, 'success');
    for (const id of list.slice(0, failures)) outcomes[id] = 'failure';
    const targets = ids(60, 6);
    const d = dep(1, 'platform', outcomes, { deviceIds: targets });
    const f = facts({ vans: fleet(0, 0, 80), waves: [wave(1, 'fleet', targets)], deployments: [d] });
    const steps = planRollout(f);
    expectOnly(steps, expected as RolloutStep['kind'], reason);
  });

  it('a resumed (acknowledged) wave is not paused again by the same failures', () => {
    const targets = ids(20, 6);
    const outcomes = all(targets, 'success');
    for (const id of targets.slice(0, 5)) outcomes[id] = 'failure';
    const f = facts({
      vans: fleet(0, 0, 30),
      waves: [wave(1, 'fleet', targets)],
      deployments: [dep(1, 'platform', outcomes)],
    });
    expect(kinds(planRollout(f))).toEqual(['pause']);
    expect(kinds(planRollout({ ...f, acknowledgedWaves: [1] }))).toEqual(['create_deployment']);
  });

  it('health regression after the update pauses', () => {
    const targets = ids(10, 6);
    const vans = fleet(0, 0, 20).map((v, i) => ({ ...v, healthy: i > 8 }));
    const f = facts({
      vans,
      waves: [wave(1, 'fleet', targets)],
      deployments: [dep(1, 'platform', all(targets, 'success')), dep(1, 'app', all(targets, 'success'))],
    });
    expectOnly(planRollout(f), 'pause', /health regressed on 3 of 10/);
  });

  it('soaks after the last success, then closes the wave', () => {
    const f = (hours: number) =>
      facts({
        now: at(hours),
        waves: [w],
        deployments: [dep(1, 'platform', all(ids(2), 'success')), dep(1, 'app', all(ids(2), 'success'))],
      });
    expectOnly(planRollout(f(23)), 'wait', /soaking until/);
    expect(planRollout(f(24))).toEqual([expect.objectContaining({ kind: 'close_wave', wave: 1 })]);
  });

  it('pauses when too few vans succeeded once everything settled', () => {
    const targets = ids(10, 6);
    const outcomes = all(targets, 'success');
    outcomes.d0006 = 'noartifact';
    outcomes.d0007 = 'aborted';
    const f = facts({
      vans: fleet(0, 0, 20),
      waves: [wave(1, 'fleet', targets)],
      deployments: [dep(1, 'platform', outcomes), dep(1, 'app', all(ids(8, 8), 'success'))],
    });
    expectOnly(planRollout(f), 'pause', /only 8 of 10 vans succeeded/);
  });

  it('offline stragglers settle a deployment after a wave interval', () => {
    const d = dep(1, 'platform', { d0000: 'success' }, { deviceIds: ids(2) });
    expect(kinds(planRollout(facts({ waves: [w], deployments: [d], now: at(23) })))).toEqual(['wait']);
    expect(planRollout(facts({ waves: [w], deployments: [d], now: at(24) }))).toEqual([
      expect.objectContaining({ kind: 'create_deployment', component: 'app', deviceIds: ['d0000'] }),
    ]);
  });
});

describe('planRollout: retries and exclusion', () => {
  const closed = (n: number, stage: Stage, list: string[]) => wave(n, stage, list, { closedAt: T0 });

  it('a failed van joins the next wave until it failed max_retries + 1 times, then is excluded', () => {
    const settings = Schema.parse({ max_retries_per_van: 1 });
    const base = { vans: fleet(0, 0, 40), settings, now: at(48) };
    const once = facts({
      ...base,
      waves: [closed(1, 'fleet', ids(2))],
      deployments: [dep(1, 'platform', { d0000: 'success', d0001: 'failure' })],
    });
    const [open] = planRollout(once);
    expect(open).toMatchObject({ kind: 'open_wave', label: 'fleet-2' });
    expect((open as { deviceIds: string[] }).deviceIds[0]).toBe('d0001');

    const twice = facts({
      ...base,
      waves: [closed(1, 'fleet', ids(2)), closed(2, 'fleet', ['d0001', 'd0002'])],
      deployments: [
        dep(1, 'platform', { d0000: 'success', d0001: 'failure' }),
        dep(2, 'platform', { d0001: 'failure', d0002: 'success' }),
      ],
    });
    const steps = planRollout(twice);
    expect(steps[0]).toEqual({ kind: 'exclude', deviceIds: ['d0001'], reason: 'failed 2 times in rollout r1' });
    expect((steps[1] as { deviceIds: string[] }).deviceIds).not.toContain('d0001');
  });
});

describe('planRollout: delta or full artifact per van (issue #17)', () => {
  const withDelta: ReleaseComponent = {
    ...platform,
    deltas: [
      { base_version: '0.9.0', artifact_id: 'a1d', artifact_name: 'vancore-platform-1.0.0-delta-from-0.9.0' },
      { base_version: '0.8.0', artifact_id: 'a1e', artifact_name: 'vancore-platform-1.0.0-delta-from-0.8.0' },
    ],
  };
  // Internal wave of 6 vans: 3 on the delta's base 0.9.0, 1 on 0.8.0, 2 on 0.7.0 (no delta from it).
  const vans = [
    van(0, 'internal'),
    van(1, 'internal'),
    van(2, 'internal'),
    van(3, 'internal', { components: { platform: '0.8.0', app: '1.3.0' } }),
    van(4, 'internal', { components: { platform: '0.7.0', app: '1.3.0' } }),
    van(5, 'internal', { components: { platform: '0.7.0', app: '1.3.0' } }),
  ];
  const base = (over: Partial<RolloutFacts> = {}) =>
    facts({ components: [withDelta], vans, waves: [wave(1, 'internal', ids(6))], ...over });
  const deltaName = (b: string) => deploymentName('rel-1', 'r1', 1, 'platform', b);

  it('each delta goes to the vans on its base, then the full artifact to the rest, under names of their own', () => {
    const made: DeploymentFacts[] = [];
    const created: { name: string; artifactName: string; deviceIds: string[] }[] = [];
    for (let i = 0; i < 5; i++) {
      const steps = planRollout(base({ deployments: made }));
      const s = steps[0]!;
      if (s.kind !== 'create_deployment') {
        expectOnly(steps, 'wait', /platform deploying/);
        break;
      }
      created.push({ name: s.name, artifactName: s.artifactName, deviceIds: s.deviceIds });
      made.push({ ...dep(1, 'platform', all(s.deviceIds, 'pending')), name: s.name });
    }
    expect(created).toEqual([
      { name: deltaName('0.9.0'), artifactName: 'vancore-platform-1.0.0-delta-from-0.9.0', deviceIds: ids(3) },
      { name: deltaName('0.8.0'), artifactName: 'vancore-platform-1.0.0-delta-from-0.8.0', deviceIds: ids(1, 3) },
      {
        name: deploymentName('rel-1', 'r1', 1, 'platform'),
        artifactName: 'vancore-platform-1.0.0',
        deviceIds: ids(2, 4),
      },
    ]);
    // The full artifact's deployment keeps the name it had before deltas existed.
    expect(created[2]!.name).toBe('vancore rel-1 r1 w1 platform');
  });

  it('a release without deltas sends everyone the full artifact, as before', () => {
    const steps = planRollout(base({ components: [platform] }));
    expect(steps).toEqual([
      expect.objectContaining({ kind: 'create_deployment', artifactName: 'vancore-platform-1.0.0', deviceIds: ids(6) }),
    ]);
  });

  it('the wave settles only when every variant has, and a delta failure counts against the wave', () => {
    const d1 = { ...dep(1, 'platform', all(ids(3), 'success')), name: deltaName('0.9.0'), status: 'finished' as const };
    const d2 = { ...dep(1, 'platform', { d0003: 'failure' }), name: deltaName('0.8.0'), status: 'finished' as const };
    const d3 = dep(1, 'platform', { d0004: 'success', d0005: 'downloading' });
    expectOnly(planRollout(base({ deployments: [d1, d2, d3] })), 'wait', /platform deploying/);
    const done = {
      ...d3,
      status: 'finished' as const,
      outcomes: { ...d3.outcomes, d0005: { status: 'success', finishedAt: T0 } },
    };
    // The failure gate counts the delta's failure with the rest of the wave: 1 of 6 (16.7 %) > 10 %.
    expectOnly(planRollout(base({ deployments: [d1, d2, done] })), 'pause', /1 of 6 finished updates failed/);
  });
});

describe('planRollout: the vans’ post-commit soak (issue #20 item 2, soak-gate.ts)', () => {
  // A fleet wave of 10 that committed both components; soak reports per van.
  const targets = ids(10, 6);
  const soaked = (soak: Partial<VanFacts>[], hours = 1, settings = {}) =>
    facts({
      now: at(hours),
      settings: Schema.parse({ soak_hours: { internal: 24, pilot: 72 }, ...settings }),
      vans: fleet(0, 0, 20).map((v, i) => ({ ...v, ...(i >= 6 && i < 16 ? (soak[i - 6] ?? {}) : {}) })),
      waves: [wave(1, 'fleet', targets)],
      deployments: [dep(1, 'platform', all(targets, 'success')), dep(1, 'app', all(targets, 'success'))],
    });
  const on = (soak: VanFacts['soak'], artifact = 'vancore-app-1.4.0'): Partial<VanFacts> => ({
    soak,
    soakArtifact: artifact,
  });

  it('vans that report no soak (off, or hubs before the watcher) do not hold the wave', () => {
    expect(planRollout(soaked([]))).toEqual([expect.objectContaining({ kind: 'close_wave' })]);
  });

  it('soak regressions count as failures of their wave and pause it, with the reason', () => {
    // 20 finished updates (two components × 10 vans), 3 of the vans regressed after their commit.
    const f = soaked(Array.from({ length: 10 }, (_, i) => on(i < 3 ? 'regressed' : 'passed')));
    expectOnly(
      planRollout(f),
      'pause',
      /^wave fleet-1: 3 of 20 finished updates failed \(15\.0 %\), 3 of them soak regressions: at least 3 failures in one wave$/,
    );
    // Acknowledged by a resume: the regressed vans are no successes for the advance gate.
    const ack = { ...f, acknowledgedWaves: [1] };
    expectOnly(planRollout(ack), 'pause', /^wave fleet-1: only 7 of 10 vans succeeded \(70\.0 % < 90 %\)$/);
    expect(planRollout({ ...ack, settings: { ...ack.settings, advance_success_percent: 50 } })).toEqual([
      expect.objectContaining({ kind: 'close_wave', reason: '7 of 10 vans succeeded (70.0 %) and stayed healthy' }),
    ]);
    // Two regressions: under the wave's limits, the wave is not paused for them.
    const two = soaked(Array.from({ length: 10 }, (_, i) => on(i < 2 ? 'regressed' : 'passed')));
    expectOnly(planRollout(two), 'pause', /only 8 of 10 vans succeeded/);
  });

  it('a regression of an earlier commit (another artifact) is not this release’s', () => {
    const f = soaked(
      Array.from({ length: 10 }, (_, i) => on(i < 2 ? 'regressed' : 'passed', i < 2 ? 'vancore-app-1.3.0' : undefined)),
    );
    // …but the van has not reported the soak of the new commit yet: it holds the wave as still soaking.
    expectOnly(planRollout(f), 'wait', /^wave fleet-1: 2 vans still soaking after their commit/);
  });

  it('the wave advances only when its vans’ soak passed; at most device_soak.max_wait_hours', () => {
    const list = Array.from({ length: 10 }, (_, i) => on(i < 3 ? 'watching' : 'passed'));
    expectOnly(
      planRollout(soaked(list, 1)),
      'wait',
      /3 vans still soaking after their commit \(waiting until 2026-11-24T00:00:00.000Z at most\)/,
    );
    expect(planRollout(soaked(list, 48))).toEqual([
      expect.objectContaining({
        kind: 'close_wave',
        reason: '10 of 10 vans succeeded (100.0 %) and stayed healthy; 3 vans still soaking after 48 h',
      }),
    ]);
    // device_soak.required false: the wave does not wait.
    expect(kinds(planRollout(soaked(list, 1, { device_soak: { required: false } })))).toEqual(['close_wave']);
    expect(
      kinds(
        planRollout(
          soaked(
            list.map(() => on('passed')),
            1,
          ),
        ),
      ),
    ).toEqual(['close_wave']);
  });
});
