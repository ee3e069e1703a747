import { describe, expect, it } from 'vitest';
import { signalSection } from '../../../state-scripts/sensord.js';
import { probeFactor, ramp, signalScore, type SignalMetrics } from '../../../state-scripts/signal-score.js';

const lte = (rsrp: number | null, rsrq: number | null, sinr: number | null = null, pct: number | null = null) => ({
  rsrp_dbm: rsrp,
  rsrq_db: rsrq,
  sinr_db: sinr,
  quality_pct: pct,
});

describe('signal quality score (docs/gates.md)', () => {
  it.each([
    [-130, -120, -80, 0],
    [-120, -120, -80, 0],
    [-100, -120, -80, 0.5],
    [-80, -120, -80, 1],
    [-60, -120, -80, 1],
  ])('ramp(%d, %d, %d) = %d', (x, lo, hi, want) => {
    expect(ramp(x, lo, hi)).toBe(want);
  });

  it.each<[string, SignalMetrics, number | null]>([
    ['nothing known', {}, null],
    ['excellent LTE', { lte: lte(-80, -8, 20) }, 1],
    ['cell edge LTE', { lte: lte(-120, -20, -5) }, 0],
    ['mid LTE: RSRP −100, RSRQ −14, SINR 7.5', { lte: lte(-100, -14, 7.5) }, 0.5],
    ['LTE without SINR: weights renormalised', { lte: lte(-90, -11) }, 0.75],
    ['only ModemManager quality 64 %', { lte: lte(null, null, null, 64) }, 0.64],
    ['Wi-Fi −56 dBm', { wifi_rssi_dbm: -56 }, 0.85],
    ['best link counts: weak LTE, good Wi-Fi', { lte: lte(-115, -18), wifi_rssi_dbm: -55 }, 0.88],
    ['probes clean and fast: unchanged', { lte: lte(-90, -11), probe: { rtt_ms_p50: 80, loss_pct: 0 } }, 0.75],
    ['20 % loss penalises', { lte: lte(-90, -11), probe: { rtt_ms_p50: 80, loss_pct: 20 } }, 0.45],
    ['50 % loss: no usable link', { lte: lte(-80, -8, 20), probe: { rtt_ms_p50: 80, loss_pct: 50 } }, 0],
    ['every probe lost', { wifi_rssi_dbm: -40, probe: { rtt_ms_p50: null, loss_pct: 100 } }, 0],
    ['RTT 1150 ms: ×0.75', { lte: lte(-80, -8, 20), probe: { rtt_ms_p50: 1150, loss_pct: 0 } }, 0.75],
    ['RTT 5 s: floor ×0.5', { lte: lte(-80, -8, 20), probe: { rtt_ms_p50: 5000, loss_pct: 0 } }, 0.5],
    ['wired: probes only', { probe: { rtt_ms_p50: 30, loss_pct: 0 } }, 1],
  ])('%s', (_name, m, q) => {
    expect(signalScore(m).quality).toBe(q);
  });

  it('probe factor stays within 0–1', () => {
    for (const loss of [0, 10, 49, 50, 100]) {
      for (const rtt of [null, 0, 300, 2000, 60_000]) {
        const f = probeFactor({ rtt_ms_p50: rtt, loss_pct: loss });
        expect(f).toBeGreaterThanOrEqual(0);
        expect(f).toBeLessThanOrEqual(1);
      }
    }
  });

  it('the readings section leaves out values the schema would refuse', () => {
    const at = new Date('2026-11-22T10:00:00Z');
    const modem = {
      state: 'connected',
      access_technologies: ['lte'],
      quality_pct: 70,
      rsrp_dbm: -95,
      rsrq_db: -11,
      sinr_db: 99,
      rssi_dbm: -65,
    };
    expect(signalSection({ at, modem, wifi_rssi_dbm: 12, probe: { rtt_ms_p50: 40, loss_pct: 0 } })).toEqual({
      quality: 0.67,
      lte: { rsrp_dbm: -95, rsrq_db: -11 },
      ping: { rtt_ms_p50: 40, loss_pct: 0 },
      at: at.toISOString(),
    });
    expect(signalSection({ at, modem: null, wifi_rssi_dbm: null, probe: null })).toBeNull();
  });
});
