// gpsd's JSON protocol over TCP (gpsd_json(5)): after `?WATCH={"enable":true,"json":true}` gpsd
// streams one JSON object per line; TPV carries `mode` (0/1 no fix, 2 = 2D, 3 = 3D) and `speed`
// (m/s over ground). The client reconnects with backoff and never throws; no fix, no speed or no
// TPV for a while make the motion unknown.
import type { Socket } from 'node:net';
import * as z from 'zod/mini';

export const WATCH_COMMAND = '?WATCH={"enable":true,"json":true};\n';

const Tpv = z.looseObject({
  class: z.literal('TPV'),
  mode: z.optional(z.number()),
  speed: z.optional(z.number()),
  time: z.optional(z.string()),
});
export type Tpv = z.infer<typeof Tpv>;

/** Pure: what a TPV says about motion: moving, still, or unknown (with why). */
export function tpvMotion(t: Tpv, movingSpeedMps: number): { moving: boolean } | { unknown: string } {
  if ((t.mode ?? 0) < 2) return { unknown: 'GNSS has no fix' };
  if (t.speed === undefined || !Number.isFinite(t.speed)) return { unknown: 'GNSS fix without speed' };
  return { moving: t.speed > movingSpeedMps };
}

export interface GpsdClientOptions {
  host: string;
  port: number;
  onTpv: (t: Tpv) => void;
  onProblem: (problem: string) => void;
  /** First reconnect delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class GpsdClient {
  readonly #o: Required<GpsdClientOptions>;
  #socket: Socket | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delay: number;
  #stopped = false;
  #buffer = '';

  constructor(o: GpsdClientOptions) {
    this.#o = { backoffMs: 1000, maxBackoffMs: 30_000, ...o };
    this.#delay = this.#o.backoffMs;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  #connect(): void {
    // node:net is loaded on first use: sensord on a van without GNSS does not carry it (bench/gates.ts).
    void import('node:net').then(({ connect }) => {
      if (this.#stopped) return;
      this.#open(connect({ host: this.#o.host, port: this.#o.port }));
    });
  }

  #open(s: Socket): void {
    this.#socket = s;
    this.#buffer = '';
    s.setEncoding('utf8');
    s.on('connect', () => {
      this.#delay = this.#o.backoffMs;
      s.write(WATCH_COMMAND);
    });
    s.on('data', (chunk: string) => this.#onData(chunk));
    s.on('error', (e: NodeJS.ErrnoException) =>
      this.#o.onProblem(`gpsd ${this.#o.host}:${this.#o.port}: ${e.code ?? e.message}`),
    );
    s.on('close', () => {
      if (this.#socket === s) this.#socket = null;
      if (this.#stopped) return;
      this.#o.onProblem(`gpsd ${this.#o.host}:${this.#o.port}: connection closed`);
      this.#timer = setTimeout(() => this.#connect(), this.#delay);
      this.#delay = Math.min(this.#delay * 2, this.#o.maxBackoffMs);
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    if (this.#buffer.length > 1 << 20) this.#buffer = ''; // a runaway line: drop it
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line.startsWith('{"class":"TPV"')) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        continue;
      }
      const t = Tpv.safeParse(raw);
      if (t.success) this.#o.onTpv(t.data);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket?.destroy();
    this.#socket = null;
  }
}
