// The VPN migration planner, table-tested: per-van verdicts (verified-in-inventory gating, failures and
// retries, reverts, stuck, soak, holds, rollbacks), batches under the daily and per-step limits, and the
// meaning of a rollback per step.
import { describe, expect, it } from 'vitest';
import {
  type MigrationDeploymentFacts,
  type MigrationFacts,
  type MigrationScope,
  type MigrationStep,
  type VanMigrationFacts,
  attemptsByDevice,
  decideRollback,
  deploymentName,
  inScope,
  planMigration,
  vanVerdict,
} from '../../../../bridge/vpn/planner.js';
import { VpnMigrationSettings } from '../../../../core/config/bridge-config.js';

const T0 = '2026-11-22T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(T0) + hours * 3_600_000).toISOString();
const settings = VpnMigrationSettings.parse({ daily_batch_limit: 3, max_retries_per_van: 1 });
const ARTIFACTS = { add: 'a-add', verify: 'a-verify', cutover: 'a-cut', retire: 'a-retire' };

function van(id: string, over: Partial<VanMigrationFacts> = {}): VanMigrationFacts {
  return {
    deviceId: `dev-${id}`,
    vanId: `van-${id}`,
    stage: 'fleet',
    tags: {},
    state: 'tailscale',
    step: 'none',
    hold: false,
    holdReason: null,
    resetAt: null,
    rollback: null,
    ...over,
  };
}

let batch = 0;
function dep(
  step: MigrationStep,
  outcomes: Record<string, string | undefined>,
  createdHours: number,
  over: Partial<MigrationDeploymentFacts> = {},
): MigrationDeploymentFacts {
  batch++;
  return {
    name: deploymentName('m1', batch, step, over.purpose ?? 'forward'),
    batch,
    step,
    purpose: 'forward',
    deviceIds: Object.keys(outcomes).map((k) => `dev-${k}`),
    status: 'open',
    createdAt: at(createdHours),
    outcomes: Object.fromEntries(
      Object.entries(outcomes)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([k, s]) => [`dev-${k}`, { status: s, finishedAt: at(createdHours) }]),
    ),
    ...over,
  };
}

function facts(vans: VanMigrationFacts[], deployments: MigrationDeploymentFacts[], nowHours: number): MigrationFacts {
  return {
    now: new Date(at(nowHours)),
    migrationId: 'm1',
    status: 'active',
    settings,
    artifacts: ARTIFACTS,
    scope: null,
    vans,
    deployments,
  };
}

const verdictOf = (v: VanMigrationFacts, deps: MigrationDeploymentFacts[], nowHours: number, s = settings) =>
  vanVerdict(v, attemptsByDevice(deps).get(v.deviceId) ?? [], s, new Date(at(nowHours)));

