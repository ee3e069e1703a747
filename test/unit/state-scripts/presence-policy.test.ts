// Presence and consent as gate inputs (issue #21): the Download_Enter and ArtifactInstall_Enter
// policies with Home Assistant's answers, and the owner's postpone budget over a sequence of gate
// runs, including a budget that runs out (by count and by time).
import { describe, expect, it } from 'vitest';
import { decideDownload, type DownloadFacts } from '../../../state-scripts/policy/download.js';
import { decideInstall, noticeCheck, type InstallFacts } from '../../../state-scripts/policy/install.js';
import {
  EMPTY_BUDGET,
  nextPostponeBudget,
  type PostponeBudget,
  type PresenceFacts,
} from '../../../state-scripts/policy/presence.js';
import { metaDoc } from '../../helpers/builders.js';
import { NOW, readings, SPEC_CONDITIONS, STALENESS } from './builders.js';
import { ArtifactMetaData } from '../../../core/schemas/artifact-meta.js';

const LIMITS = { max_count: 3, max_hours: 72 };

function presence(over: Partial<PresenceFacts> = {}): PresenceFacts {
  return {
    now: NOW,
    occupied: false,
    sleeping: false,
    heating: false,
    postpone: { on: false, changed_at: '2026-11-20T08:00:00Z' },
    budget: EMPTY_BUDGET,
    limits: LIMITS,
    last_update_end: null,
    ...over,
  };
}

function download(p: PresenceFacts | undefined, still_s = 600): DownloadFacts {
  return {
    now: NOW,
    policy: { ...SPEC_CONDITIONS, short_wait_seconds: 60 },
    staleness: STALENESS,
    readings: readings({ still_s }),
    wall_clock: null,
    ...(p ? { presence: p } : {}),
  };
}

const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000).toISOString();

describe('Download_Enter with presence and consent', () => {
  it.each([
    ['nothing configured: as before', undefined, 'proceed', ['conditions_met'], 0],
    ['everyone awake, nobody in, heating independent', presence(), 'proceed', ['conditions_met'], 0],
    ['someone sleeping', presence({ sleeping: true }), 'defer', ['someone_sleeping'], 1],
    ['the van is occupied', presence({ occupied: true }), 'defer', ['van_occupied'], 1],
    ['the heating runs through the hub', presence({ heating: true }), 'defer', ['heating_on_hub'], 1],
    [
      'sleeping and heating: both reasons',
      presence({ sleeping: true, heating: true }),
      'defer',
      ['someone_sleeping', 'heating_on_hub'],
      1,
    ],
    [
      'HA did not answer: never holds the update',
      presence({ sleeping: null, occupied: null, heating: null, postpone: null }),
      'proceed',
      ['conditions_met'],
      0,
    ],
    [
      'owner postponed (1 of 3, 72 h left): not now, no 21',
      presence({
        postpone: { on: true, changed_at: hoursAgo(0) },
        budget: { count: 1, first_at: NOW.toISOString(), last_press: hoursAgo(0) },
      }),
      'defer',
      ['owner_postponed'],
      1,
    ],
    [
      'postpone budget used up by count (4th press): goes at the next safe window',
      presence({
        postpone: { on: true, changed_at: hoursAgo(1) },
        budget: { count: 4, first_at: hoursAgo(30), last_press: hoursAgo(1) },
      }),
      'proceed',
      ['conditions_met'],
      0,
    ],
    [
      'postpone budget used up by time (72 h): goes',
      presence({
        postpone: { on: true, changed_at: hoursAgo(72) },
        budget: { count: 1, first_at: hoursAgo(72), last_press: hoursAgo(72) },
      }),
      'proceed',
      ['conditions_met'],
      0,
    ],
  ])('%s', (_n, p, verdict, codes, exit) => {
    const v = decideDownload(download(p));
    expect(v.verdict).toBe(verdict);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
    expect(verdict === 'proceed' ? 0 : 1).toBe(exit);
  });

  it('an exhausted budget still waits for the safe window: moving van, postpone ignored', () => {
    const p = presence({
      postpone: { on: true, changed_at: hoursAgo(1) },
      budget: { count: 4, first_at: hoursAgo(30), last_press: hoursAgo(1) },
    });
    const v = decideDownload(download(p, 60));
    expect(v.reasons.map((r) => r.code)).toEqual(['settling']);
    expect(v.checks.find((c) => c.code === 'postpone_budget_exhausted')?.message).toBe(
      'postponed 3 times over 30 h: the budget (3 times or 72 h) is used up, the update goes at the next safe window',
    );
  });

  it('the postpone reason says what is left of the budget', () => {
    const v = decideDownload(
      download(
        presence({
          postpone: { on: true, changed_at: hoursAgo(2) },
          budget: { count: 2, first_at: hoursAgo(24), last_press: hoursAgo(2) },
        }),
      ),
    );
    expect(v.reasons).toEqual([
      { code: 'owner_postponed', message: 'the owner postponed the update (2 of 3; 48 h of postponement left)' },
    ]);
  });
});

