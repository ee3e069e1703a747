import { describe, expect, it } from 'vitest';
import { StationaryTracker } from '../../../state-scripts/sense/stationary.js';
import { imuMoving } from '../../../state-scripts/sense/iio.js';
import { NOW } from './builders.js';

const t = (s: number) => new Date(NOW.getTime() + s * 1000);

/** Feed samples every 100 ms: `pattern` is one char per sample, '.' still, 'M' moving, '?' failed. */
function feed(tracker: StationaryTracker, pattern: string, from = 0): number {
  let s = from;
  for (const c of pattern) {
    if (c === '?') tracker.fault('read error');
    else tracker.observe(t(s), c === 'M');
    s += 0.1;
  }
  return s;
}

describe('stationary_since from movement samples', () => {
  it('is unknown before the first sample', () => {
    expect(new StationaryTracker(2000).view(NOW)).toEqual({ known: false, problem: 'no samples yet' });
  });

  it('starts the still period at the first still sample and keeps it while still', () => {
    const tr = new StationaryTracker(2000);
    const end = feed(tr, 'MMM' + '.'.repeat(50));
    expect(tr.view(t(end))).toMatchObject({ known: true, stationary_since: t(0.3) });
  });

  it('is null (moving) right after a movement sample', () => {
    const tr = new StationaryTracker(2000);
    const end = feed(tr, '.....M');
    expect(tr.view(t(end))).toMatchObject({ known: true, stationary_since: null });
  });

  it('one bump resets a long still period (hysteresis)', () => {
    const tr = new StationaryTracker(2000);
    let s = feed(tr, '.'.repeat(1800)); // 3 minutes still
    s = feed(tr, 'M', s);
    s = feed(tr, '..........', s);
    const v = tr.view(t(s));
    expect(v.known && v.stationary_since?.getTime()).toBe(t(180.1).getTime());
  });

  it('a gap in the samples breaks the still period: nobody watched', () => {
    const tr = new StationaryTracker(2000);
    feed(tr, '.....');
    tr.observe(t(10), false);
    const v = tr.view(t(10));
    expect(v.known && v.stationary_since?.toISOString()).toBe(t(10).toISOString());
  });

  it('failed reads turn it unknown once the last good sample is stale', () => {
    const tr = new StationaryTracker(2000);
    feed(tr, '.....?????');
    expect(tr.view(t(1)).known).toBe(true);
    expect(tr.view(t(3))).toEqual({ known: false, problem: 'read error' });
  });

  it('continues from a fresh reading after a restart', () => {
    const tr = new StationaryTracker(2000, { stationary_since: t(-600), at: t(-1) });
    tr.observe(t(0), false);
    const v = tr.view(t(0));
    expect(v.known && v.stationary_since?.toISOString()).toBe(t(-600).toISOString());
  });

  it("takes a source's own 'still since', never later than the report", () => {
    const tr = new StationaryTracker(15_000);
    tr.report(t(0), t(-3600));
    expect(tr.view(t(1))).toEqual({ known: true, stationary_since: t(-3600), at: t(0) });
    tr.report(t(5), t(60));
    expect(tr.view(t(5))).toEqual({ known: true, stationary_since: t(5), at: t(5) });
    tr.report(t(10), null);
    expect(tr.view(t(10))).toEqual({ known: true, stationary_since: null, at: t(10) });
  });

  it.each([
    [{ accel_g: 1.0, gyro_rad_s: null }, false],
    [{ accel_g: 1.04, gyro_rad_s: null }, false],
    [{ accel_g: 1.06, gyro_rad_s: null }, true],
    [{ accel_g: 0.94, gyro_rad_s: null }, true],
    [{ accel_g: 1.0, gyro_rad_s: 0.05 }, false],
    [{ accel_g: 1.0, gyro_rad_s: 0.2 }, true],
  ])('IMU sample %j moving = %s (thresholds 0.05 g, 0.1 rad/s)', (sample, moving) => {
    expect(imuMoving(sample, { movement_threshold_g: 0.05, gyro_threshold_rad_s: 0.1 })).toBe(moving);
  });
});
