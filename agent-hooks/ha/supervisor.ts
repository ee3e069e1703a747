// The Home Assistant Supervisor REST API, as far as the vancore-ha module uses it. Endpoints and
// shapes follow the Supervisor developer docs (developers.home-assistant docs/api/supervisor/
// endpoints.md) and the Supervisor's code where the docs are thin:
//   * every answer is `{"result":"ok","data":{…}}`, an error `{"result":"error","message":"…"}` with
//     status 400 (404 for an unknown add-on or backup in newer Supervisors): supervisor/api/utils.py
//     api_process / api_return_error;
//   * `POST /store/addons/<slug>/update` takes only `{backup?: bool}` (store.py SCHEMA_UPDATE, voluptuous:
//     any other key is "extra keys not allowed") and updates to the store's `version_latest`: there is
//     no version parameter, so the module checks that the store offers the artifact's version;
//   * `POST /backups/new/partial {name, addons}` answers `{slug, job_id}` once the backup is written;
//     `POST /backups/<b>/restore/partial {addons}` answers once the restore ran (backups.py);
//   * `GET /jobs/info` lists the Supervisor's jobs (`reference` = the add-on slug, `done`) (jobs.py).
// Reached as `http://supervisor` with $SUPERVISOR_TOKEN, or through HA Core's `/api/hassio` proxy with
// a long-lived token of an admin user. The token never appears in an error or a log line.
import * as z from 'zod/mini';
import { VanError } from '../../core/errors.js';

export const AddonInfo = z.looseObject({
  slug: z.string(),
  name: z.optional(z.string()),
  /** Installed version; null when the add-on is not installed. */
  version: z.nullable(z.string()),
  version_latest: z.optional(z.nullable(z.string())),
  update_available: z.optional(z.boolean()),
  /** started | stopped | startup | error | unknown (null when not installed). */
  state: z.nullable(z.string()),
  watchdog: z.optional(z.boolean()),
});
export type AddonInfo = z.infer<typeof AddonInfo>;

export const BackupEntry = z.looseObject({
  slug: z.string(),
  name: z.optional(z.string()),
  content: z.optional(z.looseObject({ addons: z.optional(z.array(z.string())) })),
});
export type BackupEntry = z.infer<typeof BackupEntry>;

export const SupervisorJob = z.looseObject({
  uuid: z.string(),
  name: z.optional(z.nullable(z.string())),
  reference: z.optional(z.nullable(z.string())),
  done: z.optional(z.nullable(z.boolean())),
});
export type SupervisorJob = z.infer<typeof SupervisorJob>;

export interface Supervisor {
  ping(): Promise<void>;
  addonInfo(slug: string): Promise<AddonInfo>;
  reloadStore(): Promise<void>;
  update(slug: string): Promise<void>;
  backupPartial(name: string, slug: string): Promise<string>;
  listBackups(): Promise<BackupEntry[]>;
  restorePartial(backup: string, slug: string): Promise<void>;
  removeBackup(backup: string): Promise<void>;
  /** Jobs that are not done yet and concern this add-on. */
  runningJobs(slug: string): Promise<SupervisorJob[]>;
}

/** The Supervisor answered with an error envelope (the request reached it and was refused). */
export class SupervisorRefused extends VanError {
  constructor(
    readonly status: number,
    what: string,
    message: string,
  ) {
    super('TOOL_FAILED', `Supervisor ${what}: ${message} (HTTP ${status})`);
  }
}

const Envelope = z.looseObject({
  result: z.enum(['ok', 'error']),
  data: z.optional(z.unknown()),
  message: z.optional(z.nullable(z.string())),
});

export interface SupervisorOptions {
  url: string;
  token: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export function supervisorClient(o: SupervisorOptions): Supervisor {
  const base = o.url.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const what = `${method} ${path}`;
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${o.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new VanError('TOOL_FAILED', `Supervisor unreachable at ${base} (${what}: ${cause})`);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new VanError('TOOL_FAILED', `Supervisor refused the token (${what}: HTTP ${res.status})`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new VanError('TOOL_FAILED', `Supervisor ${what}: not JSON (HTTP ${res.status})`);
    }
    const env = Envelope.safeParse(raw);
    if (!env.success) throw new VanError('TOOL_FAILED', `Supervisor ${what}: unexpected answer (HTTP ${res.status})`);
    if (env.data.result === 'error' || res.status >= 400) {
      throw new SupervisorRefused(res.status, what, (env.data.message ?? 'unknown error').slice(0, 300));
    }
    return env.data.data ?? {};
  }

  const parse = <T>(schema: z.ZodMiniType<T>, raw: unknown, what: string): T => {
    const r = schema.safeParse(raw);
    if (!r.success) throw new VanError('TOOL_FAILED', `Supervisor ${what}: unexpected answer`);
    return r.data;
  };
  const seg = encodeURIComponent;

  return {
    async ping() {
      await call('GET', '/supervisor/ping');
    },
    async addonInfo(slug) {
      return parse(AddonInfo, await call('GET', `/addons/${seg(slug)}/info`), `add-on ${slug} info`);
    },
    async reloadStore() {
      await call('POST', '/store/reload', {});
    },
    async update(slug) {
      await call('POST', `/store/addons/${seg(slug)}/update`, { backup: false });
    },
    async backupPartial(name, slug) {
      const data = parse(
        z.looseObject({ slug: z.string() }),
        await call('POST', '/backups/new/partial', { name, addons: [slug] }),
        'backup',
      );
      return data.slug;
    },
    async listBackups() {
      return parse(z.looseObject({ backups: z.array(BackupEntry) }), await call('GET', '/backups'), 'backups').backups;
    },
    async restorePartial(backup, slug) {
      await call('POST', `/backups/${seg(backup)}/restore/partial`, { addons: [slug] });
    },
    async removeBackup(backup) {
      await call('DELETE', `/backups/${seg(backup)}`);
    },
    async runningJobs(slug) {
      const data = parse(
        z.looseObject({ jobs: z._default(z.array(SupervisorJob), []) }),
        await call('GET', '/jobs/info'),
        'jobs',
      );
      const flat: SupervisorJob[] = [];
      const walk = (jobs: unknown[]) => {
        for (const j of jobs) {
          const r = SupervisorJob.safeParse(j);
          if (r.success) flat.push(r.data);
          const kids = (j as { child_jobs?: unknown }).child_jobs;
          if (Array.isArray(kids)) walk(kids);
        }
      };
      walk(data.jobs);
      return flat.filter((j) => j.reference === slug && j.done !== true);
    },
  };
}
