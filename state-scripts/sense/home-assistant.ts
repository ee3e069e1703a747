// Home Assistant REST: `GET <url>/api/states/<entity_id>` with a long-lived access token (Bearer),
// answering {entity_id, state, attributes, last_changed, last_updated}. States are strings;
// "unavailable" and "unknown" mean the sensor has no value. The token is read from `token_file`
// and never logged.
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { httpFetch } from '../../core/http-request.js';

const EntityState = z.looseObject({
  entity_id: z.string(),
  state: z.string(),
  attributes: z.optional(z.record(z.string(), z.unknown())),
  last_changed: z.optional(z.string()),
});
export type EntityState = z.infer<typeof EntityState>;

export type HaResult = { ok: true; entity: EntityState } | { ok: false; problem: string };

export class HomeAssistant {
  readonly #url: string;
  readonly #tokenFile: string;
  readonly #timeoutMs: number;
  #token: string | null = null;

  constructor(o: { url: string; token_file: string; timeout_ms: number }) {
    this.#url = o.url.replace(/\/+$/, '');
    this.#tokenFile = o.token_file;
    this.#timeoutMs = o.timeout_ms;
  }

  #readToken(): string | null {
    try {
      return readFileSync(this.#tokenFile, 'utf8').trim() || null;
    } catch {
      return null;
    }
  }

  async state(entityId: string): Promise<HaResult> {
    this.#token ??= this.#readToken();
    if (!this.#token) return { ok: false, problem: `no token in ${this.#tokenFile}` };
    const r = await httpFetch(`${this.#url}/api/states/${encodeURIComponent(entityId)}`, {
      timeoutMs: this.#timeoutMs,
      headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
    });
    if (!r.ok) return { ok: false, problem: `Home Assistant: ${r.error}` };
    if (r.status === 401) {
      this.#token = null; // re-read next time: the token may have been rotated
      return { ok: false, problem: 'Home Assistant refused the token (401)' };
    }
    if (r.status !== 200) return { ok: false, problem: `Home Assistant ${entityId}: HTTP ${r.status}` };
    let raw: unknown;
    try {
      raw = JSON.parse(r.body);
    } catch {
      return { ok: false, problem: `Home Assistant ${entityId}: not JSON` };
    }
    const e = EntityState.safeParse(raw);
    return e.success
      ? { ok: true, entity: e.data }
      : { ok: false, problem: `Home Assistant ${entityId}: unexpected answer` };
  }
}

export type HaPostResult = { ok: true; status: number } | { ok: false; problem: string };

/** POST JSON to HA Core (`/api/states/<id>`, `/api/services/<domain>/<service>`); never throws. */
export async function haPost(
  ha: { url: string; token: string | null; timeoutMs: number },
  path: string,
  body: unknown,
): Promise<HaPostResult> {
  if (!ha.token) return { ok: false, problem: 'no Home Assistant token' };
  const r = await httpFetch(`${ha.url.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    timeoutMs: ha.timeoutMs,
    headers: { authorization: `Bearer ${ha.token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) return { ok: false, problem: `Home Assistant: ${r.error}` };
  if (r.status === 401) return { ok: false, problem: 'Home Assistant refused the token (401)' };
  // rest.md: POST /api/states answers 200 (updated) or 201 (created); a service call 200.
  if (r.status !== 200 && r.status !== 201) return { ok: false, problem: `Home Assistant ${path}: HTTP ${r.status}` };
  return { ok: true, status: r.status };
}

/** The token in `token_file` (trimmed), or null. */
export function readHaToken(tokenFile: string): string | null {
  try {
    return readFileSync(tokenFile, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

const NO_VALUE = new Set(['unavailable', 'unknown', 'none', '']);

/** A numeric state, or null ("unavailable", "unknown", not a number). */
export function entityNumber(e: EntityState): number | null {
  if (NO_VALUE.has(e.state.toLowerCase())) return null;
  const n = Number(e.state);
  return Number.isFinite(n) ? n : null;
}

/** A binary state: on/off, true/false, home/not_home-like values are not guessed (null). */
export function entityBool(e: EntityState): boolean | null {
  const s = e.state.toLowerCase();
  if (s === 'on' || s === 'true' || s === '1') return true;
  if (s === 'off' || s === 'false' || s === '0') return false;
  return null;
}

/** Speed entity → m/s using its unit (km/h, mph, m/s, kn); null when the unit is unknown. */
export function entitySpeedMps(e: EntityState): number | null {
  const v = entityNumber(e);
  if (v === null) return null;
  const u = e.attributes?.unit_of_measurement;
  const unit = typeof u === 'string' ? u.toLowerCase() : 'm/s';
  const factor: Record<string, number> = { 'm/s': 1, 'km/h': 1 / 3.6, mph: 0.44704, kn: 0.514444, kt: 0.514444 };
  const f = factor[unit];
  return f === undefined ? null : v * f;
}
