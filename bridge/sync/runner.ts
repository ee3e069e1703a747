// Single-flight sync runner with a schedule.
//
// Invariants:
// * At most one sync runs at a time in this process. `syncNow()` while one runs returns that run's
//   promise ("join"), it never starts a second one.
// * A full resync is due when the last one is older than `fullEveryMs`; a scheduled tick then runs a
//   full sync instead of an incremental one. A requested full sync while an incremental runs is queued
//   to run right after it (one queued request at most).
// * Every `reconcileEvery`-th scheduled incremental sync is a reconcile run instead (the whole inventory,
//   to catch ops' tag and group changes that do not move `updated_ts`); a full resync resets the count.
//   0 turns reconcile runs off (only full resyncs catch those changes then).
// * A failing sync is recorded (metrics, log) and the schedule goes on; it never throws out of a tick.
// * stop() cancels the schedule at once (synchronously) and then waits for the running sync. Only the
//   elected leader schedules syncs (lib/leader.ts); a start after a stop begins a new schedule chain, and a
//   chain of an earlier start never schedules again (generation count).
import schedule from 'node-schedule';
import type { Logger } from '../../core/logger.js';
import { type SyncDeps, type SyncKind, type SyncReport, runSync } from './sync.js';

export interface SyncMetrics {
  runs: Record<SyncKind, number>;
  errors: number;
  lastReport?: SyncReport;
  lastError?: string;
  lastDurationMs?: number;
  durationsMs: number[];
  /** Failed syncs since the last good one (issue #16 item 2: /readyz and /metrics report it). */
  consecutiveErrors?: number;
  /** When the running sync started (epoch ms); undefined when none runs. */
  runningSinceMs?: number;
  /** A sync running longer than this is aborted (and reported stuck should the abort not end it). */
  deadlineMs?: number;
}

/**
 * Which sync a scheduled tick runs: a full resync when the last one is `fullEveryMs` old; else a
 * reconcile once `reconcileEvery` incremental runs went by since the last reconcile or full one (0 = never);
 * else an incremental one.
 */
export function scheduledKind(f: {
  nowMs: number;
  lastFullMs: number;
  fullEveryMs: number;
  incrementalsSinceReconcile: number;
  reconcileEvery: number;
}): SyncKind {
  if (f.nowMs - f.lastFullMs >= f.fullEveryMs) return 'full';
  if (f.reconcileEvery > 0 && f.incrementalsSinceReconcile >= f.reconcileEvery) return 'reconcile';
  return 'incremental';
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

export class SyncRunner {
  readonly metrics: SyncMetrics = { runs: { incremental: 0, reconcile: 0, full: 0 }, errors: 0, durationsMs: [] };
  #running: Promise<SyncReport> | undefined;
  #queuedFull: Promise<SyncReport> | undefined;
  #queuedKind: Exclude<SyncKind, 'incremental'> | undefined;
  #job: schedule.Job | undefined;
  #lastFull = 0;
  /** Scheduled incremental syncs since the last reconcile or full one. */
  #sinceReconcile = 0;
  #stopped = false;
  #generation = 0;

  constructor(
    private readonly deps: SyncDeps,
    private readonly settings: {
      intervalMs: number;
      fullEveryMs: number;
      reconcileEvery?: number;
      logger?: Logger;
      /** A sync running longer is aborted and reported failed; default 15 min. */
      deadlineMs?: number;
    },
  ) {
    this.metrics.deadlineMs = settings.deadlineMs ?? 15 * 60_000;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Start a sync now, or join the one running (a full request waits for it, then runs once). */
  syncNow(kind: SyncKind = 'incremental'): Promise<SyncReport> {
    if (!this.#running) return this.#begin(kind);
    if (kind === 'incremental') return this.#running;
    // One queued run at most: a full one covers a reconcile asked meanwhile.
    if (kind === 'full') this.#queuedKind = 'full';
    else this.#queuedKind ??= kind;
    this.#queuedFull ??= this.#running
      .catch(() => undefined)
      .then(() => {
        const next = this.#queuedKind ?? 'full';
        this.#queuedFull = undefined;
        this.#queuedKind = undefined;
        return this.syncNow(next);
      });
    return this.#queuedFull;
  }

  #begin(kind: SyncKind): Promise<SyncReport> {
    this.metrics.runningSinceMs = Date.now();
    const run = this.#run(kind).finally(() => {
      this.#running = undefined;
      this.metrics.runningSinceMs = undefined;
    });
    this.#running = run;
    return run;
  }

  async #run(kind: SyncKind): Promise<SyncReport> {
    const log = this.settings.logger;
    const deadlineMs = this.metrics.deadlineMs ?? 15 * 60_000;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // The overall deadline (issue #16 item 2): at it the run is aborted — no further Mender call or store
    // write starts — and reported failed at once, even while a call is still waiting for its own deadline.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`sync aborted: still running after its deadline of ${formatMs(deadlineMs)}`);
        abort.abort(err);
        reject(err);
      }, deadlineMs);
      timer.unref();
    });
    try {
      const run = runSync(this.deps, kind, abort.signal);
      run.catch(() => undefined);
      const report = await Promise.race([run, deadline]);
      this.metrics.runs[kind]++;
      this.metrics.lastReport = report;
      this.metrics.lastDurationMs = report.duration_ms;
      this.metrics.durationsMs = [...this.metrics.durationsMs.slice(-99), report.duration_ms];
      if (kind === 'full') this.#lastFull = Date.parse(report.started_at);
      if (kind !== 'incremental') this.#sinceReconcile = 0;
      this.metrics.consecutiveErrors = 0;
      log?.info({ sync: report }, 'sync done');
      return report;
    } catch (e) {
      this.metrics.errors++;
      this.metrics.consecutiveErrors = (this.metrics.consecutiveErrors ?? 0) + 1;
      this.metrics.lastError = e instanceof Error ? e.message : String(e);
      log?.warn({ err: this.metrics.lastError, kind }, 'sync failed');
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run now, then every interval. The first run of a process is a full resync. */
  start(): void {
    this.#stopped = false;
    this.#tick(++this.#generation);
  }

  #tick(generation: number): void {
    if (this.#stopped || generation !== this.#generation) return;
    const now = this.deps.now().getTime();
    const kind = scheduledKind({
      nowMs: now,
      lastFullMs: this.#lastFull,
      fullEveryMs: this.settings.fullEveryMs,
      incrementalsSinceReconcile: this.#sinceReconcile,
      reconcileEvery: this.settings.reconcileEvery ?? 0,
    });
    if (kind === 'incremental') this.#sinceReconcile++;
    this.syncNow(kind)
      .catch(() => undefined)
      .finally(() => {
        if (this.#stopped || generation !== this.#generation) return;
        this.#job = schedule.scheduleJob(new Date(Date.now() + this.settings.intervalMs), () => this.#tick(generation));
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#job?.cancel();
    await this.#running?.catch(() => undefined);
  }
}
