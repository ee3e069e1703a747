// The console's only door to the bridge: /api/v1, as the CLI uses it. A cookie session carries the
// caller; writes add the session's CSRF token. While the bridge is unreachable (a restart, a network
// blip) reads are retried with a growing pause and the shell shows a banner instead of failing the page.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface SessionInfo {
  name: string;
  role: 'support' | 'ops';
  auth: boolean;
  expires_at: string | null;
  csrf: string | null;
  mender_ui_url: string;
}

export interface Listeners {
  /** The bridge answered again (true) or stopped answering (false). */
  onReachable(reachable: boolean): void;
  /** The session ended (401 on a request that had one). */
  onSignedOut(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Api {
  csrf: string | null = null;
  #reachable = true;

  constructor(private readonly listeners: Listeners) {}

  #setReachable(ok: boolean) {
    if (ok !== this.#reachable) {
      this.#reachable = ok;
      this.listeners.onReachable(ok);
    }
  }

  async #send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    return fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  /** One request; reads wait out an unreachable bridge (up to ~1 min), writes never repeat themselves. */
  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const read = method === 'GET';
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      try {
        res = await this.#send(method, path, body);
      } catch {
        res = undefined;
      }
      // 502/503/504 come from a proxy in front of a restarting bridge.
      const down = res === undefined || res.status === 502 || res.status === 503 || res.status === 504;
      if (!down) {
        this.#setReachable(true);
        if (res!.status === 401 && path !== '/session') this.listeners.onSignedOut();
        return res!;
      }
      this.#setReachable(false);
      if (!read || attempt >= 30) {
        throw new ApiError('The bridge is not answering. Check the connection and try again.', 0, 'UNREACHABLE');
      }
      await sleep(Math.min(250 * 2 ** attempt, 2000));
    }
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<{ data: T; res: Response }> {
    const res = await this.request(method, path, body);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new ApiError(
        `The bridge answered ${res.status} with something that is not JSON.`,
        res.status,
        'BAD_ANSWER',
      );
    }
    if (!res.ok) {
      const e = parsed as { error?: string; code?: string } | null;
      throw new ApiError(e?.error ?? `HTTP ${res.status}`, res.status, e?.code ?? 'HTTP');
    }
    return { data: parsed as T, res };
  }

  async get<T>(path: string): Promise<T> {
    return (await this.json<T>('GET', path)).data;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.json<T>('POST', path, body)).data;
  }

  async session(): Promise<SessionInfo | undefined> {
    const res = await this.request('GET', '/session');
    if (res.status === 401) return undefined;
    if (!res.ok) throw new ApiError(`The bridge answered ${res.status} to /session.`, res.status, 'HTTP');
    const s = (await res.json()) as SessionInfo;
    this.csrf = s.csrf;
    return s;
  }

  async signIn(token: string): Promise<SessionInfo> {
    const res = await this.request('POST', '/session', { token });
    if (res.status === 401 || res.status === 400)
      throw new ApiError(
        'That token was not accepted. Check it (it is case-sensitive, at least 16 characters) or ask ops for a new one.',
        res.status,
        'UNAUTHORIZED',
      );
    if (res.status === 429) throw new ApiError('Too many attempts: wait a minute and try again.', 429, 'RATE_LIMITED');
    if (!res.ok) throw new ApiError(`Sign-in failed: the bridge answered ${res.status}.`, res.status, 'HTTP');
    const s = (await res.json()) as SessionInfo;
    this.csrf = s.csrf;
    return s;
  }

  async signOut(): Promise<void> {
    await this.request('DELETE', '/session');
    this.csrf = null;
  }
}

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
