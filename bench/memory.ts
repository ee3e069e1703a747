// Memory figures for the benchmarks that measure the bridge alone (issue #19): the bridge runs in the
// bench process, the simulator (and the virtual fleet) in a child, so this process's resident set is the
// bridge's. Each phase resets the peak (VmHWM) first and records its own peak and where the memory sits
// afterwards, so a missed target says where the memory goes.
import { writeFile } from 'node:fs/promises';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ownPeakRssMb } from '../mender-sim/fleet/child-server.js';

const mb = (b: number) => Math.round(b / 2 ** 20);

/** Reset this process's VmHWM to its current RSS (Linux: `5` into clear_refs), so a phase reports its own peak. */
export async function resetPeakRss(): Promise<void> {
  await writeFile('/proc/self/clear_refs', '5').catch(() => undefined);
}

let gcFn: (() => void) | undefined;
/** A full garbage collection (V8's `gc`, exposed at run time), so a figure is live memory, not garbage. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Where this process's memory sits now, in MiB: V8 heap used/total, external and array buffers, and the
 * rest of the RSS (code, native allocations such as SQLite's page cache, the tsx loader's compiled code). */
export function memoryBreakdown(prefix: string): Record<string, number> {
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const parts: Record<string, number> = {
    rss_now_mb: mb(m.rss),
    heap_used_mb: mb(h.used_heap_size),
    heap_total_mb: mb(h.total_heap_size),
    external_mb: mb(m.external),
    array_buffers_mb: mb(m.arrayBuffers),
    other_native_mb: mb(m.rss - h.total_heap_size - m.external),
  };
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** Phase-by-phase peak RSS of this process. `baseline()` records the RSS before any bridge work (Node,
 * the loader and the modules, after a GC); each `phase()` resets the peak, runs, and records
 * `<name>_peak_rss_mb`, `<name>_growth_mb` (peak minus the RSS at its start) and the heap it leaves behind. */
export class MemoryPhases {
  readonly figures: Record<string, number> = {};
  peakMb = 0;

  baseline(name = 'idle'): number {
    collectGarbage();
    const rss = mb(process.memoryUsage().rss);
    this.figures[`bridge_${name}_rss_mb`] = rss;
    this.figures[`bridge_${name}_heap_used_mb`] = mb(getHeapStatistics().used_heap_size);
    return rss;
  }

  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = process.memoryUsage().rss;
    await resetPeakRss();
    // What the RSS is made of at its highest sample (every 100 ms): V8 heap, external, the rest (native).
    let top = process.memoryUsage();
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      if (m.rss > top.rss) top = m;
    }, 100);
    let r: T;
    try {
      r = await fn();
    } finally {
      clearInterval(sampler);
    }
    const peak = await ownPeakRssMb();
    this.figures[`bridge_${name}_at_peak_heap_total_mb`] = mb(top.heapTotal);
    this.figures[`bridge_${name}_at_peak_heap_used_mb`] = mb(top.heapUsed);
    this.figures[`bridge_${name}_at_peak_external_mb`] = mb(top.external);
    this.figures[`bridge_${name}_at_peak_native_mb`] = mb(top.rss - top.heapTotal - top.external);
    this.peakMb = Math.max(this.peakMb, peak);
    this.figures[`bridge_${name}_peak_rss_mb`] = Math.round(peak);
    this.figures[`bridge_${name}_growth_mb`] = Math.round(peak - start / 2 ** 20);
    this.figures[`bridge_${name}_heap_used_after_mb`] = mb(getHeapStatistics().used_heap_size);
    collectGarbage();
    this.figures[`bridge_${name}_heap_live_after_mb`] = mb(getHeapStatistics().used_heap_size);
    return r;
  }

  /** One line: `idle 150 MB, full sync peak 190 MB (+40), …`. */
  describe(): string {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(this.figures)) {
      const idle = /^bridge_(.+)_rss_mb$/.exec(k);
      if (idle && !k.endsWith('_peak_rss_mb')) parts.push(`${idle[1]!.replace(/_/g, ' ')} ${v} MB`);
      const p = /^bridge_(.+)_peak_rss_mb$/.exec(k);
      if (p) {
        const f = (k: string) => this.figures[`bridge_${p[1]}_${k}`];
        parts.push(
          `${p[1]!.replace(/_/g, ' ')} peak ${v} MB (+${f('growth_mb')}; at the peak V8 heap ${f('at_peak_heap_total_mb')}, external ${f('at_peak_external_mb')}, native ${f('at_peak_native_mb')})`,
        );
      }
    }
    return parts.join(', ');
  }
}
