// Home Assistant as the van's screen (issue #21, docs/home-assistant.md). The gates read presence and
// consent from HA and show what they decided there:
//   * `sensor.vancore_update` (POST /api/states/<id>, HA Core REST API): state idle | waiting |
//     downloading | scheduled | installing | installed | failed, with attributes for the people in the
//     van (pending release, size, expected duration, what will be unavailable, why it waits);
//   * persistent notifications (POST /api/services/persistent_notification/create) before an install
//     that interrupts services and with the result after.
// HA unreachable never blocks or breaks an update: every call here is bounded by the configured
// timeout, never throws, and a failure is logged once (until HA answers again).
// Everything is read and written with node: built-ins (gates start fast: no axios on this path).
import { join } from 'node:path';
import type { DeviceConfig } from '../../core/config/device-config.js';
import type { GateDecision } from '../../core/schemas/gate.js';
import { readLastUpdate } from '../../core/versions.js';
import { readStateJson, STATE_FILES, writeStateJson } from '../../core/state-dir.js';
import type { Log } from '../log.js';
import {
  EMPTY_BUDGET,
  nextPostponeBudget,
  type Binary,
  type PostponeBudget,
  type PresenceFacts,
} from '../policy/presence.js';
import { entityBool, haPost, HomeAssistant, readHaToken } from '../sense/home-assistant.js';

type HaConfig = NonNullable<DeviceConfig['sensors']['home_assistant']>;

export const POSTPONE_FILE = STATE_FILES.haPostpone.path;
export const NOTICE_FILE = STATE_FILES.haNotice.path;
export const PUBLISH_FILE = STATE_FILES.haPublish.path;

/** The record, or undefined when missing or unusable: these records only steer what the screen shows. */
function readJson(path: string): unknown {
  const read = readStateJson(path, { maxBytes: STATE_FILES.haPostpone.maxBytes });
  return read.status === 'ok' ? read.value : undefined;
}

/** Best effort: these records are for the screen; a write that fails must not fail the gate. */
function writeJsonAtomic(path: string, value: unknown): void {
  try {
    writeStateJson(path, value);
  } catch {
    // the state dir is not writable: the next run starts from what is there
  }
}

function readBudget(stateDir: string): PostponeBudget {
  const raw = readJson(join(stateDir, POSTPONE_FILE)) as Partial<PostponeBudget> | undefined;
  if (!raw || typeof raw.count !== 'number') return EMPTY_BUDGET;
  return {
    count: raw.count,
    first_at: typeof raw.first_at === 'string' ? raw.first_at : null,
    last_press: typeof raw.last_press === 'string' ? raw.last_press : null,
  };
}

export interface SensedPresence {
  facts: PresenceFacts;
  /** Keep the budget this run computed (the bundled gates; `gate check` only reads). */
  save(): void;
}

/** Presence and consent from HA, when any of those entities is configured; else undefined. */
export async function sensePresence(
  cfg: HaConfig | null,
  stateDir: string,
  now: Date,
): Promise<SensedPresence | undefined> {
  const e = cfg?.entities;
  if (!cfg || !e || (!e.occupied && !e.sleeping && !e.heating && !e.postpone)) return undefined;
  const ha = new HomeAssistant(cfg);
  const binary = async (id: string | undefined): Promise<Binary> => {
    if (!id) return undefined;
    const r = await ha.state(id);
    return r.ok ? entityBool(r.entity) : null;
  };
  const postponeState = async () => {
    if (!e.postpone) return undefined;
    const r = await ha.state(e.postpone);
    if (!r.ok) return null;
    const on = entityBool(r.entity);
    return on === null ? null : { on, changed_at: r.entity.last_changed ?? null };
  };
  const [occupied, sleeping, heating, postpone, last] = await Promise.all([
    binary(e.occupied),
    binary(e.sleeping),
    binary(e.heating),
    postponeState(),
    readLastUpdate(stateDir),
  ]);
  const lastEnd = last.value && last.value.status !== 'in_progress' ? last.value.at : null;
  const budget = nextPostponeBudget({ now, postpone, budget: readBudget(stateDir), last_update_end: lastEnd });
  return {
    facts: {
      now,
      occupied,
      sleeping,
      heating,
      postpone,
      budget,
      limits: cfg.postpone_budget,
      last_update_end: lastEnd,
    },
    save: () => writeJsonAtomic(join(stateDir, POSTPONE_FILE), budget),
  };
}

/** What an update of a component takes away while it installs, and for about how long (minutes). */
export const IMPACT: Readonly<Record<string, { unavailable: string[]; minutes: number }>> = {
  platform: { unavailable: ['VanCore hub services'], minutes: 10 },
  app: { unavailable: ['the VanCore app'], minutes: 5 },
  ha_addons: { unavailable: ['Home Assistant add-ons being updated'], minutes: 5 },
  config: { unavailable: ['services whose settings change'], minutes: 2 },
  vpn: { unavailable: ['remote support access'], minutes: 2 },
};

