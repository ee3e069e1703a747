// What the bridge's controllers (rollouts, the VPN migration) share about *running*: one tick at a time,
// one replica at a time, on a schedule, and the sense → plan → act pass. How a deployment goes from intent
// to finished is deployment-tracker.ts; what they decide stays in their own planners.
import { type Kysely, sql } from 'kysely';
import schedule from 'node-schedule';
import type { Logger } from '../../core/logger.js';
import type { FleetStore } from '../store/fleet-store.js';
import type { Database } from '../store/schema.js';

export interface ControllerLoopOptions<R> {
  /** One pass over everything the controller looks after. */
  run: () => Promise<R>;
  /** The answer of a tick another replica runs (it holds the lock). */
  skipped: () => R;
  store: FleetStore;
  /** The session advisory lock key of this controller (distinct per controller). */
  lockKey: number;
  /** With PostgreSQL: take the advisory lock (default true there; SQLite has one writer anyway). */
  useAdvisoryLock?: boolean;
  logger?: Logger;
  /** For the log line of a failed scheduled tick, e.g. `rollout`. */
  what: string;
}

/**
 * Single-flight: `tick()` while one runs joins it. Only the elected leader schedules ticks (lib/leader.ts);
 * a tick an API call asks for on another replica is fenced too: with PostgreSQL a tick first takes a
 * session advisory lock on a dedicated connection (`pg_try_advisory_lock`), and a replica that does not get
 * it skips the tick, so two bridges never both act (also not a deposed leader's tick still in flight).
 * `start` runs a tick now and then every interval after the previous one ended (never overlapping); `stop`
 * cancels the schedule at once (synchronously) and then waits for the tick in flight. A start after a stop
 * begins a new chain; a chain of an earlier start never schedules again (generation count).
 */
export class ControllerLoop<R> {
  #running: Promise<R> | undefined;
  #job: schedule.Job | undefined;
  #stopped = true;
  #generation = 0;

  constructor(private readonly opts: ControllerLoopOptions<R>) {}

  tick(): Promise<R> {
    this.#running ??= this.#locked().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #locked(): Promise<R> {
    const { store, lockKey } = this.opts;
    if (store.dialect !== 'postgres' || this.opts.useAdvisoryLock === false) return this.opts.run();
    // A session lock must be taken and released on one connection: hold one for the whole tick.
    return store.db.connection().execute(async (conn) => {
      // Scoped to the schema: bridges of two fleets in one database never skip each other's ticks.
      const got = await sql<{
        ok: boolean;
      }>`select pg_try_advisory_lock(${lockKey}, hashtext(current_schema())) as ok`.execute(conn);
      if (!got.rows[0]?.ok) return this.opts.skipped();
      try {
        return await this.opts.run();
      } finally {
        await sql`select pg_advisory_unlock(${lockKey}, hashtext(current_schema()))`.execute(conn);
      }
    });
  }

  start(realIntervalMs: number): void {
    this.#stopped = false;
    const generation = ++this.#generation;
    const loop = () => {
      if (this.#stopped || generation !== this.#generation) return;
      this.tick()
        .catch((e: unknown) => this.opts.logger?.warn({ err: (e as Error).message }, `${this.opts.what} tick failed`))
        .finally(() => {
          if (this.#stopped || generation !== this.#generation) return;
          this.#job = schedule.scheduleJob(new Date(Date.now() + realIntervalMs), loop);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#job?.cancel();
    await this.#running?.catch(() => undefined);
  }
}

export interface StepLoop<S extends { kind: string }> {
  /** Sense what changed outside (Mender) before planning. */
  refresh: () => Promise<void>;
  /** Load the facts and plan (pure). */
  plan: () => Promise<S[]>;
  act: (s: S) => Promise<void>;
  /** A step after which this pass stops (e.g. `pause`, `complete`). */
  stopsAfter: (s: S) => boolean;
  /** How many plan → act rounds at the most. */
  maxRounds?: number;
}

/** Sense, then plan and act until the plan only waits (or a stopping step). Returns the steps taken. */
export async function stepUntilWaiting<S extends { kind: string }>(loop: StepLoop<S>): Promise<S[]> {
  await loop.refresh();
  const taken: S[] = [];
  for (let i = 0; i < (loop.maxRounds ?? 50); i++) {
    const acting = (await loop.plan()).filter((s) => s.kind !== 'wait');
    if (acting.length === 0) break;
    for (const s of acting) await loop.act(s);
    taken.push(...acting);
    if (acting.some(loop.stopsAfter)) break;
  }
  return taken;
}

/** Run `step` for every owner; one owner's failure is logged and does not stop the others. */
export async function stepEach<S>(
  ids: string[],
  step: (id: string) => Promise<S[]>,
  onError: (id: string, e: Error) => void,
): Promise<{ ran: boolean; steps: S[] }> {
  const steps: S[] = [];
  for (const id of ids) {
    try {
      steps.push(...(await step(id)));
    } catch (e) {
      onError(id, e as Error);
    }
  }
  return { ran: true, steps };
}

/**
 * The latest bridge-clock time any rollout or VPN migration record carries (both run on that clock). An
 * accelerated clock (`clock.speed`) restarts here instead of at real time, so a restarted bridge does not
 * move back before its own records.
 */
export async function latestControllerTime(db: Kysely<Database>): Promise<Date | undefined> {
  const max = (table: 'rollouts' | 'vpn_migrations' | 'tracked_deployments' | 'tracked_outcomes') =>
    db
      .selectFrom(table)
      .select((eb) => eb.fn.max('updated_at').as('t'))
      .executeTakeFirst();
  const rows = await Promise.all([
    max('rollouts'),
    max('vpn_migrations'),
    max('tracked_deployments'),
    max('tracked_outcomes'),
    db
      .selectFrom('owner_events')
      .select((eb) => eb.fn.max('at').as('t'))
      .executeTakeFirst(),
  ]);
  const times = rows.map((r) => Date.parse(String(r?.t ?? ''))).filter((t) => !Number.isNaN(t));
  return times.length ? new Date(Math.max(...times)) : undefined;
}
