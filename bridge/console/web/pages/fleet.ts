// Fleet: versions per component, update outcomes over time, deferrals by reason code, vans by stage.
import type * as z from 'zod';
import { useEffect, useMemo } from 'preact/hooks';
import type { FleetReport } from '../../../api/schemas.js';
import { BarChart, TimeChart } from '../charts.js';
import { fmtNumber } from '../format.js';
import { Table, View, enc, html, useApp, useLoad } from '../ui.js';
import { gateStateWords, reasonWords, words } from '../words.js';

type Fleet = z.infer<typeof FleetReport>;

const OUTCOME_COLOURS = { success: '#1a7f37', failure: '#cf222e', aborted: '#9a6700', already_installed: '#6e7781' };

function Outcomes({ outcomes }: { outcomes: Fleet['outcomes'] }) {
  const times = useMemo(() => outcomes.map((o) => `${o.day}T12:00:00Z`), [outcomes]);
  const series = useMemo(
    () =>
      (Object.keys(OUTCOME_COLOURS) as (keyof typeof OUTCOME_COLOURS)[]).map((k) => ({
        label: k.replace('_', ' '),
        stroke: OUTCOME_COLOURS[k],
        values: outcomes.map((o) => o[k]),
      })),
    [outcomes],
  );
  if (outcomes.length === 0) return html`<p class="state empty">No update finished in the last 30 days.</p>`;
  return html`<${TimeChart} times=${times} series=${series} label="Update outcomes per day, last 30 days" />
    <details>
      <summary>Table</summary>
      <${Table}
        head=${['Day (UTC)', 'Success', 'Failure', 'Aborted', 'Already installed']}
        rows=${outcomes.map((o) => [o.day, o.success, o.failure, o.aborted, o.already_installed])}
      />
    </details>`;
}

export function FleetPage() {
  const { api } = useApp();
  const load = useLoad('fleet', () => api.get<Fleet>('/reports/fleet'));
  useEffect(() => {
    if (load.state === 'ok') performance.mark('vc:fleet-ready');
  }, [load.state]);
  return html`<section>
    <h1>Fleet</h1>
    <${View}
      load=${load}
      empty=${(d: Fleet) => d.vans_total === 0}
      emptyText="No vans yet: the bridge has not synced any device from Mender. Check Mender's device list and the bridge's sync (/readyz)."
      body=${(d: Fleet) => html`
        <div class="cards">
          <div class="card"><span class="big">${fmtNumber.format(d.vans_total)}</span> vans</div>
          ${Object.entries(d.gate_states).map(
            ([s, n]) =>
              html`<a class="card" href=${`#/vans?gate_state=${enc(s)}`}
                ><span class="big">${fmtNumber.format(n)}</span> ${words(gateStateWords, s)}</a
              >`,
          )}
        </div>
        <div class="grid">
          <article class="panel" id="versions">
            <h2>Versions per component</h2>
            ${
              Object.keys(d.versions).length === 0
                ? html`<p class="state empty">No van has reported component versions.</p>`
                : Object.entries(d.versions).map(
                    ([component, list]) =>
                      html`<h3>${component}</h3>
                        <${BarChart}
                          label=${`Vans per ${component} version`}
                          bars=${list.map((v) => ({
                            label: v.version,
                            value: v.vans,
                            href: `#/vans?component=${enc(component)}&version=${enc(v.version)}`,
                          }))}
                        />
                        <${Table}
                          head=${['Version', 'Vans']}
                          rows=${list.map((v) => [v.version, fmtNumber.format(v.vans)])}
                        />`,
                  )
            }
          </article>
          <article class="panel" id="outcomes">
            <h2>Update outcomes over time</h2>
            <${Outcomes} outcomes=${d.outcomes} />
          </article>
          <article class="panel" id="deferrals">
            <h2>Why vans wait (deferrals by reason)</h2>
            ${
              d.deferral_codes.length === 0
                ? html`<p class="state empty">No van is waiting for better conditions.</p>`
                : html`<${BarChart}
                      label="Deferred vans by reason code"
                      bars=${d.deferral_codes.map((c) => ({ label: c.code, value: c.vans, href: '#/vans?gate_state=deferred' }))}
                    />
                    <${Table}
                      head=${['Reason code', 'Meaning', 'Vans']}
                      rows=${d.deferral_codes.map((c) => [html`<code>${c.code}</code>`, words(reasonWords, c.code), fmtNumber.format(c.vans)])}
                    />`
            }
          </article>
          <article class="panel" id="stages">
            <h2>Vans by stage</h2>
            <${BarChart}
              label="Vans per rollout stage"
              bars=${Object.entries(d.by_stage).map(([s, n]) => ({ label: s, value: n, href: `#/vans?stage=${enc(s)}` }))}
            />
            <${Table}
              head=${['Stage', 'Vans']}
              rows=${Object.entries(d.by_stage).map(([s, n]) => [s, fmtNumber.format(n)])}
            />
          </article>
        </div>
      `}
    />
  </section>`;
}
