// The automatic revert's pure parts (bridge/rollout/revert.ts, issue #20 item 1): when the policy is
// crossed, what the revert deploys and in which order, and which vans it did not take back.
import { describe, expect, it } from 'vitest';
import { RolloutSettings as Schema } from '../../../../core/config/bridge-config.js';
import type { DeploymentFacts, RolloutFacts, VanFacts } from '../../../../bridge/rollout/planner.js';
import type { ReleaseComponent } from '../../../../bridge/rollout/release.js';
import { releaseSoak } from '../../../../bridge/rollout/soak-gate.js';
import {
  type RevertDeploymentFacts,
  type RevertFacts,
  planRevert,
  planSoakReverts,
  revertNotLanded,
  revertTrigger,
} from '../../../../bridge/rollout/revert.js';

const T0 = '2026-11-22T00:00:00.000Z';
const H = 3_600_000;
const at = (hours: number) => new Date(Date.parse(T0) + hours * H);
const iso = (hours: number) => at(hours).toISOString();
const comp = (component: string, version: string): ReleaseComponent => ({
  component,
  version,
  artifact_id: `${component}-${version}`,
  artifact_name: `vancore-${component}-${version}`,
  requires: {},
  deltas: [],
});
const van = (i: number, components: Record<string, string>, over: Partial<VanFacts> = {}): VanFacts => ({
  deviceId: `d${i}`,
  vanId: `van-${i}`,
  stage: 'fleet',
  hold: false,
  excluded: false,
  tags: {},
  components,
  healthy: true,
  ...over,
});
const dep = (component: string, outcomes: Record<string, [string, number | null]>, wave = 1): DeploymentFacts => ({
  name: `vancore rel-2 r1 w${wave} ${component}`,
  wave,
  component,
  deviceIds: Object.keys(outcomes),
  status: 'open',
  createdAt: T0,
  outcomes: Object.fromEntries(
    Object.entries(outcomes).map(([id, [status, h]]) => [id, { status, finishedAt: h === null ? null : iso(h) }]),
  ),
});

function rollout(over: Partial<RolloutFacts> = {}, revert = {}): RolloutFacts {
  return {
    now: at(10),
    rolloutId: 'r1',
    release: 'rel-2',
    status: 'active',
    settings: Schema.parse({ revert }),
    components: [comp('platform', '1.0.0'), comp('app', '1.5.0')],
    vans: [],
    waves: [],
    deployments: [],
    acknowledgedWaves: [],
    ...over,
  };
}
const outcomes = (ok: number, failed: number, hour = 5): Record<string, [string, number | null]> => ({
  ...Object.fromEntries(Array.from({ length: ok }, (_, i) => [`d${i}`, ['success', hour] as [string, number]])),
  ...Object.fromEntries(
    Array.from({ length: failed }, (_, i) => [`d${100 + i}`, ['failure', hour] as [string, number]]),
  ),
});

describe('revertTrigger', () => {
  it('off unless a threshold is set', () => {
    expect(revertTrigger(rollout({ deployments: [dep('app', outcomes(0, 50))] }))).toBeNull();
  });
  it.each([
    [
      'failed_count reached',
      { failed_count: 3 },
      outcomes(20, 3),
      /3 of 23 finished updates failed in the last 24 h \(13\.0 %\): at least 3$/,
    ],
    ['failed_count not reached', { failed_count: 4 }, outcomes(20, 3), null],
    ['failed_pct exceeded once 10 finished', { failed_pct: 20 }, outcomes(7, 3), /3 of 10 .* \(30\.0 %\): over 20 %$/],
    [
      'failed_pct: too small a sample',
      { failed_pct: 20 },
      { ...outcomes(5, 3), d50: ['downloading', null] as [string, null], d51: ['downloading', null] as [string, null] },
      null,
    ],
    ['failed_pct: not above', { failed_pct: 30 }, outcomes(7, 3), null],
    ['failures outside the window do not count', { failed_count: 3, window_hours: 4 }, outcomes(20, 3, 5), null],
  ])('%s', (_, policy, o, expected) => {
    const r = revertTrigger(rollout({ deployments: [dep('app', o)] }, policy));
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });
  it('soak regressions of vans that took the release count as failures', () => {
    const o = outcomes(10, 1);
    const vans = Array.from({ length: 10 }, (_, i) =>
      van(
        i,
        { platform: '1.0.0', app: '1.5.0' },
        i < 2 ? { soak: 'regressed', soakArtifact: 'vancore-app-1.5.0' } : {},
      ),
    );
    const f = rollout({ vans, deployments: [dep('platform', outcomes(10, 0)), dep('app', o)] }, { failed_count: 3 });
    expect(revertTrigger(f)).toMatch(
      /^revert policy crossed: 3 of 21 finished updates failed .*, 2 of them soak regressions: at least 3$/,
    );
  });
});

