// VPN migration (Tailscale → Headscale): vans per step, stuck and reverted vans; ops hold / release /
// roll back a van, each with a reason kept in the migration's audit trail.
import type * as z from 'zod';
import type { MigrationBody } from '../../../vpn/api.js';
import { BarChart } from '../charts.js';
import { Time } from '../format.js';
import { ReasonAction, Table, View, enc, html, useApp, useLoad } from '../ui.js';
import { vpnStateWords, vpnStepWords, words } from '../words.js';

type Migration = z.infer<typeof MigrationBody>;
type MigrationLine = Pick<Migration, 'id' | 'status' | 'created_at' | 'created_by' | 'updated_at'>;
type VanLine = Migration['stuck'][number];

export function VpnListPage() {
  const { api } = useApp();
  const load = useLoad('vpn', () => api.get<MigrationLine[]>('/vpn-migrations'));
  return html`<section>
    <h1>VPN migration</h1>
    <${View}
      load=${load}
      empty=${(d: MigrationLine[]) => d.length === 0}
      emptyText="No VPN migration has been started. Ops start one with: vancore-ota vpn migrate start."
      body=${(d: MigrationLine[]) =>
        html`<${Table}
          head=${['Migration', 'Status', 'Started', 'By', 'Updated']}
          rows=${d.map((m) => [
            html`<a href=${`#/vpn/${enc(m.id)}`}>${m.id}</a>`,
            m.status,
            html`<${Time} iso=${m.created_at} />`,
            m.created_by,
            html`<${Time} iso=${m.updated_at} />`,
          ])}
        />`}
    />
  </section>`;
}

function VanList({
  title,
  vans,
  empty,
  migration,
  actions,
  done,
}: {
  title: string;
  vans: VanLine[];
  empty: string;
  migration: string;
  actions: ('hold' | 'release' | 'rollback')[];
  done: () => void;
}) {
  const { api } = useApp();
  const run = (vanId: string, action: string) => (reason: string) =>
    api.post(`/vpn-migrations/${enc(migration)}/vans/${enc(vanId)}/${action}`, { reason });
  return html`<article class="panel">
    <h2>${title} (${vans.length})</h2>
    ${
      vans.length === 0
        ? html`<p class="state empty">${empty}</p>`
        : html`<${Table}
            head=${['Van', 'State', 'Step', 'Detail', '']}
            rows=${vans.map((v) => [
              html`<a href=${`#/vans/${enc(v.van_id)}`}>${v.van_id}</a>`,
              words(vpnStateWords, v.state),
              words(vpnStepWords, v.step),
              v.detail,
              html`<div class="actions">
                ${actions.map(
                  (a) =>
                    html`<${ReasonAction}
                      label=${a === 'rollback' ? 'Roll back' : a[0]!.toUpperCase() + a.slice(1)}
                      danger=${a === 'rollback'}
                      run=${run(v.van_id, a)}
                      done=${done}
                    />`,
                )}
              </div>`,
            ])}
          />`
    }
  </article>`;
}

export function VpnPage({ id }: { id: string }) {
  const { api } = useApp();
  const load = useLoad(`vpn:${id}`, () => api.get<Migration>(`/vpn-migrations/${enc(id)}`));
  return html`<section>
    <p><a href="#/vpn">← VPN migrations</a></p>
    <h1>VPN migration ${id}</h1>
    <${View}
      load=${load}
      body=${(m: Migration) => html`
        <p>Status <strong>${m.status}</strong> · started <${Time} iso=${m.created_at} /> by ${m.created_by}</p>
        ${
          m.notes.length
            ? html`<ul class="notes">
                ${m.notes.map((n) => html`<li>${n}</li>`)}
              </ul>`
            : null
        }
        <div class="grid">
          <article class="panel">
            <h2>Vans per step</h2>
            ${
              m.per_step.length === 0
                ? html`<p class="state empty">No van in scope yet.</p>`
                : html`<${BarChart}
                      label="Vans per migration step"
                      bars=${m.per_step.map((s) => ({ label: words(vpnStepWords, s.step), value: s.vans }))}
                    />
                    <${Table}
                      head=${['Step', 'Vans', 'States']}
                      rows=${m.per_step.map((s) => [
                        words(vpnStepWords, s.step),
                        s.vans,
                        Object.entries(s.states)
                          .map(([k, n]) => `${k}: ${n}`)
                          .join(', '),
                      ])}
                    />`
            }
          </article>
          <${VanList}
            title="Stuck"
            vans=${m.stuck}
            empty="No van is stuck."
            migration=${id}
            actions=${['hold', 'rollback']}
            done=${load.reload}
          />
          <${VanList}
            title="Reverted by the van"
            vans=${m.reverted}
            empty="No van reverted a step."
            migration=${id}
            actions=${['release', 'hold']}
            done=${load.reload}
          />
          <${VanList}
            title="Held"
            vans=${m.held}
            empty="No van is held."
            migration=${id}
            actions=${['release']}
            done=${load.reload}
          />
          <${VanList}
            title="Rolled back"
            vans=${m.rolled_back}
            empty="No van was rolled back."
            migration=${id}
            actions=${['release']}
            done=${load.reload}
          />
        </div>
        <h2>Audit trail</h2>
        ${
          m.events.length === 0
            ? html`<p class="state empty">No events yet.</p>`
            : html`<${Table}
                head=${['At', 'Who', 'Action', 'Van', 'Reason']}
                rows=${[...m.events]
                  .reverse()
                  .slice(0, 200)
                  .map((e) => [html`<${Time} iso=${e.at} />`, e.actor, e.action, e.device_id ?? '', e.reason ?? ''])}
              />`
        }
      `}
    />
  </section>`;
}
