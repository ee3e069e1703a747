// Waiting on events, never on fixed sleeps: poll a predicate until it yields a value.

export interface WaitOptions {
  /** What is awaited, for the timeout message ("deployment success in statistics"). */
  describe: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Called on timeout to add context to the error (e.g. the request log). */
  diagnostics?: () => string | Promise<string>;
}

/**
 * Resolves with the first value of `predicate` that is neither `undefined`, `null` nor `false`.
 * A predicate that throws ends the wait at once (e.g. Daemon.assertRunning()); on timeout the
 * error names `describe`, the last value seen and the diagnostics.
 */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const intervalMs = opts.intervalMs ?? 100;
  const started = Date.now();
  let last: unknown;
  for (;;) {
    const value = await predicate();
    if (value !== undefined && value !== null && value !== false) return value;
    last = value;
    if (Date.now() - started >= timeoutMs) {
      const extra = opts.diagnostics ? `\n${await opts.diagnostics()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.describe} (last: ${String(last)})${extra}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