export type ScreenState = 'idle' | 'waiting' | 'downloading' | 'scheduled' | 'installing' | 'installed' | 'failed';

/** Pure: the sensor state and attributes for a gate decision. */
export function screenFor(
  d: Pick<GateDecision, 'phase' | 'verdict' | 'reasons' | 'artifact' | 'facts'>,
  o: { size_bytes?: number | null; validation_seconds?: number } = {},
): { state: ScreenState; attributes: Record<string, unknown> } {
  const a = d.artifact;
  const impact = a ? IMPACT[a.component] : undefined;
  const waiting = d.reasons.filter((r) => r.code !== 'conditions_met' && r.code !== 'validation_passed');
  let state: ScreenState;
  if (d.phase === 'Download_Enter') state = d.verdict === 'proceed' ? 'downloading' : 'waiting';
  else if (d.phase === 'ArtifactInstall_Enter') {
    state =
      d.verdict === 'proceed'
        ? 'installing'
        : d.verdict === 'fail'
          ? 'failed'
          : waiting.length === 1 && waiting[0]?.code === 'notice_pending'
            ? 'scheduled'
            : 'waiting';
  } else state = d.verdict === 'proceed' ? 'installed' : d.verdict === 'fail' ? 'failed' : 'installing';
  const expected = d.facts.expected_wait;
  return {
    state,
    attributes: {
      friendly_name: 'VanCore update',
      icon: 'mdi:update',
      pending_release: a ? (a.name ?? `${a.component} ${a.version}`) : null,
      component: a?.component ?? null,
      version: a?.version ?? null,
      size_bytes: o.size_bytes ?? null,
      expected_duration_min: impact ? impact.minutes + Math.ceil((o.validation_seconds ?? 0) / 60) : null,
      unavailable: impact?.unavailable ?? [],
      why_waiting: state === 'waiting' || state === 'scheduled' ? waiting.map((r) => r.message) : [],
      reason_codes: waiting.map((r) => r.code),
      ...(typeof expected === 'string' ? { expected_wait: expected } : {}),
      gate_phase: d.phase,
    },
  };
}

/** HA publishing for one gate run: the sensor, notifications, and the one log line when HA is away. */
export class VanScreen {
  readonly #cfg: HaConfig;
  readonly #stateDir: string;
  readonly #log: Log;
  readonly #token: string | null;

  private constructor(cfg: HaConfig, stateDir: string, log: Log) {
    this.#cfg = cfg;
    this.#stateDir = stateDir;
    this.#log = log;
    this.#token = readHaToken(cfg.token_file);
  }

  /** null when HA is not configured or publishing is off. */
  static for(config: Readonly<DeviceConfig>, stateDir: string, log: Log): VanScreen | null {
    const cfg = config.sensors.home_assistant;
    return cfg && cfg.publish.enabled ? new VanScreen(cfg, stateDir, log) : null;
  }

  get noticeSeconds(): number {
    return this.#cfg.publish.notice_minutes * 60;
  }

  async #post(path: string, body: unknown): Promise<boolean> {
    const r = await haPost({ url: this.#cfg.url, token: this.#token, timeoutMs: this.#cfg.timeout_ms }, path, body);
    const marker = join(this.#stateDir, PUBLISH_FILE);
    const was = readJson(marker) as { unreachable_since?: string } | undefined;
    if (r.ok) {
      if (was?.unreachable_since) writeJsonAtomic(marker, {});
      return true;
    }
    if (!was?.unreachable_since) {
      this.#log.warn({ problem: r.problem }, 'Home Assistant is not taking updates; the update goes on without it');
      writeJsonAtomic(marker, { unreachable_since: new Date().toISOString(), problem: r.problem });
    }
    return false;
  }

  publish(d: Parameters<typeof screenFor>[0], o?: Parameters<typeof screenFor>[1]): Promise<boolean> {
    const s = screenFor(d, o);
    return this.#post(`/api/states/${this.#cfg.publish.entity_id}`, s);
  }

  notify(notification_id: string, title: string, message: string): Promise<boolean> {
    return this.#post('/api/services/persistent_notification/create', { notification_id, title, message });
  }

  /** When the notice for this artifact was shown (null = not yet). */
  noticeGivenAt(artifact: string): string | null {
    const raw = readJson(join(this.#stateDir, NOTICE_FILE)) as { artifact?: string; at?: string } | undefined;
    return raw?.artifact === artifact && typeof raw.at === 'string' ? raw.at : null;
  }

  recordNotice(artifact: string, at: Date): void {
    writeJsonAtomic(join(this.#stateDir, NOTICE_FILE), { artifact, at: at.toISOString() });
  }
}

/** "14:32" in the van's zone (or UTC when the zone is "local" and unknown to Intl). */
export function clockTime(at: Date, timezone: string): string {
  const tz = timezone === 'local' ? undefined : timezone;
  return new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    ...(tz ? { timeZone: tz } : {}),
  }).format(at);
}