describe('vanVerdict: one van', () => {
  it.each<[string, Partial<VanMigrationFacts>, () => MigrationDeploymentFacts[], number, object]>([
    ['fresh van: add is next', {}, () => [], 0, { kind: 'ready', step: 'add', failures: 0 }],
    ['verified at add: verify next', { state: 'dual', step: 'add' }, () => [], 0, { kind: 'ready', step: 'verify' }],
    ['verified at verify: cutover', { state: 'dual', step: 'verify' }, () => [], 0, { kind: 'ready', step: 'cutover' }],
    ['retired: done', { state: 'retired', step: 'retire' }, () => [], 0, { kind: 'done' }],
    [
      'deployment in flight',
      {},
      () => [dep('add', { a: 'downloading' }, 0)],
      1,
      { kind: 'in_flight', step: 'add', stuck: false },
    ],
    ['in flight past stuck_hours', {}, () => [dep('add', { a: undefined }, 0)], 49, { kind: 'in_flight', stuck: true }],
    [
      'success, inventory not there yet: no next step',
      {},
      () => [dep('add', { a: 'success' }, 0)],
      1,
      { kind: 'awaiting_inventory', step: 'add', stuck: false },
    ],
    [
      'success never shows in inventory: stuck',
      {},
      () => [dep('add', { a: 'success' }, 0)],
      50,
      { kind: 'awaiting_inventory', stuck: true },
    ],
    [
      'state does not match the step (dual at none)',
      { state: 'dual', step: 'none' },
      () => [],
      0,
      { kind: 'attention', code: 'unexpected_state', detail: 'inventory says vpn state dual at step none' },
    ],
    [
      'no vpn state in inventory',
      { state: null, step: null },
      () => [],
      0,
      { kind: 'attention', code: 'unexpected_state' },
    ],
    [
      'one failure: retried',
      { state: 'dual', step: 'add' },
      () => [dep('verify', { a: 'failure' }, 0)],
      1,
      { kind: 'ready', step: 'verify', failures: 1 },
    ],
    [
      'failures over max_retries: attention',
      { state: 'dual', step: 'add' },
      () => [dep('verify', { a: 'failure' }, 0), dep('verify', { a: 'failure' }, 24)],
      25,
      {
        kind: 'attention',
        code: 'step_failed',
        detail: 'verify failed 2 times (last: failure; van stays at add)',
      },
    ],
    [
      'failures before a release are forgiven',
      { state: 'dual', step: 'add', resetAt: at(30) },
      () => [dep('verify', { a: 'failure' }, 0), dep('verify', { a: 'failure' }, 24)],
      31,
      { kind: 'ready', step: 'verify', failures: 0 },
    ],
    [
      'reverted by the deadman: attention, no retry',
      { state: 'reverted', step: 'verify' },
      () => [dep('cutover', { a: 'success' }, 0)],
      1,
      { kind: 'attention', code: 'reverted' },
    ],
    [
      'cut over: retire waits for the soak',
      { state: 'headscale', step: 'cutover' },
      () => [dep('cutover', { a: 'success' }, 0)],
      23,
      { kind: 'soaking', step: 'retire', until: at(24) },
    ],
    [
      'cut over and soaked: retire',
      { state: 'headscale', step: 'cutover' },
      () => [dep('cutover', { a: 'success' }, 0)],
      24,
      { kind: 'ready', step: 'retire' },
    ],
    ['held', { hold: true, holdReason: 'ops: trip' }, () => [], 0, { kind: 'held', reason: 'ops: trip' }],
    [
      'held, but a deployment in flight still shows',
      { hold: true },
      () => [dep('add', { a: 'installing' }, 0)],
      0,
      { kind: 'in_flight' },
    ],
    [
      'aborted deployment without the van: over for it, counted as a failed attempt',
      {},
      () => [dep('add', { a: undefined }, 0, { status: 'aborted' })],
      1,
      { kind: 'ready', step: 'add', failures: 1 },
    ],
    [
      'noartifact twice: attention, not an endless redeploy',
      {},
      () => [dep('add', { a: 'noartifact' }, 0), dep('add', { a: 'noartifact' }, 24)],
      25,
      { kind: 'attention', code: 'step_failed', detail: 'add failed 2 times (last: noartifact; van stays at none)' },
    ],
  ])('%s', (_name, over, deps, now, want) => {
    batch = 0;
    expect(verdictOf(van('a', over), deps(), now)).toMatchObject(want);
  });

  it('rollback: ready, in flight, rolled back once inventory shows the step, failed', () => {
    batch = 0;
    const rb = { kind: 'redeploy' as const, step: 'verify' as const, requestedAt: at(10), detail: 'x' };
    const v = van('a', { state: 'reverted', step: 'verify', hold: true, rollback: rb });
    expect(verdictOf(v, [], 10)).toEqual({ kind: 'rollback_ready', step: 'verify' });
    const d = dep('verify', { a: 'installing' }, 10, { purpose: 'rollback' });
    expect(verdictOf(v, [d], 10)).toMatchObject({ kind: 'in_flight', purpose: 'rollback' });
    const ok = { ...d, outcomes: { 'dev-a': { status: 'success', finishedAt: at(10) } } };
    expect(verdictOf(v, [ok], 11)).toMatchObject({ kind: 'awaiting_inventory', purpose: 'rollback' });
    expect(verdictOf({ ...v, state: 'dual' }, [ok], 11)).toMatchObject({ kind: 'rolled_back' });
    const bad = { ...d, outcomes: { 'dev-a': { status: 'failure', finishedAt: at(10) } } };
    expect(verdictOf(v, [bad], 11)).toMatchObject({ kind: 'attention', code: 'rollback_failed' });
    const manual = {
      ...v,
      state: 'headscale',
      step: 'cutover',
      rollback: { ...rb, kind: 'manual' as const, step: null },
    };
    expect(verdictOf(manual, [], 11)).toMatchObject({ kind: 'attention', code: 'manual_rollback', detail: 'x' });
  });
});

