// Attention: every van that needs a human, why, and what to do; CSV export of the same list.
import type * as z from 'zod';
import type { AttentionItem } from '../../../api/schemas.js';
import { qs } from '../api.js';
import { Table, View, enc, html, useApp, useLoad } from '../ui.js';
import { attentionWords } from '../words.js';

type Item = z.infer<typeof AttentionItem>;

export function AttentionPage({ params, go }: { params: URLSearchParams; go: (p: Record<string, string>) => void }) {
  const { api } = useApp();
  const code = params.get('code') ?? '';
  const load = useLoad(`attention:${code}`, () => api.get<Item[]>(`/reports/attention${qs({ code })}`));
  return html`<section>
    <h1>Needs attention</h1>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label
        >Reason
        <select
          value=${code}
          onChange=${(e: Event) => go((e.target as HTMLSelectElement).value ? { code: (e.target as HTMLSelectElement).value } : {})}
        >
          <option value="">any</option>
          ${Object.entries(attentionWords).map(([c, w]) => html`<option value=${c}>${w.what}</option>`)}
        </select></label
      >
      <a class="button" href=${`/api/v1/reports/attention${qs({ code, format: 'csv' })}`} download="attention.csv"
        >Export CSV</a
      >
    </form>
    <${View}
      load=${load}
      empty=${(d: Item[]) => d.length === 0}
      emptyText="No van needs a human right now."
      body=${(d: Item[]) =>
        html`<p class="muted">${d.length} items</p>
          <${Table}
            head=${['Van', 'Reason', 'Detail', 'What to do']}
            rows=${d.map((i) => [
              html`<a href=${`#/vans/${enc(i.van_id)}`}>${i.van_id}</a>`,
              html`<span title=${i.code}>${attentionWords[i.code]?.what ?? i.code}</span>`,
              i.detail,
              attentionWords[i.code]?.action ?? '',
            ])}
          />`}
    />
  </section>`;
}
