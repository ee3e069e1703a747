// One van: versions, health over time, the gate in plain words with since when, the update timeline
// (each deployment linked to Mender's UI), VPN state and what needs a human.
import type * as z from 'zod';
import { useMemo } from 'preact/hooks';
import type { VanDetail } from '../../../api/schemas.js';
import { TimeChart } from '../charts.js';
import { Time, ago } from '../format.js';
import { Table, View, enc, html, useApp, useLoad } from '../ui.js';
import {
  attentionWords,
  gateReasonCodes,
  gateStateWords,
  reasonMessage,
  reasonWords,
  vpnStateWords,
  vpnStepWords,
  words,
} from '../words.js';

type Van = z.infer<typeof VanDetail>;

/** Mender's web UI opens a deployment at /ui/deployments/finished?open=true&id=… (mendersoftware/gui,
 * src/js/components/auditlogs/auditlogslist.js, DeploymentLink; the UI is served under /ui/). */
const deploymentUrl = (ui: string, id: string) => `${ui}/ui/deployments/finished?open=true&id=${enc(id)}`;
const deviceUrl = (ui: string, id: string) => `${ui}/ui/devices?id=${enc(id)}`;

function Gate({ van }: { van: Van }) {
  const g = van.gate;
  const codes =
    g.state === 'deferred' || g.state === 'blocked' ? (g.codes.length ? g.codes : gateReasonCodes(g.reason)) : [];
  return html`<div class=${`gate-box gate-${g.state ?? 'unknown'}`} id="gate">
    <p class="gate-state">
      <strong>${words(gateStateWords, g.state)}</strong>
      ${g.since ? html` since <${Time} iso=${g.since} /> <span class="muted">(${ago(g.since)})</span>` : null}
    </p>
    ${
      codes.length
        ? html`<p class="gate-reason">
            Because ${codes.map((c, i) => html`${i ? ' and ' : ''}<span title=${c}>${words(reasonWords, c)}</span>`)}.
            ${reasonMessage(g.reason) ? html`<br /><span class="muted">The hub says: “${reasonMessage(g.reason)}”</span>` : null}
          </p>`
        : null
    }
    ${g.phase && g.phase !== 'none' ? html`<p class="muted">Checked at ${g.phase}</p>` : null}
  </div>`;
}

function Health({ van }: { van: Van }) {
  const hist = useMemo(() => [...van.health_history].reverse(), [van]);
  const times = useMemo(() => hist.map((h) => h.at), [hist]);
  const series = useMemo(
    () => [
      { label: 'Battery %', stroke: '#0969da', values: hist.map((h) => h.battery_soc) },
      {
        label: 'Signal %',
        stroke: '#8250df',
        values: hist.map((h) => (h.signal_quality === null ? null : Math.round(h.signal_quality * 100))),
      },
    ],
    [hist],
  );
  if (hist.length === 0) return html`<p class="state empty">No health reports from this van yet.</p>`;
  return html`<${TimeChart} times=${times} series=${series} yRange=${[0, 100]} label="Battery and signal over time" />
    <details>
      <summary>Table</summary>
      <${Table}
        head=${['At', 'Battery %', 'Signal', 'Shore power', 'Disk ok', 'Temp ok']}
        rows=${van.health_history.map((h) => [
          html`<${Time} iso=${h.at} />`,
          h.battery_soc ?? '—',
          h.signal_quality ?? '—',
          String(h.shore_power ?? '—'),
          String(h.disk_ok ?? '—'),
          String(h.temp_ok ?? '—'),
        ])}
      />
    </details>`;
}

export function VanPage({ vanId }: { vanId: string }) {
  const { api, session } = useApp();
  const load = useLoad(`van:${vanId}`, () => api.get<Van>(`/vans/${enc(vanId)}`));
  const ui = session.mender_ui_url;
  const notFound = load.state === 'error' && /no van/.test(load.error);
  return html`<section>
    <p><a href="#/vans">← Vans</a></p>
    <h1>Van ${vanId}</h1>
    ${
      notFound
        ? html`<p class="state empty" role="alert">
            There is no van ${vanId} in the fleet records. Check the id, or search in <a href="#/vans">Vans</a>.
          </p>`
        : html`<${View}
            load=${load}
            body=${(v: Van) => html`
              <p class="muted">
                ${v.stage} stage${v.hold ? ' · held' : ''} · ${v.device_type ?? 'unknown type'} · last check-in${' '}
                <${Time} iso=${v.last_check_in} />${' · '}
                <a href=${deviceUrl(ui, v.device_id)} target="_blank" rel="noopener">device in Mender</a>
              </p>
              ${v.decommissioned ? html`<p class="state error">This van is decommissioned.</p>` : null}
              <div class="grid">
                <article class="panel">
                  <h2>Update gate</h2>
                  <${Gate} van=${v} />
                </article>
                <article class="panel">
                  <h2>Versions</h2>
                  ${
                    Object.keys(v.components).length
                      ? html`<${Table}
                          head=${['Component', 'Version']}
                          rows=${Object.entries(v.components).map(([c, ver]) => [c, ver])}
                        />`
                      : html`<p class="state empty">No component versions reported.</p>`
                  }
                  <p class="muted">Artifact: ${v.artifact_name ?? '—'}</p>
                </article>
                <article class="panel">
                  <h2>Needs a human?</h2>
                  ${
                    v.attention.length === 0
                      ? html`<p class="state empty">Nothing needs a human on this van.</p>`
                      : html`<ul class="attention">
                          ${v.attention.map(
                            (a) =>
                              html`<li>
                                <strong>${attentionWords[a.code]?.what ?? a.code}</strong>: ${a.detail}<br />
                                <span class="action">→ ${attentionWords[a.code]?.action ?? ''}</span>
                              </li>`,
                          )}
                        </ul>`
                  }
                </article>
                <article class="panel">
                  <h2>VPN</h2>
                  <p>
                    ${words(vpnStateWords, v.vpn.state)}${v.vpn.step ? html` · step: ${words(vpnStepWords, v.vpn.step)}` : null}
                  </p>
                </article>
                <article class="panel wide">
                  <h2>Health over time</h2>
                  <${Health} van=${v} />
                </article>
                <article class="panel wide">
                  <h2>Update timeline</h2>
                  ${
                    v.updates.length === 0
                      ? html`<p class="state empty">No deployment has reached this van yet.</p>`
                      : html`<ol class="timeline">
                          ${v.updates.map(
                            (u) =>
                              html`<li class=${`status-${u.status}`}>
                                <strong>${u.status}</strong> · ${u.artifact_name}${' '}
                                <span class="muted">
                                  · started <${Time} iso=${u.started} />${' · finished '}<${Time} iso=${u.finished}
                                /></span>
                                ${' · '}
                                <a href=${deploymentUrl(ui, u.deployment_id)} target="_blank" rel="noopener"
                                  >${u.deployment} in Mender</a
                                >
                              </li>`,
                          )}
                        </ol>`
                  }
                </article>
                <article class="panel wide">
                  <h2>Gate history</h2>
                  ${
                    v.gate_history.length === 0
                      ? html`<p class="state empty">No gate changes recorded.</p>`
                      : html`<${Table}
                          head=${['Recorded', 'State', 'Reason', 'Since']}
                          rows=${v.gate_history.map((g) => [
                            html`<${Time} iso=${g.recorded_at} />`,
                            words(gateStateWords, g.state),
                            g.reason ?? '',
                            html`<${Time} iso=${g.since} />`,
                          ])}
                        />`
                  }
                </article>
              </div>
            `}
          />`
    }
  </section>`;
}
