// A stand-in for the Home Assistant Supervisor and HA Core's REST API (tests only), on node:http with
// port 0. It answers as the sources cited beside each route do; docs/home-assistant.md has the table.
//   Supervisor API docs: developers.home-assistant docs/api/supervisor/endpoints.md
//   Supervisor code:     home-assistant/supervisor supervisor/api/utils.py (envelope, 400 errors,
//                        voluptuous "extra keys not allowed"), api/store.py (update: only `backup`, to
//                        version_latest), api/backups.py (partial backup / restore schemas, answers),
//                        api/jobs.py (/jobs/info tree: uuid, name, reference, done, child_jobs)
//   HA Core REST docs:   developers.home-assistant docs/api/rest.md (/api/states, /api/services,
//                        401 without a valid token, 404 for an unknown entity)
// The test drives the model directly (`standin.addons`, `standin.states`, `standin.down()`).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AddonState = 'started' | 'stopped' | 'startup' | 'error' | 'unknown';

export interface StandinAddon {
  slug: string;
  name: string;
  version: string;
  /** What the store offers (the only version an update can go to). */
  version_latest: string;
  state: AddonState;
  watchdog: boolean;
  /** What the add-on keeps in /data (backed up and restored with it). */
  data: string;
}

export interface StandinBackup {
  slug: string;
  name: string;
  date: string;
  type: 'partial';
  protected: false;
  compressed: true;
  content: { homeassistant: false; addons: string[]; folders: string[] };
  addons: { slug: string; name: string; version: string; state: AddonState; data: string }[];
}

export interface StandinJob {
  uuid: string;
  name: string;
  reference: string | null;
  progress: number;
  stage: string | null;
  done: boolean;
  errors: { type: string; message: string; stage: string | null }[];
  created: string;
  child_jobs: StandinJob[];
}

export interface EntityState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed: string;
  last_updated: string;
}

export interface StandinOptions {
  supervisorToken: string;
  /** HA Core long-lived token (for /api/* and the /api/hassio proxy). */
  coreToken: string;
  addons?: StandinAddon[];
  /** Versions that crash at start: the add-on ends in state `error` after an update or start. */
  crashing?: Record<string, string[]>;
  /** How long an update / backup / restore job runs (ms): the window a kill -9 can land in. */
  jobMs?: number;
}

export interface Standin {
  url: string;
  addons: Map<string, StandinAddon>;
  backups: Map<string, StandinBackup>;
  jobs: StandinJob[];
  crashing: Map<string, Set<string>>;
  states: Map<string, EntityState>;
  /** Service calls received by HA Core, in order. */
  serviceCalls: { domain: string; service: string; data: Record<string, unknown> }[];
  /** Every request, `METHOD path` (for "nothing changed" assertions). */
  requests: string[];
  close(): Promise<void>;
}

const iso = () => new Date().toISOString();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** supervisor/api/utils.py api_return_ok / api_return_error. */
function ok(res: ServerResponse, data: unknown = {}): void {
  send(res, 200, { result: 'ok', data });
}
function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  // utils.py json_loads: '' and None are {}; invalid JSON is APIError("Invalid json").
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'expected a dictionary');
    return v as Record<string, unknown>;
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, 'Invalid json');
  }
}

/** voluptuous Schema without extra=ALLOW_EXTRA, as humanize_error words it. */
function onlyKeys(body: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k))
      throw new HttpError(400, `extra keys not allowed @ data['${k}']. Got ${JSON.stringify(body[k])}`);
  }
}

function tokenOf(req: IncomingMessage): string | undefined {
  // utils.py excract_supervisor_token: X-Supervisor-Token, X-Hassio-Key, else Authorization's last word.
  const h = req.headers;
  const t = h['x-supervisor-token'] ?? h['x-hassio-key'] ?? h.authorization?.split(' ').pop();
  return typeof t === 'string' ? t : undefined;
}