describe('planMigration: batches', () => {
  it('takes at most daily_batch_limit vans, furthest along first, one deployment per (batch, step)', () => {
    batch = 0;
    const vans = [
      van('a'),
      van('b'),
      van('c', { state: 'dual', step: 'add' }),
      van('d', { state: 'headscale', step: 'cutover' }),
      van('e'),
    ];
    const steps = planMigration(facts(vans, [], 0));
    expect(
      steps.map((s) => (s.kind === 'create_deployment' ? [s.name, s.artifactName, s.deviceIds.length] : s)),
    ).toEqual([
      ['vancore-vpn m1 b1 retire', 'a-retire', 1],
      ['vancore-vpn m1 b1 verify', 'a-verify', 1],
      ['vancore-vpn m1 b1 add', 'a-add', 1],
    ]);
  });

  it('counts starts in the last 24 h; waits until the oldest leaves the window', () => {
    batch = 0;
    const deps = [dep('add', { a: 'success', b: 'success' }, 0), dep('add', { c: 'success' }, 6)];
    const vans = [
      van('a', { state: 'dual', step: 'add' }),
      van('b', { state: 'dual', step: 'add' }),
      van('c', { state: 'dual', step: 'add' }),
      van('x'),
    ];
    expect(planMigration(facts(vans, deps, 10))).toEqual([
      expect.objectContaining({
        kind: 'wait',
        until: at(24),
        reason: expect.stringMatching(/^daily limit reached/) as string,
      }),
    ]);
    const later = planMigration(facts(vans, deps, 24));
    expect(later).toEqual([expect.objectContaining({ kind: 'create_deployment', step: 'verify', batch: 3 })]);
    expect(later[0]).toMatchObject({ deviceIds: expect.any(Array) as string[] });
    expect((later[0] as { deviceIds: string[] }).deviceIds).toHaveLength(2);
  });

  it('honours a per-step limit on top of the daily one', () => {
    batch = 0;
    const s = VpnMigrationSettings.parse({ daily_batch_limit: 10, step_daily_limit: { cutover: 1 } });
    const vans = ['a', 'b', 'c'].map((k) => van(k, { state: 'dual', step: 'verify' }));
    const steps = planMigration({ ...facts([...vans, van('z')], [], 0), settings: s });
    expect(steps.map((x) => (x.kind === 'create_deployment' ? [x.step, x.deviceIds.length] : x.kind))).toEqual([
      ['cutover', 1],
      ['add', 1],
    ]);
  });

  it('rollbacks go out whatever the limits; holds get nothing', () => {
    batch = 0;
    const full = dep('add', { p: 'success', q: 'success', r: 'success' }, 0);
    const vans = [
      van('h', { hold: true }),
      van('r', {
        state: 'reverted',
        step: 'verify',
        hold: true,
        rollback: { kind: 'redeploy', step: 'verify', requestedAt: at(1), detail: '' },
      }),
      van('x'),
    ];
    expect(planMigration(facts(vans, [full], 1))).toEqual([
      {
        kind: 'create_deployment',
        name: 'vancore-vpn m1 b2 verify rollback',
        batch: 2,
        step: 'verify',
        purpose: 'rollback',
        artifactName: 'a-verify',
        deviceIds: ['dev-r'],
      },
    ]);
  });

  it('completes when every van retired; waits with a summary otherwise; not active → waits', () => {
    const done = [van('a', { state: 'retired', step: 'retire' })];
    expect(planMigration(facts(done, [], 0))).toEqual([
      { kind: 'complete', reason: 'all 1 vans retired Tailscale SaaS' },
    ]);
    const stuck = [...done, van('b', { state: 'reverted', step: 'verify' })];
    expect(planMigration(facts(stuck, [], 0))).toEqual([
      {
        kind: 'wait',
        reason: '1 done, 0 deploying, 0 awaiting inventory, 0 soaking, 0 ready, 0 held, 1 need attention',
      },
    ]);
    expect(planMigration({ ...facts(done, [], 0), status: 'cancelled' })).toEqual([
      { kind: 'wait', reason: 'migration is cancelled' },
    ]);
  });
});