const rel2 = [comp('platform', '1.0.0'), comp('app', '1.5.0')];
const rel1 = [comp('platform', '1.0.0'), comp('app', '1.4.0')];
const ART = { name: 'vancore-app-1.4.0-revert-1.5.0', component: 'app', version: '1.4.0', revertOf: '1.5.0' };
function rf(over: Partial<RevertFacts> = {}): RevertFacts {
  return {
    now: at(10),
    rolloutId: 'r1',
    settings: Schema.parse({}),
    release: { name: 'rel-2', components: rel2 },
    previous: { name: 'rel-1', components: rel1 },
    vans: [],
    rolloutDeployments: [],
    revertDeployments: [],
    revertArtifacts: [ART],
    ...over,
  };
}
const rdep = (
  round: number,
  outcomes: Record<string, string>,
  status: DeploymentFacts['status'] = 'open',
): RevertDeploymentFacts => ({
  name: `vancore-revert r1 r${round} app`,
  wave: 0,
  round,
  component: 'app',
  deviceIds: Object.keys(outcomes),
  status,
  createdAt: iso(6),
  outcomes: Object.fromEntries(Object.entries(outcomes).map(([id, s]) => [id, { status: s, finishedAt: iso(7) }])),
});

describe('planRevert', () => {
  const took = dep('app', { d1: ['success', 5], d2: ['success', 5], d3: ['failure', 5] });
  const vans = [van(1, { app: '1.5.0' }), van(2, { app: '1.4.0' }), van(3, { app: '1.4.0' }), van(4, { app: '1.5.0' })];

  it('deploys the revert artifact of each changed component to every van that took it (outcome or inventory)', () => {
    // d2's inventory lags (still 1.4.0 reported... it is the outcome that counts); d4 runs 1.5.0 from elsewhere.
    expect(planRevert(rf({ vans, rolloutDeployments: [took] }))).toEqual([
      {
        kind: 'create_revert_deployment',
        name: 'vancore-revert r1 r1 app',
        round: 1,
        component: 'app',
        artifactName: 'vancore-app-1.4.0-revert-1.5.0',
        from: '1.5.0',
        to: '1.4.0',
        deviceIds: ['d1', 'd4'],
      },
    ]);
  });

  it('waits for the round to settle; takes late takers in another round; then finishes with the count', () => {
    const r1 = rdep(1, { d1: 'success', d4: 'downloading' });
    expect(planRevert(rf({ vans, rolloutDeployments: [took], revertDeployments: [r1] }))).toEqual([
      { kind: 'wait', reason: 'revert of app 1.5.0 → 1.4.0 deploying' },
    ]);
    const late = [...vans, van(5, { app: '1.5.0' })];
    const done1 = rdep(1, { d1: 'success', d4: 'success' }, 'finished');
    expect(planRevert(rf({ vans: late, rolloutDeployments: [took], revertDeployments: [done1] }))).toEqual([
      expect.objectContaining({ kind: 'create_revert_deployment', round: 2, deviceIds: ['d5'] }),
    ]);
    const failed = rdep(1, { d1: 'success', d4: 'failure' }, 'finished');
    expect(planRevert(rf({ vans, rolloutDeployments: [took], revertDeployments: [failed] }))).toEqual([
      {
        kind: 'finish_revert',
        reason: '1 of 2 vans back on rel-1; 1 not (attention report: revert_not_landed)',
        landed: 1,
        notLanded: ['d4'],
      },
    ]);
  });

  it('no revert artifact: waits with the artifact to build; no previous release: waits saying so', () => {
    expect(planRevert(rf({ vans, rolloutDeployments: [took], revertArtifacts: [] }))).toEqual([
      {
        kind: 'wait',
        reason:
          'revert of app 1.5.0 → 1.4.0: no revert artifact in Mender (build vancore-app-1.4.0-revert-1.5.0: vancore-ota artifact build … --version 1.4.0 --revert-of 1.5.0 --sign-key …, and upload it)',
      },
    ]);
    // A revert artifact of another bad version does not do.
    expect(
      kinds(planRevert(rf({ vans, rolloutDeployments: [took], revertArtifacts: [{ ...ART, revertOf: '1.6.0' }] }))),
    ).toEqual(['wait']);
    const none = planRevert(rf({ previous: null }));
    expect(kinds(none)).toEqual(['wait']);
    expect((none[0] as { reason: string }).reason).toMatch(/no previous release/);
  });

  it('dependents first: app is taken back before platform', () => {
    const f = rf({
      release: { name: 'rel-2', components: [comp('platform', '2.0.0'), comp('app', '1.5.0')] },
      previous: { name: 'rel-1', components: [comp('platform', '1.0.0'), comp('app', '1.4.0')] },
      vans: [van(1, { platform: '2.0.0', app: '1.5.0' })],
      revertArtifacts: [
        ART,
        { name: 'vancore-platform-1.0.0-revert-2.0.0', component: 'platform', version: '1.0.0', revertOf: '2.0.0' },
      ],
    });
    expect(planRevert(f)).toEqual([expect.objectContaining({ component: 'app' })]);
    const after = { ...f, revertDeployments: [rdep(1, { d1: 'success' }, 'finished')] };
    expect(planRevert(after)).toEqual([
      expect.objectContaining({ component: 'platform', artifactName: 'vancore-platform-1.0.0-revert-2.0.0' }),
    ]);
  });
});

