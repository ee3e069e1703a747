// From movement samples to `stationary_since`, deterministic (no clock inside: every call says when).
// Hysteresis is one-sided on purpose: a single sample above the movement threshold (a bump, a door,
// a lorry passing) resets the still period, and only an unbroken run of still samples lets it grow
// to the gates' `stationary_minutes`. A gap in the samples longer than `staleAfterMs` breaks the run
// too, because nobody watched the van meanwhile.

export type MotionView = { known: true; stationary_since: Date | null; at: Date } | { known: false; problem: string };

export class StationaryTracker {
  readonly staleAfterMs: number;
  #stillSince: Date | null = null;
  #lastGood: Date | null = null;
  #problem: string | null = null;

  /** `seed`: a fresh reading from before a restart, so a restart does not reset a long still period. */
  constructor(staleAfterMs: number, seed?: { stationary_since: Date | null; at: Date }) {
    this.staleAfterMs = staleAfterMs;
    if (seed) {
      this.#stillSince = seed.stationary_since;
      this.#lastGood = seed.at;
    }
  }

  observe(at: Date, moving: boolean): void {
    if (this.#lastGood && at.getTime() - this.#lastGood.getTime() > this.staleAfterMs) this.#stillSince = null;
    if (moving) this.#stillSince = null;
    else this.#stillSince ??= at;
    this.#lastGood = at;
    this.#problem = null;
  }

  /**
   * For sources that know since when they have been still (a Home Assistant binary sensor's
   * `last_changed`): take their word, bounded by `at`.
   */
  report(at: Date, stationarySince: Date | null): void {
    this.#stillSince = stationarySince === null ? null : new Date(Math.min(stationarySince.getTime(), at.getTime()));
    this.#lastGood = at;
    this.#problem = null;
  }

  /** A failed sample: the view turns unknown once no good sample is fresh. */
  fault(problem: string): void {
    this.#problem = problem;
  }

  view(now: Date): MotionView {
    if (!this.#lastGood) return { known: false, problem: this.#problem ?? 'no samples yet' };
    const age = now.getTime() - this.#lastGood.getTime();
    if (age > this.staleAfterMs) {
      return { known: false, problem: this.#problem ?? `no sample for ${Math.round(age / 1000)} s` };
    }
    return { known: true, stationary_since: this.#stillSince, at: this.#lastGood };
  }
}
