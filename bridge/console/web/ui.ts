// Shared pieces of every page: the data hook with loading / error / empty states, the reason form that
// guards every ops action, and the context that hands pages the API and the signed-in caller.
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { html } from 'htm/preact';
import { type Api, ApiError, type SessionInfo } from './api.js';

export { html };

export interface AppCtx {
  api: Api;
  session: SessionInfo;
}
export const Ctx = createContext<AppCtx | null>(null);
export function useApp(): AppCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('console context missing');
  return c;
}

export type Load<T> =
  { state: 'loading'; data?: T } | { state: 'ok'; data: T } | { state: 'error'; error: string; data?: T };

/** Loads on mount and whenever `key` changes; keeps the last data while reloading. */
export function useLoad<T>(key: string, fetcher: () => Promise<T>): Load<T> & { reload: () => void } {
  const [load, setLoad] = useState<Load<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoad((l) => ({ state: 'loading', ...(l.data !== undefined ? { data: l.data } : {}) }));
    fetcher().then(
      (data) => live && setLoad({ state: 'ok', data }),
      (e: unknown) =>
        live &&
        setLoad((l) => ({
          state: 'error',
          error: e instanceof ApiError || e instanceof Error ? e.message : String(e),
          ...(l.data !== undefined ? { data: l.data } : {}),
        })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...load, reload };
}

/** Loading, error or (through `empty`) empty state; renders `body` once there is data. */
export function View<T>({
  load,
  empty,
  emptyText,
  body,
}: {
  load: Load<T> & { reload: () => void };
  empty?: (d: T) => boolean;
  emptyText?: string;
  body: (d: T) => ComponentChildren;
}) {
  if (load.state === 'error')
    return html`<div class="state error" role="alert">
      <strong>Could not load this view.</strong> ${load.error}
      <button type="button" onClick=${load.reload}>Try again</button>
      ${
        load.data !== undefined
          ? html`<p class="muted">Showing the last data loaded.</p>
              ${body(load.data)}`
          : null
      }
    </div>`;
  if (load.data === undefined) return html`<p class="state loading" aria-busy="true">Loading…</p>`;
  if (empty?.(load.data)) return html`<p class="state empty">${emptyText ?? 'Nothing to show.'}</p>`;
  return html`<div aria-busy=${load.state === 'loading'}>${body(load.data)}</div>`;
}

/**
 * An ops action that needs a reason (kept in the audit trail): a button that opens a small form. Only
 * rendered for ops; the bridge refuses the write for anyone else anyway.
 */
export function ReasonAction({
  label,
  danger,
  run,
  done,
}: {
  label: string;
  danger?: boolean;
  run: (reason: string) => Promise<unknown>;
  done?: () => void;
}) {
  const { session } = useApp();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (session.role !== 'ops') return null;
  if (!open)
    return html`<button
      type="button"
      class=${danger ? 'danger' : ''}
      data-action=${label}
      onClick=${() => setOpen(true)}
    >
      ${label}
    </button>`;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!reason.trim()) {
      setError('Give a reason: it goes into the audit trail.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await run(reason.trim());
      setOpen(false);
      setReason('');
      done?.();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="reason-form" onSubmit=${submit}>
    <label>
      Reason for “${label}” (kept in the audit trail)
      <input
        name="reason"
        required
        maxlength="500"
        value=${reason}
        onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)}
        ref=${(el: HTMLInputElement | null) => el?.focus()}
      />
    </label>
    <button type="submit" class=${danger ? 'danger' : 'primary'} disabled=${busy}>
      ${busy ? 'Working…' : `Confirm ${label}`}
    </button>
    <button type="button" onClick=${() => setOpen(false)}>Cancel</button>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </form>`;
}

export function Table({ head, rows, caption }: { head: string[]; rows: ComponentChildren[][]; caption?: string }) {
  return html`<div class="table-wrap" tabindex="0">
    <table>
      ${
        caption
          ? html`<caption>
              ${caption}
            </caption>`
          : null
      }
      <thead>
        <tr>
          ${head.map((c) => html`<th scope="col">${c}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              ${r.map((c) => html`<td>${c}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export const enc = encodeURIComponent;
