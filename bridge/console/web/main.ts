// The console's shell: sign-in, the navigation, hash routes (#/fleet, #/vans, #/vans/<id>, #/attention,
// #/rollouts[/<id>], #/vpn[/<id>]) and the banner while the bridge is unreachable. See docs/console.md.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, type SessionInfo } from './api.js';
import { AttentionPage } from './pages/attention.js';
import { FleetPage } from './pages/fleet.js';
import { RolloutPage, RolloutsPage } from './pages/rollouts.js';
import { VanPage } from './pages/van.js';
import { VansPage } from './pages/vans.js';
import { VpnListPage, VpnPage } from './pages/vpn.js';
import { Ctx, html } from './ui.js';
import './style.css';

interface Route {
  path: string[];
  params: URLSearchParams;
}

function parseHash(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p = '', q = ''] = raw.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q) };
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV: [string, string][] = [
  ['fleet', 'Fleet'],
  ['vans', 'Vans'],
  ['attention', 'Attention'],
  ['rollouts', 'Rollouts'],
  ['vpn', 'VPN migration'],
];

function SignIn({
  api,
  onSignedIn,
  notice,
}: {
  api: Api;
  onSignedIn: (s: SessionInfo) => void;
  notice: string | null;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.signIn(token));
      setToken('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <h1>VanCore console</h1>
    ${notice ? html`<p class="state" role="status">${notice}</p>` : null}
    <form onSubmit=${submit}>
      <label
        >API token
        <input
          type="password"
          name="token"
          autocomplete="current-password"
          required
          value=${token}
          onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
          autofocus
      /></label>
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      ${error ? html`<p class="error" role="alert" id="signin-error">${error}</p>` : null}
    </form>
    <p class="muted">
      Use the token ops gave you (support: read only; ops: may steer rollouts). The session lasts a working day.
    </p>
  </main>`;
}

function Page({ route }: { route: Route }) {
  const [top = 'fleet', id] = route.path;
  const go = (base: string) => (p: Record<string, string>) => {
    const q = new URLSearchParams(p).toString();
    location.hash = `#/${base}${q ? `?${q}` : ''}`;
  };
  switch (top) {
    case 'fleet':
      return html`<${FleetPage} />`;
    case 'vans':
      return id
        ? html`<${VanPage} vanId=${id} key=${id} />`
        : html`<${VansPage} params=${route.params} go=${go('vans')} />`;
    case 'attention':
      return html`<${AttentionPage} params=${route.params} go=${go('attention')} />`;
    case 'rollouts':
      return id ? html`<${RolloutPage} id=${id} key=${id} />` : html`<${RolloutsPage} />`;
    case 'vpn':
      return id ? html`<${VpnPage} id=${id} key=${id} />` : html`<${VpnListPage} />`;
    default:
      return html`<section>
        <h1>Not found</h1>
        <p class="state empty">There is no page “${top}”. <a href="#/fleet">Go to the fleet</a>.</p>
      </section>`;
  }
}

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [reachable, setReachable] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const [bootError, setBootError] = useState<string | null>(null);
  const api = useMemo(
    () =>
      new Api({
        onReachable: setReachable,
        onSignedOut: () => {
          setNotice('Your session ended. Sign in again.');
          setSession(null);
        },
      }),
    [],
  );
  const route = useRoute();
  useEffect(() => {
    api.session().then(
      (s) => setSession(s ?? null),
      (e: unknown) => setBootError(e instanceof Error ? e.message : String(e)),
    );
  }, [api]);
  const top = route.path[0] ?? 'fleet';
  const ctx = useMemo(() => (session ? { api, session } : null), [api, session]);

  const banner = reachable
    ? null
    : html`<div class="banner" role="status">The bridge is not answering (restarting?). Retrying…</div>`;
  if (bootError)
    return html`${banner}
      <main id="main">
        <p class="state error" role="alert">${bootError}</p>
        <button onClick=${() => location.reload()}>Reload</button>
      </main>`;
  if (session === undefined)
    return html`${banner}
      <p class="state loading">Loading…</p>`;
  if (session === null || !ctx)
    return html`${banner}<${SignIn}
        api=${api}
        notice=${notice}
        onSignedIn=${(s: SessionInfo) => {
          setNotice(null);
          setSession(s);
        }}
      />`;
  const signOut = async () => {
    await api.signOut().catch(() => undefined);
    setNotice('You are signed out.');
    setSession(null);
  };
  return html`<${Ctx.Provider} value=${ctx}>
    <a
      class="skip"
      href="#main"
      onClick=${(e: Event) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}
      >Skip to content</a
    >
    ${banner}
    <header>
      <strong class="brand">VanCore</strong>
      <nav aria-label="Pages">
        ${NAV.map(([k, label]) => html`<a href=${`#/${k}`} aria-current=${top === k ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <span class="who">
        <span title=${session.expires_at ? `session until ${session.expires_at}` : ''}
          >${session.name} (${session.role})</span
        >
        ${session.auth ? html`<button type="button" onClick=${signOut}>Sign out</button>` : null}
      </span>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${route} /></main>
  <//>`;
}

render(html`<${App} />`, document.getElementById('app')!);