describe('revertNotLanded', () => {
  it('names the van and why: failed, no artifact, still on the bad version once finished', () => {
    const took = dep('app', { d1: ['success', 5], d2: ['success', 5], d3: ['success', 5] });
    const vans = [van(1, { app: '1.5.0' }), van(2, { app: '1.5.0' }), van(3, { app: '1.4.0' })];
    const r1 = rdep(1, { d1: 'failure', d2: 'pending', d3: 'success' });
    const f = rf({ vans, rolloutDeployments: [took], revertDeployments: [r1] });
    expect(revertNotLanded(f, false)).toEqual([
      { deviceId: 'd1', detail: 'revert of app 1.5.0 → 1.4.0 ended failure (rollout r1)' },
    ]);
    expect(revertNotLanded(f, true)).toEqual([
      { deviceId: 'd1', detail: 'revert of app 1.5.0 → 1.4.0 ended failure (rollout r1)' },
      { deviceId: 'd2', detail: 'revert of app 1.5.0 → 1.4.0 still pending after the revert of rollout r1 finished' },
    ]);
    expect(
      revertNotLanded(rf({ vans, rolloutDeployments: [took], revertArtifacts: [] }), false).map((x) => x.detail),
    ).toEqual([
      'runs app 1.5.0 of reverted rollout r1: no revert artifact vancore-app-1.4.0-revert-1.5.0 in Mender',
      'runs app 1.5.0 of reverted rollout r1: no revert artifact vancore-app-1.4.0-revert-1.5.0 in Mender',
    ]);
  });
});

