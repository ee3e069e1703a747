// The audit trail of every deployment owner (rollouts, VPN migrations, later reverts): one table,
// `owner_events`, numbered per owner kind so a rollout's event ids stay its Server-Sent Events cursor.
import type { Kysely } from 'kysely';
import type { Database, OwnerKind } from '../store/schema.js';
import { parseJson } from './records.js';

export interface OwnerEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  device_id: string | null;
  reason: string | null;
  detail: unknown;
}

export interface NewOwnerEvent {
  kind: OwnerKind;
  ownerId: string;
  deviceId?: string | null;
  at: string;
  actor: string;
  action: string;
  reason?: string | null;
  detail?: unknown;
}

const ATTEMPTS = 8;

/** Append an event: the next id of its owner kind (two writers racing for one: the loser takes the next). */
export async function recordOwnerEvent(db: Kysely<Database>, e: NewOwnerEvent): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const last = await db
      .selectFrom('owner_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .where('owner_kind', '=', e.kind)
      .executeTakeFirst();
    const id = Number(last?.id ?? 0) + 1;
    try {
      await db
        .insertInto('owner_events')
        .values({
          owner_kind: e.kind,
          id,
          owner_id: e.ownerId,
          device_id: e.deviceId ?? null,
          at: e.at,
          actor: e.actor,
          action: e.action,
          reason: e.reason ?? null,
          detail_json: e.detail === undefined ? null : JSON.stringify(e.detail),
        })
        .execute();
      return id;
    } catch (err) {
      if (attempt >= ATTEMPTS || !uniqueViolation(err)) throw err;
    }
  }
}

function uniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint/.test(String(e.message));
}

/** An owner's events after `afterId`, oldest first. */
export async function listOwnerEvents(
  db: Kysely<Database>,
  kind: OwnerKind,
  ownerId: string,
  afterId = 0,
): Promise<OwnerEvent[]> {
  const rows = await db
    .selectFrom('owner_events')
    .selectAll()
    .where('owner_kind', '=', kind)
    .where('owner_id', '=', ownerId)
    .where('id', '>', afterId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    device_id: r.device_id,
    reason: r.reason,
    detail: parseJson(r.detail_json),
  }));
}
