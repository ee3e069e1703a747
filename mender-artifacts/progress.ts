// Progress on stderr (stdout carries results): a bar redrawn in place on a terminal, plain
// `progress: <what> <n>%` lines in CI logs (one per 10 %, so a 200 MB build logs ten lines, not
// thousands).
import { readFile } from 'node:fs/promises';

export interface Progress {
  /** `fraction` of the whole job done (0–1), with the current phase. Never goes backwards. */
  update(fraction: number, phase: string): void;
  /** The job finished (or failed: `ok` false): end the bar's line. */
  done(ok: boolean): void;
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export const silentProgress: Progress = { update: () => undefined, done: () => undefined };

export function createProgress(stream: ProgressStream, what: string, now: () => number = Date.now): Progress {
  let shown = -1;
  let lastDraw = 0;
  let drawn = false;
  let best = 0;
  if (stream.isTTY) {
    const draw = (fraction: number, phase: string) => {
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - what.length - phase.length - 16));
      const filled = Math.round(fraction * width);
      const pct = String(Math.floor(fraction * 100)).padStart(3);
      stream.write(`\r\x1b[2K${what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${phase}`);
      drawn = true;
    };
    return {
      update(fraction, phase) {
        best = Math.max(best, Math.min(1, fraction));
        const t = now();
        // Redraw at most 10 times a second.
        if (t - lastDraw < 100 && best < 1) return;
        lastDraw = t;
        draw(best, phase);
      },
      done(ok) {
        if (ok) draw(1, 'done');
        if (drawn) stream.write('\n');
      },
    };
  }
  return {
    update(fraction, phase) {
      best = Math.max(best, Math.min(1, fraction));
      // 100 % is for done(): it means finished, not "the last phase reached its end".
      const step = Math.min(90, Math.floor(best * 10) * 10);
      if (step <= shown) return;
      shown = step;
      stream.write(`progress: ${what} ${step}% (${phase})\n`);
    },
    done(ok) {
      if (ok) stream.write(`progress: ${what} 100% (done)\n`);
    },
  };
}

/**
 * Bytes a running process has read plus written so far (Linux /proc/<pid>/io), or undefined where that
 * is not available. mender-artifact prints no progress while writing, so its I/O is the measure.
 */
export async function processIoBytes(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/io`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
    const sum = get('rchar') + get('wchar');
    return Number.isFinite(sum) ? sum : undefined;
  } catch {
    return undefined;
  }
}

/** Poll `sample` every `intervalMs` until the returned stop() is called. */
export function poll(sample: () => Promise<void>, intervalMs: number): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    await sample();
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  timer = setTimeout(() => void tick(), intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