const kinds = (steps: { kind: string }[]) => steps.map((s) => s.kind);

describe('planSoakReverts (revert.soak_regressed_vans)', () => {
  const regressed = { soak: 'regressed' as const, soakArtifact: 'vancore-app-1.5.0' };
  const vans = [
    van(1, { platform: '1.0.0', app: '1.5.0' }, regressed),
    van(2, { platform: '1.0.0', app: '1.5.0' }, { soak: 'passed', soakArtifact: 'vancore-app-1.5.0' }),
    van(3, { platform: '1.0.0', app: '1.5.0' }, { soak: 'regressed', soakArtifact: 'vancore-app-1.3.0' }),
  ];
  const on = Schema.parse({ revert: { soak_regressed_vans: true } });

  it('off by default; on, only the vans whose soak of this release regressed, one deployment each', () => {
    expect(planSoakReverts(rf({ vans }), { components: rel2 })).toEqual([]);
    expect(planSoakReverts(rf({ vans, settings: on }), { components: rel2 })).toEqual([
      {
        kind: 'create_revert_deployment',
        name: 'vancore-revert r1 van d1 app',
        round: 0,
        component: 'app',
        artifactName: 'vancore-app-1.4.0-revert-1.5.0',
        from: '1.5.0',
        to: '1.4.0',
        deviceIds: ['d1'],
      },
    ]);
  });

  it('once per van and component; nothing without a previous release or revert artifact', () => {
    const given = rdep(0, { d1: 'failure' }, 'finished');
    expect(planSoakReverts(rf({ vans, settings: on, revertDeployments: [given] }), { components: rel2 })).toEqual([]);
    expect(planSoakReverts(rf({ vans, settings: on, previous: null }), { components: rel2 })).toEqual([]);
    expect(planSoakReverts(rf({ vans, settings: on, revertArtifacts: [] }), { components: rel2 })).toEqual([]);
  });
});

describe('releaseSoak: which commit a van soak report is about', () => {
  const rel = [
    {
      ...comp('app', '1.5.0'),
      deltas: [{ base_version: '1.4.0', artifact_id: 'd', artifact_name: 'vancore-app-1.5.0-delta-from-1.4.0' }],
    },
  ];
  const soakOf = (soak: VanFacts['soak'], soakArtifact?: string) =>
    releaseSoak(van(1, { app: '1.5.0' }, { soak, ...(soakArtifact ? { soakArtifact } : {}) }), rel);

  it.each([
    ['the full artifact', 'passed', 'vancore-app-1.5.0', 'passed'],
    // A van updated by a delta committed the delta artifact: it is this release, not an earlier commit.
    ['a delta of the release', 'passed', 'vancore-app-1.5.0-delta-from-1.4.0', 'passed'],
    ['a delta of the release, regressed', 'regressed', 'vancore-app-1.5.0-delta-from-1.4.0', 'regressed'],
    // Gone back from the release on its own (revert.soak_regressed_vans): its soak of the release regressed,
    // whatever it now says of the revert artifact.
    ['a revert artifact of the release', 'passed', 'vancore-app-1.4.0-revert-1.5.0', 'regressed'],
    ['an earlier commit (inventory not caught up)', 'passed', 'vancore-app-1.4.0', 'watching'],
    ['a revert of another version', 'passed', 'vancore-app-1.3.0-revert-1.4.0', 'watching'],
    ['no artifact named', 'passed', undefined, 'passed'],
  ] as const)('%s', (_what, soak, artifact, want) => {
    expect(soakOf(soak, artifact)).toBe(want);
  });
  it('no soak reported: undefined', () => {
    expect(releaseSoak(van(1, { app: '1.5.0' }), rel)).toBeUndefined();
  });
});
