// Rollouts: the list, and one rollout's waves with live progress over the bridge's SSE stream
// (/api/v1/rollouts/:id/events, bridge/api/rollouts.ts). Ops pause / resume / advance / abort with a
// reason that lands in the audit trail.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { RolloutBody } from '../../../api/rollouts.js';
import { Time } from '../format.js';
import { ReasonAction, Table, View, enc, html, useApp, useLoad } from '../ui.js';
import { reasonWords, words } from '../words.js';

type Rollout = RolloutBody;
type RolloutLine = Pick<
  Rollout,
  'id' | 'release' | 'status' | 'pause_reason' | 'created_at' | 'created_by' | 'updated_at'
>;

export function RolloutsPage() {
  const { api } = useApp();
  const load = useLoad('rollouts', () => api.get<RolloutLine[]>('/rollouts'));
  return html`<section>
    <h1>Rollouts</h1>
    <${View}
      load=${load}
      empty=${(d: RolloutLine[]) => d.length === 0}
      emptyText="No rollout yet. Ops start one with: vancore-ota rollout start <release>."
      body=${(d: RolloutLine[]) =>
        html`<${Table}
          head=${['Rollout', 'Release', 'Status', 'Started', 'By', 'Updated']}
          rows=${d.map((r) => [
            html`<a href=${`#/rollouts/${enc(r.id)}`}>${r.id}</a>`,
            r.release,
            html`<span class=${`status status-${r.status}`}>${r.status}</span
              >${r.pause_reason ? html` <span class="muted">(${r.pause_reason})</span>` : null}`,
            html`<${Time} iso=${r.created_at} />`,
            r.created_by,
            html`<${Time} iso=${r.updated_at} />`,
          ])}
        />`}
    />
  </section>`;
}

/** Sum of the deployments' device outcomes per wave, in the words support uses. */
function waveProgress(w: Rollout['waves'][number]) {
  const sum: Record<string, number> = {};
  for (const d of w.deployments) for (const [k, n] of Object.entries(d.outcomes)) sum[k] = (sum[k] ?? 0) + n;
  const take = (...keys: string[]) => keys.reduce((s, k) => s + (sum[k] ?? 0), 0);
  return {
    updated: take('success', 'already-installed'),
    waiting: take('pending', 'not-seen'),
    in_progress: take('downloading', 'installing', 'rebooting'),
    failed: take('failure'),
    rolled_back: take('rolled_back', 'rolled-back'),
    aborted: take('aborted', 'noartifact', 'decommissioned'),
  };
}

/** The rollout's revert: where it goes back to, why, and how far it got (docs/rollouts.md "Automatic revert"). */
function RevertBlock({ revert: v }: { revert: NonNullable<Rollout['revert']> }) {
  return html`<section id="revert" aria-labelledby="revert-h">
    <h2 id="revert-h">Revert to ${v.previous_release ?? '(no previous release)'}</h2>
    <p>
      <strong class=${`status status-${v.status === 'active' ? 'paused' : 'completed'}`} id="revert-status"
        >${v.status}</strong
      >
      · by ${v.started_by} <${Time} iso=${v.started_at} />
      ${v.finished_at ? html` · finished <${Time} iso=${v.finished_at} />` : null}
    </p>
    <p>Why: “${v.reason}”</p>
    <div class="cards">
      <div class="card"><span class="big" id="revert-landed">${v.landed}</span> of ${v.targets} vans back</div>
      <div class="card"><span class="big">${v.not_landed}</span> not back yet</div>
    </div>
    ${
      v.deployments.length === 0
        ? html`<p class="state empty">
            No revert deployment yet: the next step is under “Next” (it names a missing revert artifact).
          </p>`
        : html`<${Table}
            head=${['Deployment', 'Component', 'Artifact', 'Status', 'Vans', 'Outcomes']}
            rows=${v.deployments.map((d) => [
              d.name,
              d.component,
              html`<code>${d.artifact_name}</code>`,
              d.status,
              d.targets,
              Object.entries(d.outcomes)
                .map(([k, n]) => `${k} ${n}`)
                .join(', ') || '—',
            ])}
          />`
    }
  </section>`;
}

