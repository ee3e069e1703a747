// The 0–1 signal quality score written to readings.json (`signal.quality`), pure. Defined in
// docs/gates.md ("Signal quality score"); change both together.
//
//   ramp(x, lo, hi) = clamp((x − lo) / (hi − lo), 0, 1)
//   LTE   = weighted mean of ramp(RSRP, −120, −80) ×0.5, ramp(RSRQ, −20, −8) ×0.3, ramp(SINR, −5, 20) ×0.2
//           over the values the modem gave (weights renormalised); none → ModemManager's quality % / 100
//   Wi-Fi = ramp(RSSI, −90, −50)
//   radio = the better of LTE and Wi-Fi (the best link counts)
//   probe = (1 − loss% / 50, floored at 0) × (1 up to 300 ms RTT, falling linearly to 0.5 at 2000 ms)
//   quality = radio × probe; radio alone without probes; probe alone (radio taken as 1) without
//             radio metrics (a wired link proven by the probes); unknown with neither.

export interface SignalMetrics {
  lte?: { rsrp_dbm: number | null; rsrq_db: number | null; sinr_db: number | null; quality_pct: number | null } | null;
  wifi_rssi_dbm?: number | null;
  probe?: { rtt_ms_p50: number | null; loss_pct: number } | null;
}

export interface SignalScore {
  quality: number | null;
  lte: number | null;
  wifi: number | null;
  probe: number | null;
}

export function ramp(x: number, lo: number, hi: number): number {
  return Math.min(1, Math.max(0, (x - lo) / (hi - lo)));
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function lteScore(l: NonNullable<SignalMetrics['lte']>): number | null {
  const parts: [number, number][] = [];
  if (l.rsrp_dbm !== null) parts.push([ramp(l.rsrp_dbm, -120, -80), 0.5]);
  if (l.rsrq_db !== null) parts.push([ramp(l.rsrq_db, -20, -8), 0.3]);
  if (l.sinr_db !== null) parts.push([ramp(l.sinr_db, -5, 20), 0.2]);
  if (parts.length === 0) return l.quality_pct === null ? null : ramp(l.quality_pct, 0, 100);
  const w = parts.reduce((a, [, wt]) => a + wt, 0);
  return parts.reduce((a, [s, wt]) => a + s * wt, 0) / w;
}

export function probeFactor(p: NonNullable<SignalMetrics['probe']>): number {
  const loss = Math.max(0, 1 - p.loss_pct / 50);
  if (loss === 0 || p.rtt_ms_p50 === null) return 0;
  const rtt = p.rtt_ms_p50 <= 300 ? 1 : Math.max(0.5, 1 - (0.5 * (p.rtt_ms_p50 - 300)) / 1700);
  return loss * rtt;
}

export function signalScore(m: SignalMetrics): SignalScore {
  const lte = m.lte ? lteScore(m.lte) : null;
  const wifi = m.wifi_rssi_dbm === null || m.wifi_rssi_dbm === undefined ? null : ramp(m.wifi_rssi_dbm, -90, -50);
  const probe = m.probe ? probeFactor(m.probe) : null;
  const radio = lte === null && wifi === null ? null : Math.max(lte ?? 0, wifi ?? 0);
  const quality = radio === null && probe === null ? null : (radio ?? 1) * (probe ?? 1);
  const r = (x: number | null) => (x === null ? null : round2(x));
  return { quality: r(quality), lte: r(lte), wifi: r(wifi), probe: r(probe) };
}