export async function startHaStandin(o: StandinOptions): Promise<Standin> {
  const addons = new Map((o.addons ?? []).map((a) => [a.slug, { ...a }]));
  const crashing = new Map(Object.entries(o.crashing ?? {}).map(([k, v]) => [k, new Set(v)]));
  const backups = new Map<string, StandinBackup>();
  const jobs: StandinJob[] = [];
  const states = new Map<string, EntityState>();
  const serviceCalls: Standin['serviceCalls'] = [];
  const requests: string[] = [];
  const jobMs = o.jobMs ?? 0;

  /** Run `work` as a Supervisor job: listed in /jobs/info while it runs (done: false). */
  const job = async <T>(name: string, reference: string | null, work: () => T): Promise<{ uuid: string; value: T }> => {
    const j: StandinJob = {
      uuid: randomBytes(16).toString('hex'),
      name,
      reference,
      progress: 0,
      stage: null,
      done: false,
      errors: [],
      created: iso(),
      child_jobs: [],
    };
    jobs.push(j);
    if (jobMs > 0) await new Promise((r) => setTimeout(r, jobMs));
    try {
      const value = work();
      return { uuid: j.uuid, value };
    } catch (e) {
      j.errors.push({ type: 'SupervisorError', message: (e as Error).message, stage: null });
      throw e;
    } finally {
      j.done = true;
      j.progress = 100;
    }
  };

  /** Start an add-on: `started`, unless its version is one that crashes (then `error`). */
  const start = (a: StandinAddon) => {
    a.state = crashing.get(a.slug)?.has(a.version) ? 'error' : 'started';
  };

  const addonOr404 = (slug: string): StandinAddon => {
    const a = addons.get(slug);
    // api/addons.py _extract_addon: APINotFound("Addon <slug> does not exist") (404 since 2023.x).
    if (!a) throw new HttpError(404, `Addon ${slug} does not exist`);
    return a;
  };

  const info = (a: StandinAddon) => ({
    name: a.name,
    slug: a.slug,
    version: a.version,
    version_latest: a.version_latest,
    update_available: a.version !== a.version_latest,
    state: a.state,
    watchdog: a.watchdog,
    boot: 'auto',
    installed: true,
    available: true,
    repository: 'core',
  });

  /** Supervisor routes; `path` without any proxy prefix. */
  const supervisor = async (method: string, path: string, req: IncomingMessage, res: ServerResponse) => {
    let m: RegExpMatchArray | null;
    if (method === 'GET' && path === '/supervisor/ping') return ok(res);
    if (method === 'GET' && (m = path.match(/^\/addons\/([^/]+)\/info$/))) return ok(res, info(addonOr404(m[1] ?? '')));
    if (method === 'POST' && path === '/store/reload') return ok(res);
    if (method === 'POST' && (m = path.match(/^\/store\/addons\/([^/]+)\/update$/))) {
      const body = await readBody(req);
      onlyKeys(body, ['backup']); // store.py SCHEMA_UPDATE (newer Supervisors also accept `background`)
      const a = addonOr404(m[1] ?? '');
      // addons/manager.py update(): "No update available for add-on <slug>" when already at the latest.
      if (a.version === a.version_latest) throw new HttpError(400, `No update available for add-on ${a.slug}`);
      const wasRunning = a.state === 'started';
      await job('addon_manager_update', a.slug, () => {
        a.version = a.version_latest;
        // A new version may migrate its /data on update (what a restore must undo).
        a.data = `${a.data}; migrated to ${a.version}`;
        a.state = 'stopped';
        // manager.update: an add-on that ran before is started again and the API awaits that start.
        if (wasRunning) start(a);
      });
      return ok(res);
    }
    if (method === 'GET' && path === '/backups') {
      return ok(res, {
        backups: [...backups.values()].map((b) => ({
          slug: b.slug,
          name: b.name,
          date: b.date,
          type: b.type,
          size: 0.01,
          protected: b.protected,
          compressed: b.compressed,
          content: b.content,
        })),
      });
    }
    if (method === 'POST' && path === '/backups/new/partial') {
      const body = await readBody(req);
      onlyKeys(body, [
        'name',
        'filename',
        'password',
        'compressed',
        'location',
        'homeassistant_exclude_database',
        'background',
        'extra',
        'addons',
        'folders',
        'homeassistant',
      ]);
      const list = Array.isArray(body.addons) ? (body.addons as string[]) : [];
      const slug = randomBytes(4).toString('hex');
      const { uuid } = await job('backup_manager_partial_backup', slug, () => {
        const saved = list.map((s) => {
          const a = addonOr404(s);
          return { slug: a.slug, name: a.name, version: a.version, state: a.state, data: a.data };
        });
        backups.set(slug, {
          slug,
          name: typeof body.name === 'string' ? body.name : iso(),
          date: iso(),
          type: 'partial',
          protected: false,
          compressed: true,
          content: { homeassistant: false, addons: list, folders: [] },
          addons: saved,
        });
      });
      return ok(res, { job_id: uuid, slug });
    }
    if ((m = path.match(/^\/backups\/([^/]+)(\/restore\/partial)?$/))) {
      const b = backups.get(m[1] ?? '');
      if (!b) throw new HttpError(404, 'Backup does not exist'); // backups.py _extract_slug
      if (method === 'DELETE' && !m[2]) {
        backups.delete(b.slug);
        return ok(res);
      }
      if (method === 'POST' && m[2]) {
        const body = await readBody(req);
        onlyKeys(body, ['password', 'background', 'location', 'homeassistant', 'addons', 'folders']);
        const want = Array.isArray(body.addons) ? (body.addons as string[]) : [];
        const { uuid } = await job('backup_manager_partial_restore', b.slug, () => {
          for (const s of want) {
            const saved = b.addons.find((x) => x.slug === s);
            if (!saved) throw new HttpError(400, `Addon ${s} is not in backup ${b.slug}`);
            const a = addonOr404(s);
            // A restore puts back the add-on's version (its image) and /data, and starts it if it ran.
            a.version = saved.version;
            a.data = saved.data;
            a.state = 'stopped';
            if (saved.state === 'started') start(a);
          }
        });
        return ok(res, { job_id: uuid });
      }
    }
    if (method === 'GET' && path === '/jobs/info') return ok(res, { ignore_conditions: [], jobs: [...jobs].reverse() });
    throw new HttpError(404, '404: Not Found');
  };

  /** HA Core REST (docs/api/rest.md). Errors are `{"message": …}`. */
  const core = async (method: string, path: string, req: IncomingMessage, res: ServerResponse) => {
    let m: RegExpMatchArray | null;
    if ((m = path.match(/^\/api\/states\/([a-z0-9_]+\.[a-z0-9_]+)$/))) {
      const id = m[1] ?? '';
      if (method === 'GET') {
        const s = states.get(id);
        return s ? send(res, 200, s) : send(res, 404, { message: 'Entity not found.' });
      }
      if (method === 'POST') {
        const body = await readBody(req);
        if (typeof body.state !== 'string' && typeof body.state !== 'number') {
          return send(res, 400, { message: 'No state specified.' });
        }
        const before = states.get(id);
        const now = iso();
        const next: EntityState = {
          entity_id: id,
          state: String(body.state),
          attributes: (body.attributes as Record<string, unknown> | undefined) ?? {},
          last_changed: before && before.state === String(body.state) ? before.last_changed : now,
          last_updated: now,
        };
        states.set(id, next);
        return send(res, before ? 200 : 201, next);
      }
    }
    if (method === 'POST' && (m = path.match(/^\/api\/services\/([a-z0-9_]+)\/([a-z0-9_]+)$/))) {
      const data = await readBody(req);
      serviceCalls.push({ domain: m[1] ?? '', service: m[2] ?? '', data });
      return send(res, 200, []);
    }
    return send(res, 404, { message: 'Not found' });
  };

  let server: Server | null = null;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    const method = req.method ?? 'GET';
    requests.push(`${method} ${url.pathname}`);
    void (async () => {
      try {
        const token = tokenOf(req);
        if (url.pathname.startsWith('/api/')) {
          // HA Core: 401 without a valid long-lived token (rest.md "Authentication").
          if (token !== o.coreToken) return send(res, 401, { message: '401: Unauthorized' });
          // homeassistant/components/hassio/http.py: /api/hassio/<path> is forwarded to the Supervisor.
          if (url.pathname.startsWith('/api/hassio/')) {
            return await supervisor(method, url.pathname.slice('/api/hassio'.length), req, res);
          }
          return await core(method, url.pathname, req, res);
        }
        // supervisor/api/middleware/security.py: /supervisor/ping is unprotected; the rest needs the token.
        if (url.pathname !== '/supervisor/ping' && token !== o.supervisorToken) {
          res.writeHead(401, { 'content-type': 'text/plain' });
          return res.end('401: Unauthorized');
        }
        await supervisor(method, url.pathname, req, res);
      } catch (e) {
        const status = e instanceof HttpError ? e.status : 500;
        send(res, status, { result: 'error', message: (e as Error).message });
      }
    })();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    addons,
    backups,
    jobs,
    crashing,
    states,
    serviceCalls,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server?.closeAllConnections();
        server?.close(() => r());
      }),
  };
}

export function addon(slug: string, version: string, o: Partial<StandinAddon> = {}): StandinAddon {
  return {
    slug,
    name: slug,
    version,
    version_latest: version,
    state: 'started',
    watchdog: true,
    data: `${slug} data at ${version}`,
    ...o,
  };
}