describe('scope: which vans a migration covers', () => {
  const lab = van('lab', { stage: 'internal', tags: { site: 'hh', fw: 3 } });
  it.each<[string, MigrationScope | null, boolean]>([
    ['no scope: every van', null, true],
    ['empty scope: every van', {}, true],
    ['its stage', { stages: ['internal'] }, true],
    ['one of the stages', { stages: ['pilot', 'internal'] }, true],
    ['another stage', { stages: ['pilot'] }, false],
    ['its tag', { tag: { name: 'site', value: 'hh' } }, true],
    ['another tag value', { tag: { name: 'site', value: 'muc' } }, false],
    ['a tag it lacks', { tag: { name: 'ring', value: 'hh' } }, false],
    ['a tag that is not text never matches text', { tag: { name: 'fw', value: '3' } }, false],
    ['named', { vans: ['van-x', 'van-lab'] }, true],
    ['not named', { vans: ['van-x'] }, false],
    ['every criterion must hold: stage and tag', { stages: ['internal'], tag: { name: 'site', value: 'hh' } }, true],
    ['every criterion must hold: stage but not named', { stages: ['internal'], vans: ['van-x'] }, false],
  ])('%s', (_n, scope, want) => {
    expect(inScope(lab, scope)).toBe(want);
  });

  it('plans only vans in scope, and completes once they are all retired', () => {
    batch = 0;
    const vans = [
      van('a', { stage: 'internal' }),
      van('b', { stage: 'pilot' }),
      van('c', { stage: 'internal', state: 'dual', step: 'add' }),
      van('d', { stage: 'fleet' }),
    ];
    const scoped = { ...facts(vans, [], 0), scope: { stages: ['internal'] } };
    const steps = planMigration(scoped);
    expect(steps.flatMap((s) => (s.kind === 'create_deployment' ? [[s.step, s.deviceIds]] : []))).toEqual([
      ['verify', ['dev-c']],
      ['add', ['dev-a']],
    ]);
    const retired = [van('a', { stage: 'internal', state: 'retired', step: 'retire' }), van('b', { stage: 'pilot' })];
    expect(planMigration({ ...facts(retired, [], 0), scope: { vans: ['van-a'] } })).toEqual([
      { kind: 'complete', reason: 'all 1 vans retired Tailscale SaaS' },
    ]);
    // No van in scope: nothing to plan, and never "complete".
    expect(planMigration({ ...facts(vans, [], 0), scope: { tag: { name: 'site', value: 'none' } } })).toEqual([
      {
        kind: 'wait',
        reason: '0 done, 0 deploying, 0 awaiting inventory, 0 soaking, 0 ready, 0 held, 0 need attention',
      },
    ]);
  });
});

describe('decideRollback: what a rollback means per step', () => {
  it.each<[string, Partial<VanMigrationFacts>, boolean, object]>([
    [
      'in flight',
      { state: 'dual', step: 'add' },
      true,
      { ok: false, reason: expect.stringMatching(/in flight/) as string },
    ],
    ['not started', {}, false, { ok: false, reason: 'van van-a has not started the migration: nothing to roll back' }],
    ['at add: manual', { state: 'dual', step: 'add' }, false, { ok: true, kind: 'manual', step: null }],
    ['at verify: nothing to undo', { state: 'dual', step: 'verify' }, false, { ok: true, kind: 'nothing' }],
    ['at cutover: manual', { state: 'headscale', step: 'cutover' }, false, { ok: true, kind: 'manual' }],
    ['retired: impossible', { state: 'retired', step: 'retire' }, false, { ok: false }],
    [
      'reverted to verify: redeploy verify',
      { state: 'reverted', step: 'verify' },
      false,
      { ok: true, kind: 'redeploy', step: 'verify' },
    ],
    ['reverted to none: nothing', { state: 'reverted', step: 'none' }, false, { ok: true, kind: 'nothing' }],
    ['unknown state', { state: 'unknown', step: null }, false, { ok: false }],
    ['state off its step', { state: 'tailscale', step: 'cutover' }, false, { ok: false }],
  ])('%s', (_n, over, inFlight, want) => {
    expect(decideRollback(van('a', over), inFlight)).toMatchObject(want);
  });
});
