// ModemManager through mmcli's JSON output (`mmcli -J -m N` and `mmcli -J -m N --signal-get`).
// mmcli prints every field as a string ("-95.00", "75") and "--" when unknown; dotted keys become
// nested objects (ModemManager cli/mmcli-output.c, dump_output_json). Extended signal values only
// refresh after `mmcli -m N --signal-setup=<seconds>`, which sensord asks for once at start.
import * as z from 'zod/mini';
import type { CommandRunner } from '../health.js';

const Str = z.optional(z.string());

const ModemInfo = z.looseObject({
  modem: z.looseObject({
    generic: z.looseObject({
      state: Str,
      'access-technologies': z.optional(z.array(z.string())),
      'signal-quality': z.optional(z.looseObject({ value: Str, recent: Str })),
    }),
  }),
});

const LteSignal = z.looseObject({ rsrp: Str, rsrq: Str, rssi: Str, snr: Str });
const ModemSignal = z.looseObject({
  modem: z.looseObject({
    signal: z.looseObject({ lte: z.optional(LteSignal), '5g': z.optional(LteSignal) }),
  }),
});

export interface ModemReading {
  state: string | null;
  access_technologies: string[];
  /** ModemManager's generic 0–100 % signal quality. */
  quality_pct: number | null;
  rsrp_dbm: number | null;
  rsrq_db: number | null;
  sinr_db: number | null;
  rssi_dbm: number | null;
}

/** "-95.00" → -95; "--", "" or garbage → null. */
export function mmNumber(v: string | undefined): number | null {
  if (v === undefined || v === '--' || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Pure: both mmcli outputs → one reading (LTE values; 5G NR values when LTE has none). */
export function parseModem(infoJson: string, signalJson: string | null): ModemReading | { problem: string } {
  const info = ModemInfo.safeParse(parseJson(infoJson));
  if (!info.success) return { problem: 'mmcli -J -m: unexpected output' };
  const g = info.data.modem.generic;
  const out: ModemReading = {
    state: g.state ?? null,
    access_technologies: g['access-technologies'] ?? [],
    quality_pct: mmNumber(g['signal-quality']?.value),
    rsrp_dbm: null,
    rsrq_db: null,
    sinr_db: null,
    rssi_dbm: null,
  };
  if (signalJson !== null) {
    const s = ModemSignal.safeParse(parseJson(signalJson));
    if (s.success) {
      const lte = s.data.modem.signal.lte;
      const nr = s.data.modem.signal['5g'];
      const pick = (k: 'rsrp' | 'rsrq' | 'snr' | 'rssi') => mmNumber(lte?.[k]) ?? mmNumber(nr?.[k]);
      out.rsrp_dbm = pick('rsrp');
      out.rsrq_db = pick('rsrq');
      out.sinr_db = pick('snr');
      out.rssi_dbm = pick('rssi');
    }
  }
  return out;
}

export interface ModemSource {
  setup(): Promise<void>;
  read(): Promise<ModemReading | { problem: string }>;
}

export function mmcliModem(o: {
  mmcli: string;
  index: number;
  runner: CommandRunner;
  timeoutMs?: number;
}): ModemSource {
  const timeoutMs = o.timeoutMs ?? 5000;
  const m = String(o.index);
  type Run = { ok: false; problem: string } | { ok: true; out: string };
  const run = async (args: string[]): Promise<Run> => {
    const r = await o.runner.run([o.mmcli, ...args], { timeoutMs });
    if (r.error) return { ok: false, problem: `${o.mmcli}: ${r.error}` };
    if (r.timedOut) return { ok: false, problem: `${o.mmcli}: no answer within ${timeoutMs} ms` };
    if (r.code !== 0) {
      const why = r.stderr.trim().slice(0, 100);
      return {
        ok: false,
        problem: `${o.mmcli} ${args.join(' ')}: exit ${r.code ?? r.signal ?? '?'}${why ? ` (${why})` : ''}`,
      };
    }
    return { ok: true, out: r.stdout };
  };
  return {
    async setup() {
      await run(['-m', m, '--signal-setup=10']);
    },
    async read() {
      const info = await run(['-J', '-m', m]);
      if (!info.ok) return { problem: info.problem };
      const signal = await run(['-J', '-m', m, '--signal-get']);
      return parseModem(info.out, signal.ok ? signal.out : null);
    },
  };
}
