// What the rollout and the VPN migration controllers are alike in: an owner of deployments run as sense
// (the tracker's refresh) → plan (the owner's pure planner) → act, one tick at a time for every active
// owner (ControllerLoop: single-flight, one replica at a time, on a schedule). A subclass names its active
// owners, plans and acts; its deployments go through `this.tracker`.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { FleetStore } from '../store/fleet-store.js';
import type { OwnerKind } from '../store/schema.js';
import { ControllerLoop, stepEach, stepUntilWaiting } from './controller-loop.js';
import { DeploymentTracker, type TrackerMender } from './deployment-tracker.js';

export interface OwnerControllerDeps {
  store: FleetStore;
  mender: TrackerMender;
  clock: Clock;
  logger?: Logger;
  /** With PostgreSQL: take the advisory lock (default true there). */
  useAdvisoryLock?: boolean;
}

export interface OwnerControllerOptions<S> {
  kind: OwnerKind;
  /** The session advisory lock key (distinct per controller). */
  lockKey: number;
  /** For log lines, e.g. `rollout`, `vpn migration`. */
  what: string;
  /** The log field naming the owner, e.g. `rollout`, `migration`. */
  logKey: string;
  /** A step after which a pass stops (e.g. `pause`, `complete`). */
  stopsAfter: (s: S) => boolean;
}

const MAX_STEPS_PER_TICK = 50;

export abstract class OwnerController<S extends { kind: string }> {
  readonly #loop: ControllerLoop<{ ran: boolean; steps: S[] }>;
  protected readonly tracker: DeploymentTracker;
  /** Mender calls made (bench). */
  menderCalls = 0;

  constructor(
    private readonly base: OwnerControllerDeps,
    private readonly opts: OwnerControllerOptions<S>,
  ) {
    this.tracker = new DeploymentTracker({
      db: base.store.db,
      mender: base.mender,
      now: () => this.now(),
      count: () => void this.menderCalls++,
    });
    this.#loop = new ControllerLoop({
      run: async () =>
        stepEach(
          await this.activeIds(),
          (id) => this.step(id),
          (id, e) => this.base.logger?.warn({ err: e.message, [opts.logKey]: id }, `${opts.what} tick failed`),
        ),
      skipped: () => ({ ran: false, steps: [] }),
      store: base.store,
      lockKey: opts.lockKey,
      useAdvisoryLock: base.useAdvisoryLock,
      logger: base.logger,
      what: opts.what,
    });
  }

  protected get db() {
    return this.base.store.db;
  }

  protected now(): string {
    return this.base.clock.now().toISOString();
  }

  /** The owners a tick runs for. */
  protected abstract activeIds(): Promise<string[]>;
  /** Dry run: the steps the planner would take now. */
  abstract plan(id: string): Promise<S[]>;
  protected abstract act(id: string, s: S): Promise<void>;

  /** Run once for every active owner, or join the run in progress (ControllerLoop). */
  tick(): Promise<{ ran: boolean; steps: S[] }> {
    return this.#loop.tick();
  }

  /** Sense, plan, act for one owner until the plan only waits. Returns the steps taken. */
  step(id: string): Promise<S[]> {
    return stepUntilWaiting({
      refresh: () => this.refresh(id),
      plan: () => this.plan(id),
      act: (s) => this.act(id, s),
      stopsAfter: this.opts.stopsAfter,
      maxRounds: MAX_STEPS_PER_TICK,
    });
  }

  /** Sense: the owner's deployments (a subclass with a second owner kind refreshes that one too). */
  protected refresh(id: string): Promise<void> {
    return this.tracker.refresh({ kind: this.opts.kind, id });
  }

  /** Run now, then every `realIntervalMs` of real time (= the bridge clock's interval / speed). */
  start(realIntervalMs: number): void {
    this.#loop.start(realIntervalMs);
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