describe('the postpone budget over a sequence of gate runs', () => {
  /** One gate run: HA's control state at `at`; returns the budget after it and whether it held the update. */
  function run(
    budget: PostponeBudget,
    at: Date,
    on: boolean,
    changed_at: string,
    last_update_end: string | null = null,
  ) {
    const b = nextPostponeBudget({ now: at, postpone: { on, changed_at }, budget, last_update_end });
    const v = decideDownload({
      ...download(presence({ now: at, postpone: { on, changed_at }, budget: b, last_update_end })),
      now: at,
    });
    return { b, held: v.reasons.some((r) => r.code === 'owner_postponed') };
  }
  const t = (h: number) => new Date(NOW.getTime() + h * 3600_000);

  it('counts each press once, honours three, and lets the update go at the fourth', () => {
    let b = EMPTY_BUDGET;
    const seen: [number, boolean][] = [];
    // press 1 at 0 h, polled again at 1 h (same press), released, pressed at 5 h, 9 h, 12 h.
    for (const [h, on, changed] of [
      [0, true, 0],
      [1, true, 0],
      [2, false, 2],
      [5, true, 5],
      [9, true, 9],
      [12, true, 12],
    ] as const) {
      const r = run(b, t(h), on, t(changed).toISOString());
      b = r.b;
      seen.push([b.count, r.held]);
    }
    expect(seen).toEqual([
      [1, true],
      [1, true],
      [1, false],
      [2, true],
      [3, true],
      [4, false], // the 4th postponement is over the budget: not honoured
    ]);
  });

  it('runs out after 72 h even with one press held on, and starts afresh once an update ended', () => {
    let r = run(EMPTY_BUDGET, t(0), true, t(0).toISOString());
    expect(r.held).toBe(true);
    r = run(r.b, t(71.9), true, t(0).toISOString());
    expect(r.held).toBe(true);
    r = run(r.b, t(72), true, t(0).toISOString());
    expect(r.held).toBe(false);
    // The update installed at 73 h; a later press postpones the next pending update again.
    r = run(r.b, t(80), true, t(79).toISOString(), t(73).toISOString());
    expect(r.b).toEqual({ count: 1, first_at: t(80).toISOString(), last_press: t(79).toISOString() });
    expect(r.held).toBe(true);
  });
});

describe('ArtifactInstall_Enter with presence and the notice before an install', () => {
  const meta = ArtifactMetaData.parse(metaDoc({ component: 'ha_addons', version: '2.0.0', requires: {} }));
  function install(over: Partial<InstallFacts> = {}): InstallFacts {
    return {
      now: NOW,
      meta: { status: 'ok', meta, artifact_name: 'vancore-ha_addons-2.0.0' },
      installed: { versions: {}, problems: [] },
      readings: readings({}),
      staleness: STALENESS,
      wall_clock: null,
      first_attempt_at: NOW,
      wait_budget_seconds: 1800,
      ...over,
    };
  }

  it.each([
    ['nothing owed: proceeds', install(), 'proceed', ['conditions_met']],
    [
      'someone sleeping: retry within the wait budget',
      install({ presence: presence({ sleeping: true }) }),
      'retry',
      ['someone_sleeping'],
    ],
    [
      'someone sleeping past the wait budget: fails (Mender rolls back)',
      install({ presence: presence({ sleeping: true }), first_attempt_at: new Date(NOW.getTime() - 1800_000) }),
      'fail',
      ['wait_budget_exhausted', 'someone_sleeping'],
    ],
    [
      'notice owed, not given yet: retry',
      install({ notice: { given_at: null, lead_seconds: 600 } }),
      'retry',
      ['notice_pending'],
    ],
    [
      'notice given 4 min ago of 10: retry',
      install({ notice: { given_at: new Date(NOW.getTime() - 240_000).toISOString(), lead_seconds: 600 } }),
      'retry',
      ['notice_pending'],
    ],
    [
      'notice given 10 min ago: proceeds',
      install({ notice: { given_at: new Date(NOW.getTime() - 600_000).toISOString(), lead_seconds: 600 } }),
      'proceed',
      ['conditions_met'],
    ],
    [
      'sleeping and notice owed: only the sleeper is named (the notice comes once nothing else holds)',
      install({ presence: presence({ sleeping: true }), notice: { given_at: null, lead_seconds: 600 } }),
      'retry',
      ['someone_sleeping'],
    ],
  ])('%s', (_n, f, verdict, codes) => {
    const v = decideInstall(f);
    expect(v.verdict).toBe(verdict);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
  });

  it('the notice check says how long is left', () => {
    expect(noticeCheck({ given_at: new Date(NOW.getTime() - 240_000).toISOString(), lead_seconds: 600 }, NOW)).toEqual({
      code: 'notice_pending',
      ok: false,
      message: 'the people in the van are told 10 min before the install (6 min to go)',
      clears_in_s: 360,
    });
  });
});
