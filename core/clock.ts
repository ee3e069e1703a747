// Time as an explicit dependency: planners receive `now` in their facts; runners receive a Clock.

export interface Clock {
  now(): Date;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A clock that only moves when told to: for tests and simulations that must be exact. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { until: number; resolve: () => void }[] = [];

  constructor(start: Date | string = '2026-11-22T10:00:00Z') {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#sleepers.push({ until: this.#now + Math.max(0, ms), resolve });
      this.#wake();
    });
  }

  /** Move time forward and wake every sleeper whose time has come. */
  advance(ms: number): void {
    this.#now += ms;
    this.#wake();
  }

  set(to: Date | string): void {
    this.#now = new Date(to).getTime();
    this.#wake();
  }

  #wake(): void {
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
  }
}

/**
 * A clock running `factor` times faster than real time from `start` (the demo's accelerated day).
 * Sleeps are shortened by the same factor.
 */
export function scaledClock(factor: number, start: Date = new Date(), realNow: () => number = Date.now): Clock {
  if (!(factor > 0)) throw new RangeError('clock factor must be > 0');
  const realStart = realNow();
  const simStart = start.getTime();
  return {
    now: () => new Date(simStart + (realNow() - realStart) * factor),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms / factor)),
  };
}
