// Plain-text tables for terminal reports: columns sized to content, long cells cut with an ellipsis.
// Cells carry device text: control characters are shown as escapes, never sent to the terminal (#16).
import { neutraliseControls } from '../core/safe-text.js';

export function renderTable(header: string[], rows: string[][], maxWidth = 48): string {
  if (rows.length === 0) return `${header.map(neutraliseControls).join('  ')}\n(none)`;
  const cut = (raw: string) => {
    const s = neutraliseControls(raw);
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const cells = [header, ...rows].map((r) => r.map(cut));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
