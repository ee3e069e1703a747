// The demo's pure parts: the seeded story (rings, who drives, who has the failing app) and the progress
// rendering (what a line says, and when a new one is printed).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type Snapshot, changeKey, plainReporter, renderBlock, renderLine } from '../../../cli/demo/progress.js';
import { DEMO_ROLLOUT, demoScript, plannedDays, ringSizes } from '../../../cli/demo/script.js';
import { assignBehaviours } from '../../../mender-sim/fleet/scenario.js';

describe('the demo script', () => {
  it('has the rings of the issue for 60 vans, and scales them for other sizes', () => {
    expect(ringSizes(60)).toEqual({ internal: 5, pilot: 10, fleet: 45 });
    expect(ringSizes(30)).toEqual({ internal: 3, pilot: 5, fleet: 22 });
    for (const n of [30, 45, 60, 200]) {
      const r = ringSizes(n);
      expect(r.internal + r.pilot + r.fleet).toBe(n);
    }
  });

  it('is the same for the same seed, and another for another seed', () => {
    expect(demoScript(60, 'demo')).toEqual(demoScript(60, 'demo'));
    expect(demoScript(60, 'demo').vans.map((v) => v.stage)).not.toEqual(
      demoScript(60, 'other').vans.map((v) => v.stage),
    );
  });

  it('tells the story: one pilot van with a failing app, drivers, weak LTE and low battery among the rest', () => {
    const s = demoScript(60, 'demo');
    const stages = s.vans.map((v) => v.stage);
    expect(stages.filter((x) => x === 'internal')).toHaveLength(5);
    expect(stages.filter((x) => x === 'pilot')).toHaveLength(10);
    const failing = s.vans.filter((v) => v.failingApp);
    expect(failing).toEqual([expect.objectContaining({ index: s.failingVan, stage: 'pilot', motion: 'parked' })]);
    const motion = (m: string) => s.vans.filter((v) => v.motion === m).length;
    expect([motion('driving'), motion('weak_lte'), motion('low_battery')]).toEqual([9, 6, 3]);
    expect(s.counts).toMatchObject({ driving: 9, weakLte: 6, lowBattery: 3 });

    // The virtual fleet accepts the scenario and gives each van the behaviour the story says.
    const behaviours = assignBehaviours(60, 'demo', s.scenario);
    const reason = { driving: 'moving', weak_lte: 'weak_signal', low_battery: 'low_battery' } as const;
    for (const v of s.vans) {
      const b = behaviours[v.index]!;
      if (v.failingApp) expect(b).toMatchObject({ outcome: 'failure', versions: { platform: '1.0.0' } });
      else if (v.motion === 'parked') expect(b).toEqual({ outcome: 'success' });
      else expect(b.deferral?.reason).toBe(reason[v.motion]);
    }
  });

  it('plans the simulated days from the soaks and one wave interval per further fleet wave', () => {
    const { waves, days } = plannedDays(45);
    expect(waves).toBe(Math.ceil(45 / Math.ceil(45 * (DEMO_ROLLOUT.wave_percent / 100))));
    expect(days).toBe(
      (DEMO_ROLLOUT.soak_hours.internal +
        DEMO_ROLLOUT.soak_hours.pilot +
        (waves - 1) * DEMO_ROLLOUT.wave_interval_hours) /
        24,
    );
  });
});

const snap = (over: Partial<Snapshot> = {}): Snapshot => ({
  elapsedS: 12.3,
  day: 2.46,
  rollout: { status: 'active', pauseReason: null },
  wave: { label: 'pilot', stage: 'pilot', vans: 10, index: 2, deploying: 'app' },
  waves: 2,
  next: 'wave pilot: deploying',
  vans: { total: 61, updated: 15, failed: 1, excluded: 0 },
  fleet: {
    deferredNow: { moving: 2, weak_signal: 0 },
    deferrals: { moving: 5, weak_signal: 3, low_battery: 1 },
    updating: 4,
    rolledBack: 0,
    failures: 1,
    offline: 0,
  },
  clients: [
    { label: '3.4', vans: 30, updated: 8, deferrals: 5, failed: 1, byDeferral: 0 },
    { label: '5.1', vans: 30, updated: 7, deferrals: 4, failed: 0, byDeferral: 0 },
  ],
  realVan: undefined,
  ...over,
});

describe('demo progress', () => {
  it('a plain line names the stage, wave, counts and deferral reasons in words', () => {
    expect(renderLine(snap())).toBe(
      'day 2.5 | rollout active: wave 2 pilot (pilot, 10 vans), deploying app | updated 15/61 | ' +
        'deferred now driving 2 (so far driving 5, weak LTE 3, low battery 1) | ' +
        'failed 1 on 1 vans, excluded 0, rolled back 0, offline 0 | ' +
        '3.4 8/30 updated, 5 deferrals, 1 failed (0 by deferral); 5.1 7/30 updated, 4 deferrals, 0 failed (0 by deferral)',
    );
    expect(renderLine(snap({ rollout: { status: 'paused', pauseReason: 'wave fleet-1: 3 of 5 failed' } }))).toMatch(
      / \| paused: wave fleet-1: 3 of 5 failed$/,
    );
    expect(renderLine(snap({ rollout: undefined, wave: undefined }))).toMatch(/^day 2\.5 \| rollout: not started \|/);
  });

  it('the block fits 80 columns, with one line per client even at 5000 vans', () => {
    const big = { label: '5.1', vans: 2500, updated: 2499, deferrals: 12_345, failed: 12, byDeferral: 0 };
    const block = renderBlock(snap({ realVan: 'van-real-01: installing platform 1.0.0', clients: [big] }));
    for (const line of block) expect(line.length).toBeLessThanOrEqual(80);
    expect(block).toContain('  on 5.1      2499/2500 updated · 12345 deferrals · 12 failed · 0 by deferral');
  });

  it('a client whose deferral became a failure changes the line (so it is printed)', () => {
    const clients = snap().clients.map((c) => (c.label === '5.1' ? { ...c, failed: 1, byDeferral: 1 } : c));
    expect(changeKey(snap({ clients }))).not.toBe(changeKey(snap()));
    expect(renderLine(snap({ clients }))).toMatch(/5\.1 7\/30 updated, 4 deferrals, 1 failed \(1 by deferral\)$/);
  });

  it('prints a line only when something changed, not when only the clocks moved', () => {
    expect(changeKey(snap())).toBe(
      changeKey(snap({ elapsedS: 99, day: 7.1, fleet: { ...snap().fleet, updating: 9 } })),
    );
    expect(changeKey(snap())).not.toBe(changeKey(snap({ vans: { ...snap().vans, updated: 16 } })));
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const r = plainReporter(out);
    r.show(snap());
    r.show(snap({ elapsedS: 50, day: 3 }));
    r.show(snap({ vans: { ...snap().vans, updated: 20 } }));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d day 2\.5 .* updated 20\/61 /);
  });
});