export function RolloutPage({ id }: { id: string }) {
  const { api } = useApp();
  const load = useLoad(`rollout:${id}`, () => api.get<Rollout>(`/rollouts/${enc(id)}`));
  const [live, setLive] = useState<'connecting' | 'live' | 'reconnecting' | 'ended'>('connecting');
  const reload = useRef(load.reload);
  reload.current = load.reload;
  useEffect(() => {
    // EventSource reconnects by itself (with Last-Event-ID) when the bridge restarts.
    const es = new EventSource(`/api/v1/rollouts/${enc(id)}/events`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(() => reload.current(), 150);
    };
    es.onopen = () => setLive('live');
    es.onmessage = refresh;
    es.onerror = () => setLive(es.readyState === EventSource.CLOSED ? 'ended' : 'reconnecting');
    // Every event has its action as the SSE event name; listen to all the controller writes.
    // (bridge/rollout/controller.ts recordEvent calls).
    const names = [
      'create',
      'open_wave',
      'close_wave',
      'deploy',
      'exclude',
      'pause',
      'resume',
      'advance',
      'abort',
      'complete',
      'revert',
      'revert_deploy',
      'revert_finished',
    ];
    for (const n of names) es.addEventListener(n, refresh);
    // Events the list above does not name still change the status: refresh on a slow beat as well.
    const beat = setInterval(() => es.readyState === EventSource.OPEN && reload.current(), 5000);
    return () => {
      es.close();
      clearTimeout(timer);
      clearInterval(beat);
    };
  }, [id]);

  const act = (action: string) => (reason: string) => api.post<Rollout>(`/rollouts/${enc(id)}/${action}`, { reason });
  // After a revert, resume and advance answer 409 (docs/rollouts.md "Automatic revert"): not offered.
  return html`<section>
    <p><a href="#/rollouts">← Rollouts</a></p>
    <h1>Rollout ${id}</h1>
    <p class="muted" aria-live="polite">Live updates: ${live}</p>
    <${View}
      load=${load}
      body=${(r: Rollout) => html`
        <p>
          Release <strong>${r.release}</strong> · status
          <strong class=${`status status-${r.status}`} id="rollout-status">${r.status}</strong>
          ${r.pause_reason ? html` · paused because “${r.pause_reason}”` : null}
        </p>
        <div class="cards">
          ${Object.entries(r.vans).map(([k, n]) => html`<div class="card"><span class="big">${n}</span> ${k}</div>`)}
        </div>
        <div class="actions">
          ${r.status === 'active' ? html`<${ReasonAction} label="Pause" run=${act('pause')} done=${load.reload} />` : null}
          ${
            r.status === 'paused' && !r.revert
              ? html`<${ReasonAction} label="Resume" run=${act('resume')} done=${load.reload} />`
              : null
          }
          ${
            (r.status === 'active' || r.status === 'paused') && !r.revert
              ? html`<${ReasonAction} label="Advance" run=${act('advance')} done=${load.reload} />`
              : null
          }
          ${
            r.status === 'active' || r.status === 'paused'
              ? html`<${ReasonAction} label="Abort" danger=${true} run=${act('abort')} done=${load.reload} />`
              : null
          }
          ${
            !r.revert
              ? html`<${ReasonAction} label="Revert" danger=${true} run=${act('revert')} done=${load.reload} />`
              : null
          }
        </div>
        ${r.revert ? html`<${RevertBlock} revert=${r.revert} />` : null}
        <h2>Waves</h2>
        ${
          r.waves.length === 0
            ? html`<p class="state empty">No wave has opened yet.</p>`
            : html`<${Table}
                head=${[
                  'Wave',
                  'Stage',
                  'Vans',
                  'Updated',
                  'Waiting',
                  'Deferred by reason',
                  'In progress',
                  'Failed',
                  'Rolled back',
                  'Opened',
                  'Closed',
                ]}
                rows=${r.waves.map((w) => {
                  const p = waveProgress(w);
                  return [
                    w.label,
                    w.stage,
                    w.vans,
                    html`<meter
                        min="0"
                        max=${w.vans || 1}
                        value=${p.updated}
                        title=${`${p.updated} of ${w.vans}`}
                      ></meter>
                      ${p.updated}`,
                    p.waiting,
                    Object.keys(w.deferred).length
                      ? html`<ul class="plain">
                          ${Object.entries(w.deferred).map(
                            ([code, n]) => html`<li title=${words(reasonWords, code)}><code>${code}</code> ${n}</li>`,
                          )}
                        </ul>`
                      : '—',
                    p.in_progress,
                    p.failed,
                    p.rolled_back,
                    html`<${Time} iso=${w.opened_at} />`,
                    html`<${Time} iso=${w.closed_at} />`,
                  ];
                })}
              />`
        }
        ${
          r.next.length
            ? html`<h2>Next</h2>
                <ul>
                  ${r.next.map((n) => html`<li>${n.kind}${n.reason ? `: ${n.reason}` : ''}</li>`)}
                </ul>`
            : null
        }
        <h2>Audit trail</h2>
        ${
          r.events.length === 0
            ? html`<p class="state empty">No events yet.</p>`
            : html`<${Table}
                head=${['At', 'Who', 'Action', 'Reason']}
                rows=${[...r.events].reverse().map((e) => [html`<${Time} iso=${e.at} />`, e.actor, e.action, e.reason ?? ''])}
              />`
        }
      `}
    />
  </section>`;
}
