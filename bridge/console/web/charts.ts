// Two chart kinds: horizontal bars for counts by category (HTML, each bar focusable with its number in a
// tooltip), and uPlot for series over time (its legend shows the numbers under the cursor). Every chart
// on a page also has a table with the same numbers beside it.
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNumber } from './format.js';

export interface Bar {
  label: string;
  value: number;
  /** Optional link for the bar (e.g. the filtered vans list). */
  href?: string;
}

export function BarChart({ bars, unit = 'vans', label }: { bars: Bar[]; unit?: string; label: string }) {
  const total = bars.reduce((s, b) => s + b.value, 0);
  const max = Math.max(1, ...bars.map((b) => b.value));
  return html`<div class="bars" role="img" aria-label=${label}>
    ${bars.map((b) => {
      const pct = total ? ((100 * b.value) / total).toFixed(1) : '0';
      const tip = `${b.label}: ${fmtNumber.format(b.value)} ${unit} (${pct}%)`;
      const bar = html`<span class="bar-fill" style=${`width:${Math.max(1, (100 * b.value) / max)}%`}></span>`;
      return html`<div class="bar-row" tabindex="0" title=${tip} data-tip=${tip}>
        <span class="bar-label">${b.href ? html`<a href=${b.href} tabindex="-1">${b.label}</a>` : b.label}</span>
        <span class="bar-track">${bar}</span>
        <span class="tip" aria-hidden="true">${tip}</span>
      </div>`;
    })}
  </div>`;
}

export interface Series {
  label: string;
  /** CSS colour. */
  stroke: string;
  values: (number | null)[];
}

/** Series over time; `times` are ISO strings or epoch ms. */
export function TimeChart({
  times,
  series,
  height = 220,
  label,
  yRange,
}: {
  times: (string | number)[];
  series: Series[];
  height?: number;
  label: string;
  yRange?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const xs = times.map((t) => (typeof t === 'number' ? t : Date.parse(t)) / 1000);
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height,
      series: [
        { label: 'Time' },
        ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: true, size: 5 } })),
      ],
      axes: [{}, { size: 46 }],
      scales: yRange ? { y: { range: yRange } } : {},
      cursor: { focus: { prox: 24 } },
      legend: { live: true },
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [times, series, height, yRange]);
  return html`<div class="timechart" ref=${box} role="img" aria-label=${label}></div>`;
}
