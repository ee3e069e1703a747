// Dates in the viewer's time zone, with UTC on hover (the `title`) and in `datetime`.
import { html } from 'htm/preact';

const local = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const utc = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'medium',
  timeZone: 'UTC',
});

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return html`<span class="muted">—</span>`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`<span>${iso}</span>`;
  return html`<time datetime=${d.toISOString()} title=${`${utc.format(d)} UTC`}>${local.format(d)}</time>`;
}

/** "3 h 20 min ago" style ages for "since when". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const m = Math.round(Math.abs(ms) / 60_000);
  const text =
    m < 1
      ? 'less than a minute'
      : m < 60
        ? `${m} min`
        : m < 48 * 60
          ? `${Math.floor(m / 60)} h ${m % 60} min`
          : `${Math.floor(m / 1440)} days`;
  return ms >= 0 ? `${text} ago` : `in ${text}`;
}

export const fmtNumber = new Intl.NumberFormat();
