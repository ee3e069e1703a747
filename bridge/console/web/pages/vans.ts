// Vans: search by id, filters (stage, component version, gate state, attention), server-side paging and
// sorting, CSV export of every matching van. The filters live in the address (#/vans?…), so a link or a
// reload shows the same list.
import type * as z from 'zod';
import { useEffect, useState } from 'preact/hooks';
import type { FleetReport, VanSummary } from '../../../api/schemas.js';
import { qs } from '../api.js';
import { Time, ago } from '../format.js';
import { View, enc, html, useApp, useLoad } from '../ui.js';
import { gateStateWords, words } from '../words.js';

type Van = z.infer<typeof VanSummary>;
const PER_PAGE = 50;
const SORTABLE: [string, string][] = [
  ['van_id', 'Van'],
  ['stage', 'Stage'],
  ['gate_state', 'Gate'],
  ['gate_since', 'Since'],
  ['last_check_in', 'Last check-in'],
];

export function VansPage({ params, go }: { params: URLSearchParams; go: (p: Record<string, string>) => void }) {
  const { api } = useApp();
  const f = Object.fromEntries(params) as Record<string, string>;
  const page = Math.max(1, Number(f.page ?? 1) || 1);
  const sort = f.sort ?? 'van_id';
  const query = qs({
    q: f.q,
    stage: f.stage,
    gate_state: f.gate_state,
    needs_attention: f.needs_attention,
    component: f.component,
    version: f.component ? f.version : undefined,
    sort,
  });
  const load = useLoad(`${query}&${page}`, async () => {
    const { data, res } = await api.json<Van[]>(
      'GET',
      `/vans${query}${query ? '&' : '?'}page=${page}&per_page=${PER_PAGE}`,
    );
    return { vans: data, total: Number(res.headers.get('x-total-count') ?? data.length) };
  });
  const versions = useLoad('fleet-versions', () => api.get<z.infer<typeof FleetReport>>('/reports/fleet'));
  const [search, setSearch] = useState(f.q ?? '');
  useEffect(() => setSearch(f.q ?? ''), [f.q]);
  useEffect(() => {
    if (load.state === 'ok') performance.mark(`vc:vans-ready:${page}`);
  }, [load.state, page]);

  const set = (patch: Record<string, string | undefined>) => {
    const next: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...f, page: undefined, ...patch })) if (v) next[k] = v;
    go(next);
  };
  const select = (name: string, label: string, options: [string, string][]) =>
    html`<label
      >${label}
      <select
        name=${name}
        value=${f[name] ?? ''}
        onChange=${(e: Event) => set({ [name]: (e.target as HTMLSelectElement).value || undefined })}
      >
        <option value="">any</option>
        ${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}
      </select></label
    >`;
  const components = Object.keys(versions.data?.versions ?? {});
  const componentVersions = f.component ? (versions.data?.versions[f.component] ?? []).map((v) => v.version) : [];
  const total = load.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));

  return html`<section>
    <h1>Vans</h1>
    <form
      class="filters"
      role="search"
      onSubmit=${(e: Event) => {
        e.preventDefault();
        set({ q: search.trim() || undefined });
      }}
    >
      <label
        >Van id
        <input
          type="search"
          name="q"
          placeholder="e.g. van-381"
          value=${search}
          onInput=${(e: Event) => setSearch((e.target as HTMLInputElement).value)}
      /></label>
      <button type="submit">Search</button>
      ${select('stage', 'Stage', [
        ['internal', 'internal'],
        ['pilot', 'pilot'],
        ['fleet', 'fleet'],
      ])}
      ${select('gate_state', 'Gate', [
        ['open', gateStateWords.open!],
        ['deferred', gateStateWords.deferred!],
        ['blocked', gateStateWords.blocked!],
      ])}
      ${select('needs_attention', 'Attention', [
        ['true', 'needs a human'],
        ['false', 'fine'],
      ])}
      ${select(
        'component',
        'Component',
        components.map((c) => [c, c]),
      )}
      ${
        f.component
          ? select(
              'version',
              'Version',
              componentVersions.map((v) => [v, v]),
            )
          : null
      }
      <a class="button" href=${`/api/v1/vans${query}${query ? '&' : '?'}format=csv`} download="vans.csv">Export CSV</a>
    </form>
    <${View}
      load=${load}
      empty=${(d: { vans: Van[] }) => d.vans.length === 0}
      emptyText=${f.q ? `No van id contains “${f.q}” with these filters.` : 'No van matches these filters.'}
      body=${(d: { vans: Van[]; total: number }) => html`
        <p class="muted" aria-live="polite">${d.total} vans · page ${page} of ${pages}</p>
        <div class="table-wrap" tabindex="0">
          <table class="vans">
            <thead>
              <tr>
                ${SORTABLE.map(([key, label]) => {
                  const active = sort.replace(/^-/, '') === key;
                  const desc = sort.startsWith('-');
                  return html`<th scope="col" aria-sort=${active ? (desc ? 'descending' : 'ascending') : 'none'}>
                    <button
                      type="button"
                      class="sort"
                      onClick=${() => set({ sort: active && !desc ? `-${key}` : key })}
                    >
                      ${label} ${active ? (desc ? '▼' : '▲') : ''}
                    </button>
                  </th>`;
                })}
                <th scope="col">Versions</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              ${d.vans.map(
                (v) =>
                  html`<tr>
                    <td>
                      <a href=${`#/vans/${enc(v.van_id)}`}>${v.van_id}</a
                      >${v.hold ? html` <span class="pill">held</span>` : null}
                    </td>
                    <td>${v.stage}</td>
                    <td>
                      <span class=${`gate gate-${v.gate.state ?? 'unknown'}`}
                        >${words(gateStateWords, v.gate.state)}</span
                      >
                    </td>
                    <td>
                      ${v.gate.since ? html`<${Time} iso=${v.gate.since} /> <span class="muted">(${ago(v.gate.since)})</span>` : '—'}
                    </td>
                    <td><${Time} iso=${v.last_check_in} /></td>
                    <td class="versions">
                      ${Object.entries(v.components)
                        .map(([c, ver]) => `${c} ${ver}`)
                        .join(', ')}
                    </td>
                    <td>${v.gate.reason ?? ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled=${page <= 1} onClick=${() => set({ page: String(page - 1) })}>
            ← Previous
          </button>
          <span>Page ${page} of ${pages}</span>
          <button type="button" data-next disabled=${page >= pages} onClick=${() => set({ page: String(page + 1) })}>
            Next →
          </button>
        </nav>
      `}
    />
  </section>`;
}
